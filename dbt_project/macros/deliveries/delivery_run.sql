{#-
    delivery_run(): the delivery run being prepared, which reaches the delivery models as JSON in the
    environment variable HERALD_DELIVERY_RUN (see herald/campaigns/prepare.py), or none. It is read only when
    a model runs (`execute`), never while dbt parses: each run has a new value, and a variable read at parse
    time (or a var) would make dbt re-parse on every preparation. So a model's refs must not depend on the
    run; the members of any audience are read from audience_memberships, which every model here may ref.
    Unset, the delivery models append nothing. Every text value in it was validated by Herald (ids, email
    addresses, column names); sql_text() re-checks before a value goes into SQL.
-#}
{% macro delivery_run() -%}
    {{ return(fromjson(env_var('HERALD_DELIVERY_RUN', 'null')) if execute else none) }}
{%- endmacro %}

{#-
    latest_audience_build(name): a subquery giving the id of the latest build of an audience (audience_builds
    has a row per build, also when the audience had no members; builds are ordered by their reference time,
    then by id, which Herald makes from the start time). The caller declares
    `-- depends_on: {{ ref('audience_builds') }}`.
-#}
{% macro latest_audience_build(name) -%}
    (
        select builds.build_id
        from {{ ref('audience_builds') }} as builds
        where builds.audience_name = {{ sql_text(name) }}
        order by builds.built_at desc, builds.build_id desc
        limit 1
    )
{%- endmacro %}

{#-
    audience_members(name): profile_id and audience_group of every member of an audience at its latest build.
    The caller declares `-- depends_on:` both audience_memberships and audience_builds.
-#}
{% macro audience_members(name) -%}
    select memberships.profile_id, memberships.audience_group
    from {{ ref('audience_memberships') }} as memberships
    where memberships.audience_name = {{ sql_text(name) }}
        and memberships.build_id = {{ latest_audience_build(name) }}
{%- endmacro %}

{#- sql_text(value): a quoted SQL string for a value Herald validated; anything else stops the build. -#}
{% macro sql_text(value) -%}
    {%- if value is none -%}
        cast(null as {{ dbt.type_string() }})
    {%- elif modules.re.fullmatch('[A-Za-z0-9 _.@+%:/-]*', value | string) -%}
        '{{ value }}'
    {%- else -%}
        {{ exceptions.raise_compiler_error("delivery_run: unexpected characters in " ~ value) }}
    {%- endif -%}
{%- endmacro %}

{#- sql_identifier(name): a column name Herald checked against the marts' schema. -#}
{% macro sql_identifier(name) -%}
    {%- if modules.re.fullmatch('[a-z_][a-z0-9_]*', name | string) -%}
        {{ name }}
    {%- else -%}
        {{ exceptions.raise_compiler_error("delivery_run: not a column name: " ~ name) }}
    {%- endif -%}
{%- endmacro %}

{#-
    json_object(pairs): a JSON object as text from (key, SQL expression) pairs; keys are plain identifiers.
    Engines build JSON differently; every one gives text a JSON parser reads back to the same values.
-#}
{% macro json_object(pairs) -%}
    {{ return(adapter.dispatch('json_object')(pairs)) }}
{%- endmacro %}

{% macro default__json_object(pairs) -%}
    cast(json_object({% for key, expr in pairs %}'{{ sql_identifier(key) }}', {{ expr }}{% if not loop.last %}, {% endif %}{% endfor %}) as {{ dbt.type_string() }})
{%- endmacro %}

{% macro postgres__json_object(pairs) -%}
    cast(json_build_object({% for key, expr in pairs %}'{{ sql_identifier(key) }}', {{ expr }}{% if not loop.last %}, {% endif %}{% endfor %}) as text)
{%- endmacro %}

{% macro spark__json_object(pairs) -%}
    to_json(named_struct({% for key, expr in pairs %}'{{ sql_identifier(key) }}', {{ expr }}{% if not loop.last %}, {% endif %}{% endfor %}))
{%- endmacro %}

{#-
    ordered_digest(expr, order_by): md5 of the values of `expr` joined in the order of `order_by` — an
    aggregate that is equal for equal sets of rows, whatever order the engine produced them in.
-#}
{% macro ordered_digest(expr, order_by) -%}
    {{ return(adapter.dispatch('ordered_digest')(expr, order_by)) }}
{%- endmacro %}

{% macro default__ordered_digest(expr, order_by) -%}
    md5(coalesce(string_agg({{ expr }}, '|' order by {{ order_by }}), ''))
{%- endmacro %}

{% macro spark__ordered_digest(expr, order_by) -%}
    md5(concat_ws('|', transform(sort_array(collect_list(struct({{ order_by }} as k, {{ expr }} as v))), x -> x.v)))
{%- endmacro %}
