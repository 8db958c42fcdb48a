-- Supported countries with their calling code and trunk prefix (reference seed).

with

source as (

    select * from {{ ref('country_calling_codes') }}

),

renamed as (

    select
        ---------- ids
        upper({{ clean_string('country_code') }}) as country_code,

        ---------- strings
        {{ clean_string('country_name') }} as country_name,
        {{ clean_string('calling_code') }} as calling_code,
        {{ clean_string('trunk_prefix') }} as trunk_prefix

    from source

)

select * from renamed
