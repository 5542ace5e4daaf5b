-- Every Jira issue's business-alignment category (alignment profile). An issue's own
-- category is the highest-ranked (lowest rank number) category one of whose rules it
-- matches; a rule matches when each of its criteria holds, a criterion when the issue has
-- any of its values (case-insensitive). Then inheritance: an issue under an epic takes the
-- epic's own category when the epic has one; a sub-task takes its parent's; otherwise its
-- own; otherwise the profile's uncategorized name.
with issues as (

    select * from {{ ref('int_jira__issues') }}

),

attributes as (

    select issue_id, 'issue_type' as criterion, lower(issue_type) as value from issues where issue_type is not null
    union all
    select issue_id, 'epic', lower(epic_issue_key) from issues where epic_issue_key is not null
    union all
    select issue_id, 'parent', lower(parent_issue_key) from issues where parent_issue_key is not null
    union all
    select issue_id, 'project', lower(project_id) from issues where project_id is not null
    union all
    select l.issue_id, 'label', lower(l.label_name)
    from {{ ref('stg_jira__issue_labels') }} as l
    where not l.is_deleted and l.label_name is not null
    union all
    select c.issue_id, 'component', lower(c.component_name)
    from {{ ref('stg_jira__issue_components') }} as c
    where not c.is_deleted and c.component_name is not null

),

rules as (

    select * from {{ ref('stg_config__alignment_category_rules') }}

),

issue_rules as (

    -- the rules that apply to each issue's project
    select i.issue_id, r.category, r.category_rank, r.rule_index, r.criterion, r.value
    from issues as i
    inner join rules as r
        on {{ effective_config('r', 'i.project_id', ref('stg_config__alignment_category_rules')) }}

),

rule_sizes as (

    select issue_id, category, category_rank, rule_index, count(distinct criterion) as n_criteria
    from issue_rules
    group by issue_id, category, category_rank, rule_index

),

satisfied as (

    select ir.issue_id, ir.category, ir.category_rank, ir.rule_index, count(distinct ir.criterion) as n_satisfied
    from issue_rules as ir
    inner join attributes as a
        on a.issue_id = ir.issue_id and a.criterion = ir.criterion and a.value = ir.value
    group by ir.issue_id, ir.category, ir.category_rank, ir.rule_index

),

matches as (

    select s.issue_id, s.category, s.category_rank
    from satisfied as s
    inner join rule_sizes as z
        on z.issue_id = s.issue_id and z.category = s.category and z.rule_index = s.rule_index
    where s.n_satisfied = z.n_criteria

),

own as (

    select issue_id, category, category_rank, matched_categories
    from (
        select issue_id, category, category_rank,
               count(*) over (partition by issue_id) as matched_categories,
               row_number() over (partition by issue_id order by category_rank, category) as rn
        from (select distinct issue_id, category, category_rank from matches) as m
    ) as ranked
    where rn = 1

),

settings as (

    select i.issue_id, s.uncategorized_name, s.effort
    from issues as i
    left join {{ ref('stg_config__alignment_settings') }} as s
        on {{ effective_config('s', 'i.project_id', ref('stg_config__alignment_settings')) }}

),

epics as (

    select i.issue_key, o.category, o.category_rank
    from issues as i
    inner join own as o
        on o.issue_id = i.issue_id

)

select
    i.issue_id,
    i.issue_key,
    i.project_id,
    i.issue_type,
    i.epic_issue_key,
    i.parent_issue_key,
    o.category as own_category,
    cast(coalesce(o.matched_categories, 0) as bigint) as matched_categories,
    coalesce(e.category, case when i.is_subtask then p.category end, o.category,
             st.uncategorized_name, 'Uncategorized') as category,
    coalesce(e.category_rank, case when i.is_subtask then p.category_rank end, o.category_rank) as category_rank,
    case when e.category is not null then 'epic'
         when i.is_subtask and p.category is not null then 'parent'
         when o.category is not null then 'own'
         else 'uncategorized' end as category_source,
    coalesce(st.effort, 'issue_count') as effort_measure
from issues as i
left join own as o
    on o.issue_id = i.issue_id
left join epics as e
    on e.issue_key = i.epic_issue_key and i.epic_issue_key <> i.issue_key
left join epics as p
    on p.issue_key = i.parent_issue_key
left join settings as st
    on st.issue_id = i.issue_id
