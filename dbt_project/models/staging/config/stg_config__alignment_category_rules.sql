with source as (

    {{ staging_source('config', 'alignment_category_rules', {
        'project_id': 'string',
        'category': 'string',
        'category_rank': 'bigint',
        'rule_index': 'bigint',
        'criterion': 'string',
        'value': 'string',
    }, soft_delete=false, dlt_load_id=false) }}

)

select * from source
