-- Shop payment transactions as landed: every version of every transaction, cleaned and typed.

with

source as (

    select * from {{ herald_source('shop', 'shop_payments') }}

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
        {{ landing_batch_columns() }}

    from source

)

select * from renamed
