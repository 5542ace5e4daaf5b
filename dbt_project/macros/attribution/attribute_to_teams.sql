{#- Attribution through the person (DESIGN.md §3): one row per fact and (tree, team) its
    person belonged to at the event's time.

    `facts` is a CTE or relation with the fact's key columns, `tool` and `account` (already
    through account_key) and `event_at` (UTC timestamp). An account resolves through
    dim_identity (bots and unresolved accounts give no row); membership holds when
    valid_from <= event_at < valid_to, with a null valid_from meaning "from the start of
    history" and a null valid_to "still a member". A person in two teams gives two rows. -#}
{% macro attribute_to_teams(facts, keys, event_column='event_at') -%}
select
    {% for k in keys %}f.{{ k }},
    {% endfor -%}
    m.tree,
    m.team_id,
    i.developer_id,
    f.event_at as {{ event_column }}
from {{ facts }} as f
inner join {{ ref('dim_identity') }} as i
    on i.tool = f.tool
   and i.account = f.account
   and not i.is_bot
   and i.developer_id is not null
inner join {{ ref('bridge_team_membership') }} as m
    on m.developer_id = i.developer_id
   and {{ effective_at('f.event_at', 'm.valid_from', 'm.valid_to') }}
where f.event_at is not null
{%- endmacro %}
