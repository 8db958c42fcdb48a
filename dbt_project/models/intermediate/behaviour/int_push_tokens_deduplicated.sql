-- One row per push device: the latest landed version of each device id.

{{ deduplicate_latest(ref('stg_app__push_tokens'), 'device_id') }}
