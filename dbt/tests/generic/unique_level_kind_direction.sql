{% test unique_level_kind_direction(model) %}
-- level_kind x direction is the key of gold_level_kind_stats (no dbt_utils package: installs offline).
select level_kind, direction, count(*) as n
from {{ model }}
group by level_kind, direction
having count(*) > 1
{% endtest %}
