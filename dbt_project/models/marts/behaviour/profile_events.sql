-- One row per behavioural event (website and app), deduplicated, with its JSON properties as columns.
-- The biggest table: built in one pass over the landed events.

with

events as (

    select * from {{ ref('int_app_events_deduplicated') }}

),

identities as (

    select * from {{ ref('profile_identities') }}

),

typed as (

    select
        events.event_id,
        identities.profile_id,
        events.event_type,
        {{ json_text_columns('events.properties', ['url', 'product_id', 'category', 'search_query', 'platform', 'app_version']) }},
        events.occurred_at

    from events
    left join identities
        on events.external_key = identities.external_key

),

final as (

    select
        ---------- ids
        cast(event_id as {{ dbt.type_string() }}) as event_id,
        cast(profile_id as {{ dbt.type_string() }}) as profile_id,

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
        cast(occurred_at as {{ dbt.type_timestamp() }}) as occurred_at

    from typed

)

select * from final
