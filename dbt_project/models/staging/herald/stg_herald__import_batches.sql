-- The landing audit trail: one row per landed batch of one raw table.

with

source as (

    select * from {{ source('herald', 'import_batches') }}

),

renamed as (

    select
        ---------- ids
        {{ clean_string('batch_id') }} as batch_id,

        ---------- strings
        {{ clean_string('table_name') }} as table_name,
        {{ clean_string('source_file') }} as source_file,
        {{ clean_string('source_sha256') }} as source_sha256,

        ---------- numerics
        cast(rows_read as {{ dbt.type_bigint() }}) as rows_read,
        cast(rows_inserted as {{ dbt.type_bigint() }}) as rows_inserted,
        cast(rows_updated as {{ dbt.type_bigint() }}) as rows_updated,
        cast(rows_rejected as {{ dbt.type_bigint() }}) as rows_rejected,

        ---------- timestamps
        cast(loaded_at as {{ dbt.type_timestamp() }}) as loaded_at

    from source

)

select * from renamed
