-- One row per shop order (latest version), with its lines and payments summarised and its total in EUR.
--
-- total_amount is the order's own total; when the shop sent none, what its payments netted (captured minus
-- refunded, never below zero), when it has a captured or refunded payment; failing that, the sum of its lines.
-- total_amount_source says which. Payments count for an order only in the order's currency (or when either
-- side has none): amounts in two currencies cannot be added. An order without a currency takes its payments'.
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

payments as (

    select * from {{ ref('int_payments_aggregated_to_orders') }}

),

exchange_rates as (

    select * from {{ ref('stg_reference__exchange_rates') }}

),

payments_matched as (

    select
        payments.*,
        (
            not payments.has_mixed_currencies
            and (payments.currency is null or orders.currency is null or payments.currency = orders.currency)
        ) as is_in_order_currency

    from payments
    inner join orders
        on payments.order_id = orders.order_id

),

order_payments as (

    select
        order_id,
        currency,
        payment_count,
        case when is_in_order_currency then captured_amount end as paid_amount,
        case when is_in_order_currency then refunded_amount end as refunded_amount,
        case
            when is_in_order_currency and settled_payment_count > 0
                then greatest(captured_amount - refunded_amount, 0)
        end as net_paid_amount,
        case when is_in_order_currency then first_captured_at end as paid_at,
        case when is_in_order_currency then last_refunded_at end as refunded_at

    from payments_matched

),

joined as (

    select
        orders.order_id,
        identities.profile_id,
        orders.external_key,
        orders.status,
        orders.sales_channel,
        coalesce(orders.currency, order_payments.currency) as currency,
        orders.total_amount as order_total_amount,
        order_payments.net_paid_amount,
        order_lines.lines_amount,
        coalesce(order_lines.line_count, 0) as line_count,
        coalesce(order_lines.item_quantity, 0) as item_quantity,
        coalesce(order_payments.payment_count, 0) as payment_count,
        order_payments.paid_amount,
        order_payments.refunded_amount,
        orders.ordered_at,
        order_payments.paid_at,
        order_payments.refunded_at

    from orders
    left join identities
        on orders.external_key = identities.external_key
    left join order_lines
        on orders.order_id = order_lines.order_id
    left join order_payments
        on orders.order_id = order_payments.order_id

),

totalled as (

    select
        joined.*,
        coalesce(order_total_amount, net_paid_amount, lines_amount) as total_amount,
        case
            when order_total_amount is not null then 'order'
            when net_paid_amount is not null then 'payments'
            when lines_amount is not null then 'order_lines'
        end as total_amount_source,
        exchange_rates.rate_to_eur

    from joined
    left join exchange_rates
        on joined.currency = exchange_rates.currency

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
        cast(total_amount_source as {{ dbt.type_string() }}) as total_amount_source,

        ---------- numerics
        cast(total_amount as {{ type_double() }}) as total_amount,
        cast(total_amount * rate_to_eur as {{ type_double() }}) as total_amount_eur,
        cast(line_count as {{ dbt.type_bigint() }}) as line_count,
        cast(item_quantity as {{ dbt.type_bigint() }}) as item_quantity,
        cast(payment_count as {{ dbt.type_bigint() }}) as payment_count,
        cast(paid_amount as {{ type_double() }}) as paid_amount,
        cast(refunded_amount as {{ type_double() }}) as refunded_amount,

        ---------- booleans
        cast(coalesce(status = 'completed', false) as {{ dbt.type_boolean() }}) as is_completed,

        ---------- dates
        cast(ordered_at as date) as order_date,

        ---------- timestamps
        cast(ordered_at as {{ dbt.type_timestamp() }}) as ordered_at,
        cast(paid_at as {{ dbt.type_timestamp() }}) as paid_at,
        cast(refunded_at as {{ dbt.type_timestamp() }}) as refunded_at

    from totalled

)

select * from final
