{% test unique_combination(model, columns) %}
-- The columns together are a key of the model (a local test: no dbt_utils package, so dbt installs offline).
select {{ columns | join(', ') }}, count(*) as n
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1
{% endtest %}
