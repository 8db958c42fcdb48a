-- One row per source contact (CRM external key): the profile it was merged into.

with

identities as (

    select * from {{ ref('int_contacts_matched_to_profiles') }}

),

final as (

    select
        ---------- ids
        cast(external_key as {{ dbt.type_string() }}) as external_key,
        cast(profile_id as {{ dbt.type_string() }}) as profile_id,

        ---------- strings
        cast(match_rule as {{ dbt.type_string() }}) as match_rule,
        cast(email as {{ dbt.type_string() }}) as email,

        ---------- booleans
        cast(is_survivor as {{ dbt.type_boolean() }}) as is_survivor

    from identities

)

select * from final
