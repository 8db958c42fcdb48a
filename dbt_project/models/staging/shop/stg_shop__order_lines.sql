-- Shop order lines as landed: every version of every line, cleaned and typed.

with

source as (

    select * from {{ herald_source('shop', 'shop_order_lines') }}

),

renamed as (

    select
        ---------- ids
        {{ clean_string('order_line_id') }} as order_line_id,
        {{ clean_string('order_id') }} as order_id,
        {{ clean_string('product_id') }} as product_id,

        ---------- strings
        {{ clean_string('product_name') }} as product_name,
        lower({{ clean_string('category') }}) as category,

        ---------- numerics
        cast(quantity as {{ dbt.type_bigint() }}) as quantity,
        cast(unit_price as {{ type_double() }}) as unit_price,

        ---------- batch
        {{ landing_batch_columns() }}

    from source

)

select * from renamed
