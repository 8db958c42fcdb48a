-- Shop orders as landed: every version of every order, cleaned and typed.

with

source as (

    select * from {{ herald_source('shop', 'shop_orders') }}

),

renamed as (

    select
        ---------- ids
        {{ clean_string('order_id') }} as order_id,
        {{ clean_string('external_key') }} as external_key,

        ---------- strings
        lower({{ clean_string('status') }}) as status,
        lower({{ clean_string('sales_channel') }}) as sales_channel,
        upper({{ clean_string('currency') }}) as currency,

        ---------- numerics
        cast(total_amount as {{ type_double() }}) as total_amount,

        ---------- timestamps
        cast(ordered_at as {{ dbt.type_timestamp() }}) as ordered_at,

        ---------- batch
        {{ landing_batch_columns() }}

    from source

)

select * from renamed
