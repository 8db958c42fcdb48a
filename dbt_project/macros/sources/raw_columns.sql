{#- Generated from herald/raw_schema.py by `herald dev render-dbt-yaml`; do not edit by hand. -#}

{#- The columns a raw table lands with (herald/raw_schema.py), batch columns aside. -#}
{% macro herald_raw_columns(table_name) %}
    {%- set tables = {
        "crm_contacts": [
            {'name': "external_key", 'type': "varchar", 'required': true},
            {'name': "first_name", 'type': "varchar", 'required': false},
            {'name': "last_name", 'type': "varchar", 'required': false},
            {'name': "email", 'type': "varchar", 'required': false},
            {'name': "phone", 'type': "varchar", 'required': false},
            {'name': "address_line1", 'type': "varchar", 'required': false},
            {'name': "address_line2", 'type': "varchar", 'required': false},
            {'name': "postal_code", 'type': "varchar", 'required': false},
            {'name': "city", 'type': "varchar", 'required': false},
            {'name': "country_code", 'type': "varchar", 'required': false},
            {'name': "language_code", 'type': "varchar", 'required': false},
            {'name': "time_zone", 'type': "varchar", 'required': false},
            {'name': "birth_date", 'type': "date", 'required': false},
            {'name': "attributes", 'type': "varchar", 'required': false},
            {'name': "created_at", 'type': "timestamp", 'required': false},
            {'name': "updated_at", 'type': "timestamp", 'required': false}
        ],
        "consent_events": [
            {'name': "consent_event_id", 'type': "varchar", 'required': true},
            {'name': "external_key", 'type': "varchar", 'required': true},
            {'name': "channel", 'type': "varchar", 'required': true},
            {'name': "topic", 'type': "varchar", 'required': true},
            {'name': "status", 'type': "varchar", 'required': true},
            {'name': "source", 'type': "varchar", 'required': false},
            {'name': "evidence_id", 'type': "varchar", 'required': false},
            {'name': "ip_address", 'type': "varchar", 'required': false},
            {'name': "occurred_at", 'type': "timestamp", 'required': true}
        ],
        "shop_orders": [
            {'name': "order_id", 'type': "varchar", 'required': true},
            {'name': "external_key", 'type': "varchar", 'required': true},
            {'name': "status", 'type': "varchar", 'required': false},
            {'name': "sales_channel", 'type': "varchar", 'required': false},
            {'name': "currency", 'type': "varchar", 'required': false},
            {'name': "total_amount", 'type': "double", 'required': false},
            {'name': "ordered_at", 'type': "timestamp", 'required': true}
        ],
        "shop_order_lines": [
            {'name': "order_line_id", 'type': "varchar", 'required': true},
            {'name': "order_id", 'type': "varchar", 'required': true},
            {'name': "product_id", 'type': "varchar", 'required': false},
            {'name': "product_name", 'type': "varchar", 'required': false},
            {'name': "category", 'type': "varchar", 'required': false},
            {'name': "quantity", 'type': "integer", 'required': false},
            {'name': "unit_price", 'type': "double", 'required': false}
        ],
        "shop_payments": [
            {'name': "payment_id", 'type': "varchar", 'required': true},
            {'name': "order_id", 'type': "varchar", 'required': true},
            {'name': "status", 'type': "varchar", 'required': true},
            {'name': "method", 'type': "varchar", 'required': false},
            {'name': "currency", 'type': "varchar", 'required': false},
            {'name': "amount", 'type': "double", 'required': true},
            {'name': "processed_at", 'type': "timestamp", 'required': true}
        ],
        "app_events": [
            {'name': "event_id", 'type': "varchar", 'required': true},
            {'name': "external_key", 'type': "varchar", 'required': true},
            {'name': "event_type", 'type': "varchar", 'required': true},
            {'name': "properties", 'type': "varchar", 'required': false},
            {'name': "occurred_at", 'type': "timestamp", 'required': true}
        ],
        "push_tokens": [
            {'name': "device_id", 'type': "varchar", 'required': true},
            {'name': "external_key", 'type': "varchar", 'required': true},
            {'name': "platform", 'type': "varchar", 'required': false},
            {'name': "token", 'type': "varchar", 'required': false},
            {'name': "registered_at", 'type': "timestamp", 'required': false},
            {'name': "unregistered_at", 'type': "timestamp", 'required': false}
        ],
        "message_history": [
            {'name': "message_id", 'type': "varchar", 'required': true},
            {'name': "external_key", 'type': "varchar", 'required': true},
            {'name': "campaign_id", 'type': "varchar", 'required': false},
            {'name': "campaign_name", 'type': "varchar", 'required': false},
            {'name': "channel", 'type': "varchar", 'required': true},
            {'name': "address", 'type': "varchar", 'required': false},
            {'name': "sent_at", 'type': "timestamp", 'required': true}
        ],
        "esp_events": [
            {'name': "sg_event_id", 'type': "varchar", 'required': true},
            {'name': "sg_message_id", 'type': "varchar", 'required': false},
            {'name': "message_id", 'type': "varchar", 'required': false},
            {'name': "event", 'type': "varchar", 'required': true},
            {'name': "email", 'type': "varchar", 'required': false},
            {'name': "bounce_type", 'type': "varchar", 'required': false},
            {'name': "reason", 'type': "varchar", 'required': false},
            {'name': "status", 'type': "varchar", 'required': false},
            {'name': "url", 'type': "varchar", 'required': false},
            {'name': "occurred_at", 'type': "timestamp", 'required': true},
            {'name': "bounce_classification", 'type': "varchar", 'required': false},
            {'name': "attempt", 'type': "integer", 'required': false},
            {'name': "useragent", 'type': "varchar", 'required': false},
            {'name': "ip", 'type': "varchar", 'required': false},
            {'name': "categories", 'type': "varchar", 'required': false},
            {'name': "custom_args", 'type': "varchar", 'required': false},
            {'name': "run_id", 'type': "varchar", 'required': false},
            {'name': "asm_group_id", 'type': "integer", 'required': false},
            {'name': "url_offset_index", 'type': "integer", 'required': false},
            {'name': "sg_machine_open", 'type': "integer", 'required': false}
        ],
        "channel_events": [
            {'name': "event_id", 'type': "varchar", 'required': true},
            {'name': "provider", 'type': "varchar", 'required': true},
            {'name': "channel", 'type': "varchar", 'required': true},
            {'name': "provider_message_id", 'type': "varchar", 'required': false},
            {'name': "message_id", 'type': "varchar", 'required': false},
            {'name': "event", 'type': "varchar", 'required': true},
            {'name': "error_code", 'type': "varchar", 'required': false},
            {'name': "detail", 'type': "varchar", 'required': false},
            {'name': "occurred_at", 'type': "timestamp", 'required': true}
        ],
    } -%}
    {%- if table_name not in tables -%}
        {{ exceptions.raise_compiler_error(
            "herald_sources: " ~ table_name ~ " is not a table Herald reads; expected one of "
            ~ (tables.keys() | sort | join(", "))) }}
    {%- endif -%}
    {{ return(tables[table_name]) }}
{% endmacro %}
