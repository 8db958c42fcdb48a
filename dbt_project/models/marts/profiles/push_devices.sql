-- One row per push device registration (installation), latest version.
-- A device is active when it has a token and was not unregistered since it last registered.

with

devices as (

    select * from {{ ref('int_push_tokens_deduplicated') }}

),

identities as (

    select * from {{ ref('profile_identities') }}

),

final as (

    select
        ---------- ids
        cast(devices.device_id as {{ dbt.type_string() }}) as device_id,
        cast(identities.profile_id as {{ dbt.type_string() }}) as profile_id,
        cast(devices.external_key as {{ dbt.type_string() }}) as external_key,

        ---------- strings
        cast(devices.platform as {{ dbt.type_string() }}) as platform,
        cast(devices.token as {{ dbt.type_string() }}) as token,

        ---------- booleans
        cast(
            devices.token is not null
            and (
                devices.unregistered_at is null
                or (devices.registered_at is not null and devices.registered_at > devices.unregistered_at)
            ) as {{ dbt.type_boolean() }}
        ) as is_active,

        ---------- timestamps
        cast(devices.registered_at as {{ dbt.type_timestamp() }}) as registered_at,
        cast(devices.unregistered_at as {{ dbt.type_timestamp() }}) as unregistered_at

    from devices
    left join identities
        on devices.external_key = identities.external_key

)

select * from final
