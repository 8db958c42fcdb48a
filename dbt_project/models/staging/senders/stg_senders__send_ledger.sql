-- One row per ledger entry (a state change of one message), typed. DuckDB reads the senders' JSON lines in
-- place; other engines read the table they load from the same files.
{{ config(enabled=(target.type == 'duckdb')) }}

with

source as (

    select * from {{ source('senders', 'send_ledger') }}

),

renamed as (

    select
        ---------- ids
        {{ dbt.hash(dbt.concat(["message_id", "'|'", "state", "'|'", '"at"', "'|'", "writer"])) }} as ledger_entry_id,
        message_id,
        run_id,
        recipient_id,
        nullif(profile_id, '') as profile_id,
        delivery_id,
        nullif(provider_id, '') as provider_id,

        ---------- strings
        state,
        channel,
        content_hash,
        nullif(reason, '') as reason,
        writer,

        ---------- numerics
        attempt,

        ---------- timestamps
        cast("at" as timestamp) as recorded_at

    from source
    where message_id is not null

)

select * from renamed
