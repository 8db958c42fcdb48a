{#- Generated from herald/domains.py by `herald dev render-dbt-yaml`; do not edit by hand. -#}

{#- The values a column of this domain may hold: the importer accepts exactly these (herald/domains.py). -#}
{% macro herald_value_domain(name) %}
    {%- set domains = {
        "order_status": ["completed", "pending", "cancelled", "refunded"],
        "sales_channel": ["web", "app", "store"],
        "channel": ["email", "sms", "push", "in_app", "direct_mail"],
        "consent_status": ["opt_in", "opt_out"],
        "payment_status": ["pending", "authorized", "captured", "refunded", "failed", "voided"],
        "currency": ["AED", "AFN", "ALL", "AMD", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT", "BHD", "BIF",
            "BMD", "BND", "BOB", "BOV", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD", "CAD", "CDF",
            "CHE", "CHF", "CHW", "CLF", "CLP", "CNY", "COP", "COU", "CRC", "CUP", "CVE", "CZK",
            "DJF", "DKK", "DOP", "DZD", "EGP", "ERN", "ETB", "EUR", "FJD", "FKP", "GBP", "GEL",
            "GHS", "GIP", "GMD", "GNF", "GTQ", "GYD", "HKD", "HNL", "HTG", "HUF", "IDR", "ILS",
            "INR", "IQD", "IRR", "ISK", "JMD", "JOD", "JPY", "KES", "KGS", "KHR", "KMF", "KPW",
            "KRW", "KWD", "KYD", "KZT", "LAK", "LBP", "LKR", "LRD", "LSL", "LYD", "MAD", "MDL",
            "MGA", "MKD", "MMK", "MNT", "MOP", "MRU", "MUR", "MVR", "MWK", "MXN", "MXV", "MYR",
            "MZN", "NAD", "NGN", "NIO", "NOK", "NPR", "NZD", "OMR", "PAB", "PEN", "PGK", "PHP",
            "PKR", "PLN", "PYG", "QAR", "RON", "RSD", "RUB", "RWF", "SAR", "SBD", "SCR", "SDG",
            "SEK", "SGD", "SHP", "SLE", "SOS", "SRD", "SSP", "STN", "SVC", "SYP", "SZL", "THB",
            "TJS", "TMT", "TND", "TOP", "TRY", "TTD", "TWD", "TZS", "UAH", "UGX", "USD", "USN",
            "UYI", "UYU", "UYW", "UZS", "VED", "VES", "VND", "VUV", "WST", "XAD", "XAF", "XAG",
            "XAU", "XBA", "XBB", "XBC", "XBD", "XCD", "XCG", "XDR", "XOF", "XPD", "XPF", "XPT",
            "XSU", "XTS", "XUA", "XXX", "YER", "ZAR", "ZMW", "ZWG"],
    } -%}
    {%- if name not in domains -%}
        {{ exceptions.raise_compiler_error("unknown value domain " ~ name) }}
    {%- endif -%}
    {{ return(domains[name]) }}
{% endmacro %}

{#- The bounds a number of this range lies within (none: open), as arguments of the accepted_range test. -#}
{% macro herald_value_range(name) %}
    {%- set ranges = {
        "amount": {'min_value': 0, 'max_value': none},
        "quantity": {'min_value': 0, 'max_value': none},
    } -%}
    {%- if name not in ranges -%}
        {{ exceptions.raise_compiler_error("unknown value range " ~ name) }}
    {%- endif -%}
    {{ return(ranges[name]) }}
{% endmacro %}
