-- One row per email provider event, however often SendGrid posted it: a copy is dropped when its sg_event_id or
-- its natural key (message, event type, time, URL) was seen before; the first landed copy is kept.
-- Incremental: each build reads only the batches landed since the previous one (see deduplicate_events).
{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='fail',
    )
}}

{{ deduplicate_events(
    ref('stg_esp__events'),
    'sg_event_id',
    dbt.concat([
        "coalesce(message_id, lower(email), '')", "'|'", "event_type", "'|'",
        "cast(occurred_at as " ~ dbt.type_string() ~ ")", "'|'", "coalesce(url, '')",
    ]),
    [
        'sg_event_id', 'sg_message_id', 'message_id', 'run_id', 'event_type', 'email', 'provider_bounce_type',
        'bounce_classification', 'reason', 'smtp_status', 'url', 'user_agent', 'ip_address', 'categories',
        'custom_args', 'attempt', 'asm_group_id', 'url_offset_index', 'is_machine_open', 'occurred_at',
        'batch_id', 'source_file', 'source_line_number', 'loaded_at',
    ],
) }}
