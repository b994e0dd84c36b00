{#- The partition window a run builds: dbt vars start_date / end_date (YYYY-MM-DD, inclusive),
    passed by the Dagster asset from its partition key range; defaults cover every date. -#}
{% macro in_date_window(column) -%}
    {{ column }} between '{{ var("start_date") }}' and '{{ var("end_date") }}'
{%- endmacro %}

{#- Pre-hook of the per-date marts: an incremental run first deletes the window's old rows, so a
    re-built date is replaced (even when it now has no rows) and other dates stay as they were. -#}
{% macro delete_date_window() -%}
    {% if is_incremental() %}
        delete from {{ this }} where {{ in_date_window('date') }}
    {% else %}
        select 1
    {% endif %}
{%- endmacro %}
