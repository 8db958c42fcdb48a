{#-
    rollup_window_days(), rollup_event_types(), rollup_consent_topics(): what profile_rollups holds (vars of the
    same names). They become parts of column names, so only whole days and lower-case names are accepted.
-#}
{% macro rollup_window_days() -%}
    {%- set days = var('rollup_window_days') -%}
    {%- for d in days if not (d is number and d == d | int and d >= 0) -%}
        {{ exceptions.raise_compiler_error("var rollup_window_days: " ~ d ~ " is not a whole number of days") }}
    {%- endfor -%}
    {{ return(days | map('int') | list) }}
{%- endmacro %}

{% macro rollup_event_types() -%}
    {{ return(_rollup_names('rollup_event_types')) }}
{%- endmacro %}

{% macro rollup_consent_topics() -%}
    {{ return(_rollup_names('rollup_consent_topics')) }}
{%- endmacro %}

{% macro _rollup_names(name) -%}
    {%- set names = var(name) -%}
    {%- for n in names if not modules.re.fullmatch('[a-z][a-z0-9_]*', n | string) -%}
        {{ exceptions.raise_compiler_error("var " ~ name ~ ": " ~ n ~ " is not a lower-case name") }}
    {%- endfor -%}
    {{ return(names) }}
{%- endmacro %}

{#-
    profile_rollups_are_current(): true when profile_rollups exists and was built at this build's as_of(). A
    generated audience model reads the rollup only then: a build of audience models alone runs at a later as_of
    than the rollup it finds, and takes its compiled query without the rollup instead. Every generated model
    that calls it declares its dependency with a `depends_on` comment.
-#}
{% macro profile_rollups_are_current() -%}
    {%- if not execute -%}
        {{ return(false) }}
    {%- endif -%}
    {%- set relation = load_relation(ref('profile_rollups')) -%}
    {%- if relation is none -%}
        {{ return(false) }}
    {%- endif -%}
    {%- set query -%}
        select count(*) from {{ relation }}
        where built_at is null or built_at <> {{ as_of() }}
    {%- endset -%}
    {{ return(run_query(query).columns[0].values()[0] == 0) }}
{%- endmacro %}
