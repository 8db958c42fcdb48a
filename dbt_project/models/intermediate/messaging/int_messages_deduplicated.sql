-- One row per message of the message history: the latest landed version of each message id.

{{ deduplicate_latest(ref('stg_esp__messages'), 'message_id') }}
