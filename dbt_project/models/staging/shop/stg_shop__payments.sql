-- Shop payment transactions as landed: every version of every transaction, cleaned and typed.

with

source as (

    select * from {{ source('shop', 'shop_payments') }}

),

renamed as (

    select
        ---------- ids
        {{ clean_string('payment_id') }} as payment_id,
        {{ clean_string('order_id') }} as order_id,

        ---------- strings
        lower({{ clean_string('status') }}) as status,
        lower({{ clean_string('method') }}) as method,
        upper({{ clean_string('currency') }}) as currency,

        ---------- numerics
        cast(amount as {{ type_double() }}) as amount,

        ---------- timestamps
        cast(processed_at as {{ dbt.type_timestamp() }}) as processed_at,

        ---------- batch
        _batch_id as batch_id,
        _source_file as source_file,
        cast(_line_number as {{ dbt.type_bigint() }}) as source_line_number,
        cast(_loaded_at as {{ dbt.type_timestamp() }}) as loaded_at

    from source

)

select * from renamed
