-- One row per payment transaction: the latest landed version of each payment id.

{{ deduplicate_latest(ref('stg_shop__payments'), 'payment_id') }}
