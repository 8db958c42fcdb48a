-- One row per behavioural event (website and app), deduplicated, with its JSON properties as columns.
-- The biggest table: built in one pass over the landed events.

with

events as (

    select * from {{ ref('int_app_events_deduplicated') }}

),

identities as (

    select * from {{ ref('profile_identities') }}

),

final as (

    select
        ---------- ids
        cast(events.event_id as {{ dbt.type_string() }}) as event_id,
        cast(identities.profile_id as {{ dbt.type_string() }}) as profile_id,

        ---------- strings
        cast(events.event_type as {{ dbt.type_string() }}) as event_type,
        cast({{ json_text('events.properties', 'url') }} as {{ dbt.type_string() }}) as url,
        cast({{ json_text('events.properties', 'product_id') }} as {{ dbt.type_string() }}) as product_id,
        cast(lower({{ json_text('events.properties', 'category') }}) as {{ dbt.type_string() }}) as category,
        cast({{ json_text('events.properties', 'search_query') }} as {{ dbt.type_string() }}) as search_query,
        cast(lower({{ json_text('events.properties', 'platform') }}) as {{ dbt.type_string() }}) as platform,
        cast({{ json_text('events.properties', 'app_version') }} as {{ dbt.type_string() }}) as app_version,

        ---------- dates
        cast(events.occurred_at as date) as event_date,

        ---------- timestamps
        cast(events.occurred_at as {{ dbt.type_timestamp() }}) as occurred_at

    from events
    left join identities
        on events.external_key = identities.external_key

)

select * from final
