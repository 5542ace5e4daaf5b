-- Incidents from Jira (issues whose type the service's efficiency profile lists; the
-- service is the issue's component, the alphabetically first service-named component when
-- several) and from the generic incidents files (by service name), in one shape; source_url
-- links to the incident in its tool (the Jira issue, the events file's url).
with services as (

    select service, project_id, scope_key from {{ ref('int_dora__service_scopes') }}

),

vals as (

    select * from {{ ref('int_dora__efficiency_values') }}

),

jira_service as (

    select c.issue_id, min(s.service) as service
    from {{ ref('stg_jira__issue_components') }} as c
    join services as s
        on s.service = c.component_name
    where not c.is_deleted
    group by c.issue_id

),

jira as (

    select
        {{ dbt.concat(["'jira:'", 'i.issue_key']) }} as incident_id,
        'jira' as source,
        i.issue_key as source_incident_id,
        i.url as source_url,
        js.service,
        coalesce(i.severity, i.priority) as severity,
        i.summary as title,
        i.created_at as opened_at,
        i.resolved_at,
        i.project_id as source_project_id
    from {{ ref('stg_jira__issues') }} as i
    left join jira_service as js
        on js.issue_id = i.issue_id
    left join services as s
        on s.service = js.service
    where not i.is_deleted
      and exists (select 1 from vals as v
                  where v.scope_key = coalesce(s.scope_key, 'default') and v.list_name = 'jira_issue_type'
                    and v.value = lower(i.issue_type))

),

events as (

    select
        {{ dbt.concat(["'events:'", 'e.event_incident_key']) }} as incident_id,
        'events' as source,
        e.event_incident_key as source_incident_id,
        e.url as source_url,
        s.service,
        e.severity,
        e.title,
        e.opened_at,
        e.resolved_at,
        e.project_id as source_project_id
    from {{ ref('stg_events__incidents') }} as e
    left join services as s
        on s.service = e.service_name
    where not e.is_deleted

),

unioned as (

    select * from jira
    union all
    select * from events

)

select
    u.incident_id,
    u.source,
    u.source_incident_id,
    u.source_url,
    u.service,
    u.severity,
    u.title,
    u.opened_at,
    u.resolved_at,
    coalesce(s.project_id, u.source_project_id) as project_id
from unioned as u
left join services as s
    on s.service = u.service
