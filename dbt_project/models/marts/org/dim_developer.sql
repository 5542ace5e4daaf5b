select
    developer_id,
    full_name,
    primary_email,
    manager_developer_id,
    role,
    site,
    start_date,
    end_date,
    is_in_file
from {{ ref('stg_org__developers') }}
