{#-
    herald_build_id(): the id of this build as text: HERALD_BUILD_ID, which `herald build` sets, or dbt's
    invocation id when dbt runs on its own. Only letters, digits and dashes are kept: it goes into SQL text.
    Read only when a model runs, so a new build id re-parses nothing (see as_of()).
-#}
{% macro herald_build_id() -%}
    {%- set value = (env_var('HERALD_BUILD_ID', '') if execute else '') or invocation_id -%}
    {{- modules.re.sub('[^0-9A-Za-z-]', '', value | string) -}}
{%- endmacro %}
