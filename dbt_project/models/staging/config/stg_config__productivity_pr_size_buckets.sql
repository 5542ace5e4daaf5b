with source as (

    {{ staging_source('config', 'productivity_pr_size_buckets', {
        'project_id': 'string',
        'bucket_name': 'string',
        'bucket_order': 'bigint',
        'min_lines': 'bigint',
        'max_lines': 'bigint',
    }, soft_delete=false, dlt_load_id=false) }}

)

select * from source
