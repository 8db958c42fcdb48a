-- One row per provider event: SendGrid posts an event as often as it likes; sg_event_id identifies it.

{{ deduplicate_latest(ref('stg_esp__events'), 'sg_event_id') }}
