-- Finished production deployments per service, the input of the service-grain DORA marts.
select
    service,
    deployment_id,
    finished_at,
    status = 'success' as is_success,
    is_failure,
    is_rework,
    recovery_hours
from {{ ref('fct_deployments') }}
where is_production and is_finished and service is not null
