-- One row per profile (surviving identity): the attributes of its merged contacts.
--
-- Attribute values come, all together, from the member contact updated most recently (updated_at; ties:
-- the version landed last, then the smallest external key): the freshest record describes the person best.
-- The profile's external_key is the survivor's, created_at the earliest and updated_at the latest of its
-- members.
--
-- A table, not a view: profiles reads it twice (directly and through reachability).

{{ config(materialized='table') }}

with

identities as (

    select * from {{ ref('profile_identities') }}

),

contacts as (

    select * from {{ ref('int_contacts_normalized') }}

),

members as (

    select
        identities.profile_id,
        contacts.*,
        row_number() over (
            partition by identities.profile_id
            order by
                contacts.updated_at desc nulls last,
                contacts.loaded_at desc,
                contacts.external_key asc
        ) as freshness_rank

    from contacts
    inner join identities
        on contacts.external_key = identities.external_key

),

membership as (

    select
        profile_id,
        count(*) as merged_contact_count,
        min(created_at) as created_at,
        max(updated_at) as updated_at

    from members
    group by profile_id

),

final as (

    select
        ---------- ids
        freshest.profile_id,
        freshest.profile_id as external_key,

        ---------- strings
        freshest.first_name,
        freshest.last_name,
        freshest.full_name,
        freshest.email,
        freshest.email_domain,
        freshest.phone,
        freshest.address_line1,
        freshest.address_line2,
        freshest.postal_code,
        freshest.city,
        freshest.country_code,
        freshest.language_code,
        freshest.locale,
        freshest.time_zone,
        freshest.attributes,

        ---------- numerics
        membership.merged_contact_count,

        ---------- booleans
        freshest.is_email_valid,
        freshest.is_phone_valid,

        ---------- dates
        freshest.birth_date,

        ---------- timestamps
        membership.created_at,
        membership.updated_at

    from members as freshest
    inner join membership
        on freshest.profile_id = membership.profile_id
    where freshest.freshness_rank = 1

)

select * from final
