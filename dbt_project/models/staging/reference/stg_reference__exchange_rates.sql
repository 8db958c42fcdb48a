-- Reference exchange rates to EUR (reference seed).

with

source as (

    select * from {{ ref('exchange_rates') }}

),

renamed as (

    select
        ---------- ids
        upper({{ clean_string('currency') }}) as currency,

        ---------- numerics
        cast(rate_to_eur as {{ type_double() }}) as rate_to_eur

    from source

)

select * from renamed
