-- One row per CRM contact (latest version), with the email normalized and checked by Herald's email policy
-- (email_problem says why an address is not usable; never dropped silently) and the phone in E.164.

with

contacts as (

    select * from {{ ref('int_contacts_deduplicated') }}

),

countries as (

    select * from {{ ref('stg_reference__country_calling_codes') }}

),

parsed as (

    select
        contacts.*,
        countries.calling_code,
        countries.trunk_prefix,
        {{ normalize_email('contacts.email') }} as normalized_email,
        {{ phone_digits('contacts.phone') }} as phone_digits,
        {{ dbt.split_part("replace(contacts.language_code, '_', '-')", "'-'", 1) }} as primary_language_code

    from contacts
    left join countries
        on contacts.country_code = countries.country_code

),

normalized as (

    select
        *,
        {{ email_problem('normalized_email') }} as email_problem,
        {{ e164_candidate('phone', 'phone_digits', 'calling_code', 'trunk_prefix') }} as phone_candidate

    from parsed

),

checked as (

    select
        *,
        normalized_email is not null and email_problem is null as is_email_valid,
        {{ is_valid_e164('phone_candidate') }} as is_phone_valid

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
        case when is_phone_valid then phone_candidate end as phone,
        case when email_problem is not null then email end as invalid_email,
        email_problem,
        address_line1,
        address_line2,
        postal_code,
        city,
        country_code,
        primary_language_code as language_code,
        case
            when primary_language_code is not null and country_code is not null
                then {{ dbt.concat(['primary_language_code', "'-'", 'country_code']) }}
            else primary_language_code
        end as locale,
        time_zone,
        attributes,
        source_file,

        ---------- numerics
        source_line_number,

        ---------- booleans
        is_email_valid,
        is_phone_valid,

        ---------- dates
        birth_date,

        ---------- timestamps
        created_at,
        updated_at,
        loaded_at

    from checked

)

select * from final
