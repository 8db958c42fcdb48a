{#-
    herald_source(source_name, table_name): what a staging model reads for one raw table. By default the
    landed batches (the dbt source). When the project maps the table to a relation of its own, in the manner of
    Fivetran's packages:

        vars:
          herald_sources:
            crm_contacts:
              model: customers                  # or  source: [crm, customers]   or  table: analytics.customers
              columns:                          # Herald's column: the project's column, or any SQL expression
                external_key: customer_id
                email: email_address
                created_at: signed_up_at
              defaults:                         # SQL for a column the relation does not have
                language_code: "'en'"
              loaded_at: updated_at             # when a row last changed (default: the build's time)
              where: "not is_test_account"      # optional filter

    the relation is read in place, shaped like a landed batch: every landed column in order and cast to its
    landed type (null where neither mapped nor defaulted), plus the batch columns. A required column that is
    neither mapped nor defaulted, an unknown key or an unknown column fails the parse with the var's path.
-#}
{% macro herald_source(source_name, table_name) -%}
    {%- set own = var('herald_sources', {}).get(table_name) -%}
    {%- if own is none -%}
        {{ source(source_name, table_name) }}
    {%- else -%}
        ({{ herald_own_relation(table_name, own) }}) as own_{{ table_name }}
    {%- endif -%}
{%- endmacro %}

{% macro herald_own_relation(table_name, own) -%}
    {%- set where = 'vars.herald_sources.' ~ table_name -%}
    {%- if own is not mapping -%}
        {{ exceptions.raise_compiler_error(where ~ ": expected a mapping with model, source or table") }}
    {%- endif -%}
    {%- set known_keys = ['model', 'source', 'table', 'columns', 'defaults', 'loaded_at', 'where'] -%}
    {%- for key in own -%}
        {%- if key not in known_keys -%}
            {{ exceptions.raise_compiler_error(where ~ ": unknown key " ~ key ~ "; expected " ~ known_keys | join(', ')) }}
        {%- endif -%}
    {%- endfor -%}
    {%- set relation = herald_own_relation_name(where, own) -%}
    {%- set label = (own.get('model') and 'model:' ~ own.get('model'))
        or (own.get('source') and 'source:' ~ (own.get('source') | join('.')))
        or 'table:' ~ own.get('table') -%}
    {%- set columns = own.get('columns') or {} -%}
    {%- set defaults = own.get('defaults') or {} -%}
    {%- set landed = herald_raw_columns(table_name) -%}
    {%- set landed_names = landed | map(attribute='name') | list -%}
    {%- for mapping_name, given in [('columns', columns), ('defaults', defaults)] -%}
        {%- if given is not mapping -%}
            {{ exceptions.raise_compiler_error(where ~ "." ~ mapping_name ~ ": expected a mapping of Herald's column names") }}
        {%- endif -%}
        {%- for name in given if name not in landed_names -%}
            {{ exceptions.raise_compiler_error(
                where ~ "." ~ mapping_name ~ ": " ~ table_name ~ " has no column " ~ name
                ~ "; its columns: " ~ landed_names | join(', ')) }}
        {%- endfor -%}
    {%- endfor -%}
    {%- set loaded_at = 'cast(' ~ (own.get('loaded_at') or utc_now()) ~ ' as ' ~ dbt.type_timestamp() ~ ')' -%}
    select
        {%- for column in landed %}
        {%- if column.name in columns -%}
            {%- set expression = columns[column.name] -%}
        {%- elif column.name in defaults -%}
            {%- set expression = defaults[column.name] -%}
        {%- elif column.required -%}
            {{ exceptions.raise_compiler_error(
                where ~ ": " ~ table_name ~ "." ~ column.name ~ " is required: map it under columns or give it a default") }}
        {%- else -%}
            {%- set expression = 'null' -%}
        {%- endif %}
        cast({{ expression }} as {{ herald_landed_type(column.type) }}) as {{ column.name }},
        {%- endfor %}
        -- One batch per change time: the incremental models pick up rows whose change time is new.
        {{ dbt.concat(["'relation:'", dbt.safe_cast(loaded_at, dbt.type_string())]) }} as _batch_id,
        '{{ label | replace("'", "''") }}' as _source_file,
        cast(null as {{ dbt.type_bigint() }}) as _line_number,
        {{ loaded_at }} as _loaded_at
    from {{ relation }}
    {%- if own.get('where') %}
    where {{ own.get('where') }}
    {%- endif %}
{%- endmacro %}

{% macro herald_own_relation_name(where, own) -%}
    {%- set given = [] -%}
    {%- for key in ['model', 'source', 'table'] if own.get(key) -%}{%- do given.append(key) -%}{%- endfor -%}
    {%- if given | length != 1 -%}
        {{ exceptions.raise_compiler_error(where ~ ": give exactly one of model, source or table (got " ~ (given | join(', ') or 'none') ~ ")") }}
    {%- endif -%}
    {%- if own.get('model') -%}
        {{ return(ref(own.get('model'))) }}
    {%- elif own.get('source') -%}
        {%- set parts = own.get('source') -%}
        {%- if parts is string or parts | length != 2 -%}
            {{ exceptions.raise_compiler_error(where ~ ".source: expected [source name, table name]") }}
        {%- endif -%}
        {{ return(source(parts[0], parts[1])) }}
    {%- else -%}
        {%- set parts = own.get('table').split('.') -%}
        {%- if parts | length == 2 -%}
            {{ return(api.Relation.create(schema=parts[0], identifier=parts[1])) }}
        {%- elif parts | length == 3 -%}
            {{ return(api.Relation.create(database=parts[0], schema=parts[1], identifier=parts[2])) }}
        {%- endif -%}
        {{ exceptions.raise_compiler_error(where ~ ".table: expected schema.table or database.schema.table") }}
    {%- endif -%}
{%- endmacro %}

{% macro herald_landed_type(raw_type) -%}
    {%- if raw_type == 'varchar' -%}{{ dbt.type_string() }}
    {%- elif raw_type == 'integer' -%}{{ dbt.type_bigint() }}
    {%- elif raw_type == 'double' -%}{{ type_double() }}
    {%- elif raw_type == 'date' -%}date
    {%- else -%}{{ dbt.type_timestamp() }}
    {%- endif -%}
{%- endmacro %}
