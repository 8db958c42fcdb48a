-- CRM consent events as landed: opt-ins and opt-outs per channel and topic, cleaned and typed.

with

source as (

    select * from {{ source('crm', 'consent_events') }}

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
        _batch_id as batch_id,
        _source_file as source_file,
        cast(_line_number as {{ dbt.type_bigint() }}) as source_line_number,
        cast(_loaded_at as {{ dbt.type_timestamp() }}) as loaded_at

    from source

)

select * from renamed
