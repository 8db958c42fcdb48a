-- CRM consent events as landed: opt-ins and opt-outs per channel and topic, cleaned and typed.

with

source as (

    select * from {{ herald_source('crm', 'consent_events') }}

),

renamed as (

    select
        ---------- ids
        {{ clean_string('consent_event_id') }} as consent_event_id,
        {{ clean_string('external_key') }} as external_key,
        {{ clean_string('evidence_id') }} as evidence_id,

        ---------- strings
        lower({{ clean_string('channel') }}) as channel,
        lower({{ clean_string('topic') }}) as topic,
        lower({{ clean_string('status') }}) as status,
        lower({{ clean_string('source') }}) as source,
        {{ clean_string('ip_address') }} as ip_address,

        ---------- timestamps
        cast(occurred_at as {{ dbt.type_timestamp() }}) as occurred_at,

        ---------- batch
        {{ landing_batch_columns() }}

    from source

)

select * from renamed
