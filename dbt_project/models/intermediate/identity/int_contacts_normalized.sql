-- One row per CRM contact (latest version), with the email normalized and checked and the phone in E.164.

with

contacts as (

    select * from {{ ref('int_contacts_deduplicated') }}

),

countries as (

    select * from {{ ref('stg_reference__country_calling_codes') }}

),

normalized as (

    select
        contacts.external_key,
        contacts.first_name,
        contacts.last_name,
        {{ normalize_email('contacts.email') }} as normalized_email,
        {{ phone_to_e164('contacts.phone', 'countries.calling_code', 'countries.trunk_prefix') }} as phone,
        contacts.address_line1,
        contacts.address_line2,
        contacts.postal_code,
        contacts.city,
        contacts.country_code,
        {{ dbt.split_part(regex_replace('contacts.language_code', '_', '-'), "'-'", 1) }} as language_code,
        contacts.time_zone,
        contacts.attributes,
        contacts.birth_date,
        contacts.created_at,
        contacts.updated_at,
        contacts.loaded_at

    from contacts
    left join countries
        on contacts.country_code = countries.country_code

),

checked as (

    select
        *,
        {{ is_valid_email('normalized_email') }} as is_email_valid

    from normalized

),

final as (

    select
        ---------- ids
        external_key,

        ---------- strings
        first_name,
        last_name,
        nullif(
            trim({{ dbt.concat(["coalesce(first_name, '')", "' '", "coalesce(last_name, '')"]) }}),
            ''
        ) as full_name,
        case when is_email_valid then normalized_email end as email,
        case
            when is_email_valid then {{ dbt.split_part('normalized_email', "'@'", 2) }}
        end as email_domain,
        phone,
        address_line1,
        address_line2,
        postal_code,
        city,
        country_code,
        language_code,
        case
            when language_code is not null and country_code is not null
                then {{ dbt.concat(['language_code', "'-'", 'country_code']) }}
            else language_code
        end as locale,
        time_zone,
        attributes,

        ---------- booleans
        is_email_valid,
        phone is not null as is_phone_valid,

        ---------- dates
        birth_date,

        ---------- timestamps
        created_at,
        updated_at,
        loaded_at

    from checked

)

select * from final
