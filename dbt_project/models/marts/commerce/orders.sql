-- One row per shop order (latest version), with its lines summarised and its total in EUR.
--
-- total_amount is the order's own total, or the sum of its lines when the shop sent no total.
-- total_amount_eur is null when the currency is not in the exchange_rates reference seed.

with

orders as (

    select * from {{ ref('int_orders_deduplicated') }}

),

identities as (

    select * from {{ ref('profile_identities') }}

),

order_lines as (

    select * from {{ ref('int_order_lines_aggregated_to_orders') }}

),

exchange_rates as (

    select * from {{ ref('stg_reference__exchange_rates') }}

),

joined as (

    select
        orders.order_id,
        identities.profile_id,
        orders.external_key,
        orders.status,
        orders.sales_channel,
        orders.currency,
        coalesce(orders.total_amount, order_lines.lines_amount) as total_amount,
        exchange_rates.rate_to_eur,
        coalesce(order_lines.line_count, 0) as line_count,
        coalesce(order_lines.item_quantity, 0) as item_quantity,
        orders.ordered_at

    from orders
    left join identities
        on orders.external_key = identities.external_key
    left join order_lines
        on orders.order_id = order_lines.order_id
    left join exchange_rates
        on orders.currency = exchange_rates.currency

),

final as (

    select
        ---------- ids
        cast(order_id as {{ dbt.type_string() }}) as order_id,
        cast(profile_id as {{ dbt.type_string() }}) as profile_id,
        cast(external_key as {{ dbt.type_string() }}) as external_key,

        ---------- strings
        cast(status as {{ dbt.type_string() }}) as status,
        cast(sales_channel as {{ dbt.type_string() }}) as sales_channel,
        cast(currency as {{ dbt.type_string() }}) as currency,

        ---------- numerics
        cast(total_amount as {{ type_double() }}) as total_amount,
        cast(total_amount * rate_to_eur as {{ type_double() }}) as total_amount_eur,
        cast(line_count as {{ dbt.type_bigint() }}) as line_count,
        cast(item_quantity as {{ dbt.type_bigint() }}) as item_quantity,

        ---------- booleans
        cast(coalesce(status = 'completed', false) as {{ dbt.type_boolean() }}) as is_completed,

        ---------- dates
        cast(ordered_at as date) as order_date,

        ---------- timestamps
        cast(ordered_at as {{ dbt.type_timestamp() }}) as ordered_at

    from joined

)

select * from final
