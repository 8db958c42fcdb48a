-- One row per line of a known order (latest version). Lines whose order has not landed are left out.

with

order_lines as (

    select * from {{ ref('int_order_lines_deduplicated') }}

),

orders as (

    select * from {{ ref('orders') }}

),

final as (

    select
        ---------- ids
        cast(order_lines.order_line_id as {{ dbt.type_string() }}) as order_line_id,
        cast(order_lines.order_id as {{ dbt.type_string() }}) as order_id,
        cast(orders.profile_id as {{ dbt.type_string() }}) as profile_id,
        cast(order_lines.product_id as {{ dbt.type_string() }}) as product_id,

        ---------- strings
        cast(order_lines.product_name as {{ dbt.type_string() }}) as product_name,
        cast(order_lines.category as {{ dbt.type_string() }}) as category,
        cast(orders.currency as {{ dbt.type_string() }}) as currency,

        ---------- numerics
        cast(order_lines.quantity as {{ dbt.type_bigint() }}) as quantity,
        cast(order_lines.unit_price as {{ type_double() }}) as unit_price,
        cast(order_lines.quantity * order_lines.unit_price as {{ type_double() }}) as line_amount,

        ---------- booleans
        orders.is_completed,

        ---------- timestamps
        orders.ordered_at

    from order_lines
    inner join orders
        on order_lines.order_id = orders.order_id

)

select * from final
