-- One row per SMS or push provider callback, however often it was posted: a copy is dropped when its id or its
-- natural key (message, channel, event type, time, error code) was seen before; the first landed copy is kept.
-- Incremental: each build reads only the batches landed since the previous one (see deduplicate_events).
{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='fail',
    )
}}

{{ deduplicate_events(
    ref('stg_esp__channel_events'),
    'channel_event_id',
    dbt.concat([
        "coalesce(message_id, provider_message_id, '')", "'|'", "coalesce(channel, '')", "'|'", "event_type",
        "'|'", "cast(occurred_at as " ~ dbt.type_string() ~ ")", "'|'", "coalesce(error_code, '')",
    ]),
    [
        'channel_event_id', 'provider_message_id', 'message_id', 'provider', 'channel', 'event_type',
        'error_code', 'detail', 'occurred_at', 'batch_id', 'source_file', 'source_line_number', 'loaded_at',
    ],
) }}
