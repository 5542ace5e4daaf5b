-- When each issue joined or left each sprint, from the Jira changelog's Sprint items
-- ("51" -> "51, 52": added to 52). An issue created straight into a sprint has no
-- changelog item for it: it joins at creation (the sprint is in its Sprint field with no
-- event, or the first event for that sprint is a removal).
with issues as (

    select issue_id, created_at from {{ ref('stg_jira__issues') }}
    where not is_deleted

),

items as (

    select c.changelog_item_id, c.issue_id, c.changed_at, c.history_id, c.item_index, c.from_value, c.to_value
    from {{ ref('stg_jira__issue_changelogs') }} as c
    inner join issues as i
        on i.issue_id = c.issue_id
    where c.is_sprint_change and not c.is_deleted

),

from_ids as (

    select changelog_item_id, issue_id, changed_at, history_id, item_index,
           cast(trim(sprint_text) as bigint) as sprint_id
    from (
        select changelog_item_id, issue_id, changed_at, history_id, item_index,
               {{ split_to_rows('from_value') }} as sprint_text
        from items
        where from_value is not null
    ) as s
    where trim(sprint_text) <> ''

),

to_ids as (

    select changelog_item_id, issue_id, changed_at, history_id, item_index,
           cast(trim(sprint_text) as bigint) as sprint_id
    from (
        select changelog_item_id, issue_id, changed_at, history_id, item_index,
               {{ split_to_rows('to_value') }} as sprint_text
        from items
        where to_value is not null
    ) as s
    where trim(sprint_text) <> ''

),

changed as (

    select t.issue_id, t.sprint_id, t.changed_at as event_at, 'added' as event_type, t.history_id, t.item_index
    from to_ids as t
    where not exists (select 1 from from_ids as f
                      where f.changelog_item_id = t.changelog_item_id and f.sprint_id = t.sprint_id)

    union all

    select f.issue_id, f.sprint_id, f.changed_at, 'removed', f.history_id, f.item_index
    from from_ids as f
    where not exists (select 1 from to_ids as t
                      where t.changelog_item_id = f.changelog_item_id and t.sprint_id = f.sprint_id)

),

first_event as (

    select issue_id, sprint_id, event_type
    from (
        select issue_id, sprint_id, event_type,
               row_number() over (partition by issue_id, sprint_id order by event_at, history_id, item_index) as rn
        from changed
    ) as e
    where rn = 1

),

at_creation as (

    -- first event for the sprint is a removal: it was there from the start
    select f.issue_id, f.sprint_id
    from first_event as f
    where f.event_type = 'removed'

    union

    -- in the Sprint field now, never added by a change
    select s.issue_id, s.sprint_id
    from {{ ref('stg_jira__issue_sprints') }} as s
    inner join issues as i
        on i.issue_id = s.issue_id
    where not s.is_deleted
      and not exists (select 1 from changed as c where c.issue_id = s.issue_id and c.sprint_id = s.sprint_id)

)

select issue_id, sprint_id, event_at, event_type, history_id, item_index
from changed

union all

select a.issue_id, a.sprint_id, i.created_at, 'added', cast(null as {{ dbt.type_string() }}), cast(-1 as bigint)
from at_creation as a
inner join issues as i
    on i.issue_id = a.issue_id
