-- One row per consent event: the latest landed version of each consent event id.

{{ deduplicate_latest(ref('stg_crm__consent_events'), 'consent_event_id') }}
