-- One row per shop order: the latest landed version of each order id.

{{ deduplicate_latest(ref('stg_shop__orders'), 'order_id') }}
