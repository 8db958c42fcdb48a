-- CRM contacts as landed: every version of every contact (deduplicated downstream), cleaned and typed.

with

source as (

    select * from {{ herald_source('crm', 'crm_contacts') }}

),

renamed as (

    select
        ---------- ids
        {{ clean_string('external_key') }} as external_key,

        ---------- strings
        {{ clean_string('first_name') }} as first_name,
        {{ clean_string('last_name') }} as last_name,
        {{ clean_string('email') }} as email,
        {{ clean_string('phone') }} as phone,
        {{ clean_string('address_line1') }} as address_line1,
        {{ clean_string('address_line2') }} as address_line2,
        {{ clean_string('postal_code') }} as postal_code,
        {{ clean_string('city') }} as city,
        upper({{ clean_string('country_code') }}) as country_code,
        lower({{ clean_string('language_code') }}) as language_code,
        {{ clean_string('time_zone') }} as time_zone,
        {{ clean_string('attributes') }} as attributes,

        ---------- dates
        cast(birth_date as date) as birth_date,

        ---------- timestamps
        cast(created_at as {{ dbt.type_timestamp() }}) as created_at,
        cast(updated_at as {{ dbt.type_timestamp() }}) as updated_at,

        ---------- batch
        {{ landing_batch_columns() }}

    from source

)

select * from renamed
