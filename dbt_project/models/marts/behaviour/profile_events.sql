-- One row per behavioural event (website and app): the latest landed version of each event id, its JSON
-- properties as typed columns, and the profile its contact belongs to now. The biggest table.
--
-- Incremental (DuckDB, PostgreSQL): a build rewrites (delete+insert on event_id) only
--   - the events with a version in a batch landed after the newest batch already built (batch ids sort by
--     landing time, so that version is the latest), and
--   - the events whose contact now belongs to another profile, or to one at all (an identity merge, a contact
--     landed after its events): they keep their columns and take the new profile_id.
-- A full refresh gives the same rows. On Spark (parquet: no delete+insert) it is a table.
-- A table built before batch_id and external_key existed gains them: that one build counts every event as landed
-- since and rewrites every row (append_new_columns; the contract still checks every column).
{{ config(**incremental_by_key('event_id', on_schema_change='append_new_columns')) }}

{#- The newest batch already built, read before the build as a literal: a constant filter lets the engine skip
    the older batch files instead of reading every landed event and filtering afterwards. -#}
{%- set built_through = '' -%}
{%- set remap = false -%}
{%- if is_incremental() and execute -%}
    {%- set built_columns = adapter.get_columns_in_relation(this) | map(attribute='name') | map('lower') | list -%}
    {%- if 'batch_id' in built_columns and 'external_key' in built_columns -%}
        {%- set remap = true -%}
        {%- set newest = run_query('select max(batch_id) from ' ~ this).columns[0].values()[0] -%}
        {%- set built_through = newest or '' -%}
    {%- endif -%}
{%- endif %}

with

events as (

    select * from {{ ref('int_app_events_deduplicated') }}
    {% if is_incremental() %}
    where batch_id > '{{ built_through | replace("'", "''") }}'
    {% endif %}

),

identities as (

    select * from {{ ref('profile_identities') }}

),

typed as (

    select
        events.event_id,
        identities.profile_id,
        events.external_key,
        events.event_type,
        {{ json_text_columns('events.properties', ['url', 'product_id', 'category', 'search_query', 'platform', 'app_version']) }},
        events.occurred_at,
        events.batch_id

    from events
    left join identities
        on events.external_key = identities.external_key

),

final as (

    select
        ---------- ids
        cast(event_id as {{ dbt.type_string() }}) as event_id,
        cast(profile_id as {{ dbt.type_string() }}) as profile_id,
        cast(external_key as {{ dbt.type_string() }}) as external_key,

        ---------- strings
        cast(event_type as {{ dbt.type_string() }}) as event_type,
        cast(url as {{ dbt.type_string() }}) as url,
        cast(product_id as {{ dbt.type_string() }}) as product_id,
        cast(lower(category) as {{ dbt.type_string() }}) as category,
        cast(search_query as {{ dbt.type_string() }}) as search_query,
        cast(lower(platform) as {{ dbt.type_string() }}) as platform,
        cast(app_version as {{ dbt.type_string() }}) as app_version,

        ---------- dates
        cast(occurred_at as date) as event_date,

        ---------- timestamps
        cast(occurred_at as {{ dbt.type_timestamp() }}) as occurred_at,

        ---------- batch
        cast(batch_id as {{ dbt.type_string() }}) as batch_id

    from typed

)

{% if remap %}
,

remapped as (

    select
        built.event_id,
        identities.profile_id,
        built.external_key,
        built.event_type,
        built.url,
        built.product_id,
        built.category,
        built.search_query,
        built.platform,
        built.app_version,
        built.event_date,
        built.occurred_at,
        built.batch_id

    from {{ this }} as built
    left join identities
        on built.external_key = identities.external_key
    -- An event landed since is in final already, with its new version (final is referenced twice: engines
    -- that inline CTEs would read the new batches twice, DuckDB and PostgreSQL materialize it once).
    left join final as landed_since
        on built.event_id = landed_since.event_id
    where built.profile_id is distinct from identities.profile_id
        and landed_since.event_id is null

)

select * from final
union all
select * from remapped
{% else %}
select * from final
{% endif %}
