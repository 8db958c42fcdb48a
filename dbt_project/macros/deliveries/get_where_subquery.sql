{#-
    The relation a generic test reads. A test configured `where: run_being_prepared` (every test of the delivery
    models, see dbt_project.yml) reads only the rows of the run being prepared: those models are append-only
    and never rewritten, so earlier runs were tested when they were appended, and testing them again would make
    each preparation slower than the last. A full build (no run) tests every run. Any other `where` is dbt's.
-#}
{% macro get_where_subquery(relation) -%}
    {%- if config.get('where', '') == 'run_being_prepared' -%}
        {%- set run = delivery_run() -%}
        {%- if run is none -%}
            {% do return(relation) %}
        {%- endif -%}
        {%- set filtered -%}
            (select * from {{ relation }} where run_id = {{ sql_text(run.run_id) }}) dbt_subquery
        {%- endset -%}
        {% do return(filtered) %}
    {%- endif -%}
    {% do return(adapter.dispatch('get_where_subquery', 'dbt')(relation)) %}
{%- endmacro %}
