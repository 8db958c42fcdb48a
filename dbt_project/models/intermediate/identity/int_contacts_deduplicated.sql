-- One row per CRM contact: the latest landed version of each external key.

{{ deduplicate_latest(ref('stg_crm__contacts'), 'external_key') }}
