-- One row per shop order line: the latest landed version of each order line id.

{{ deduplicate_latest(ref('stg_shop__order_lines'), 'order_line_id') }}
