-- One row per behavioural event: the latest landed version of each event id.

{{ deduplicate_latest(ref('stg_app__events'), 'event_id') }}
