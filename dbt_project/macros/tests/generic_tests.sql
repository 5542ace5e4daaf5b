{#- Generic tests the project needs (no hub packages: dbt_utils is not available offline). -#}

{#- No two rows share the values of `columns` (a multi-column primary key). -#}
{% test unique_combination(model, columns) %}
select {{ columns | join(', ') }}, count(*) as n_rows
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1
{% endtest %}

{#- Every row satisfies `expression` (rows where it is null pass). On a column, the
    expression is written out in full (`x >= 0`); column_name is accepted and unused. -#}
{% test expression_is_true(model, expression, column_name=none) %}
select *
from {{ model }}
where not ({{ expression }})
{% endtest %}
