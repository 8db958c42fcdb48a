-- Messages sent in the past (message history) as landed, cleaned and typed.

with

source as (

    select * from {{ herald_source('esp', 'message_history') }}

),

renamed as (

    select
        ---------- ids
        {{ clean_string('message_id') }} as message_id,
        {{ clean_string('external_key') }} as external_key,
        {{ clean_string('campaign_id') }} as campaign_id,

        ---------- strings
        {{ clean_string('campaign_name') }} as campaign_name,
        lower({{ clean_string('channel') }}) as channel,
        {{ clean_string('address') }} as address,

        ---------- timestamps
        cast(sent_at as {{ dbt.type_timestamp() }}) as sent_at,

        ---------- batch
        {{ landing_batch_columns() }}

    from source

)

select * from renamed
