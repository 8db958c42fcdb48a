-- One row per CRM contact: the profile it belongs to after identity resolution.
--
-- Contacts sharing one valid normalized email are the same person. The survivor of a group is the contact
-- created first (ties: the smallest external key); its external key is the profile_id of every member.
-- A contact without a valid email is matched with no one: it is its own survivor.

with

contacts as (

    select * from {{ ref('int_contacts_normalized') }}

),

grouped as (

    select
        external_key,
        email,
        created_at,
        case
            when email is not null then {{ dbt.concat(["'email:'", 'email']) }}
            else {{ dbt.concat(["'contact:'", 'external_key']) }}
        end as identity_group

    from contacts

),

ranked as (

    select
        external_key,
        email,
        first_value(external_key) over (
            partition by identity_group
            order by created_at asc nulls last, external_key asc
        ) as profile_id

    from grouped

),

final as (

    select
        ---------- ids
        external_key,
        profile_id,

        ---------- strings
        case when external_key = profile_id then 'survivor' else 'same_email' end as match_rule,
        email,

        ---------- booleans
        external_key = profile_id as is_survivor

    from ranked

)

select * from final
