-- One row per order with at least one line: how many lines and units it has, and what its lines add up to.

with

order_lines as (

    select * from {{ ref('int_order_lines_deduplicated') }}

),

aggregated as (

    select
        order_id,
        count(*) as line_count,
        coalesce(sum(quantity), 0) as item_quantity,
        sum(quantity * unit_price) as lines_amount

    from order_lines
    group by order_id

)

select * from aggregated
