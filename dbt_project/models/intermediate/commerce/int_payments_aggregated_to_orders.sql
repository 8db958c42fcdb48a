-- One row per order with at least one payment row: the money its payments moved, in their currency.
--
-- Captured rows are money taken, refunded rows money given back; pending, authorized, failed and voided rows
-- move none. Amounts in different currencies cannot be added: an order whose payments carry more than one
-- currency gets no currency here and no amounts (a payment without a currency is in the order's currency).

with

payments as (

    select * from {{ ref('int_payments_deduplicated') }}

),

aggregated as (

    select
        order_id,
        count(*) as payment_count,
        count(distinct currency) as currency_count,
        min(currency) as any_currency,
        sum(case when status in ('captured', 'refunded') then 1 else 0 end) as settled_payment_count,
        sum(case when status = 'captured' then amount else 0 end) as captured_amount,
        sum(case when status = 'refunded' then amount else 0 end) as refunded_amount,
        min(case when status = 'captured' then processed_at end) as first_captured_at,
        max(case when status = 'refunded' then processed_at end) as last_refunded_at

    from payments
    group by order_id

),

final as (

    select
        ---------- ids
        order_id,

        ---------- strings
        case when currency_count <= 1 then any_currency end as currency,

        ---------- numerics
        payment_count,
        settled_payment_count,
        case when currency_count <= 1 then captured_amount end as captured_amount,
        case when currency_count <= 1 then refunded_amount end as refunded_amount,

        ---------- booleans
        currency_count > 1 as has_mixed_currencies,

        ---------- timestamps
        first_captured_at,
        last_refunded_at

    from aggregated

)

select * from final
