{#-
    phone_to_e164(phone, calling_code, trunk_prefix): a phone number as typed, in E.164 ('+' and 8 to 15
    digits), or null when it cannot be made one.

      1. A value with letters in it ("ext. 12", "unknown") is not a dialable number: null.
      2. Formatting (spaces, dots, dashes, slashes, brackets) is dropped; digits and a leading '+' are kept.
      3. '+' followed by digits is already international; a leading '00' is the international prefix: '+'.
      4. Anything else is a national number: the country's trunk prefix (e.g. '0' in France, '1' in the
         US) is dropped when present and the calling code of the contact's country is put in front. Without
         a known country a national number cannot be placed: null.
      5. The result must be '+', a non-zero digit, and 8 to 15 digits in all.

    calling_code and trunk_prefix come from the country_calling_codes reference seed, joined on the
    contact's country_code.
-#}
{% macro phone_to_e164(phone, calling_code, trunk_prefix) -%}
    {%- set digits = regex_replace(phone, "[^0-9]", "") -%}
    {%- set candidate -%}
        case
            when {{ phone }} is null then null
            when {{ regex_matches(phone, "[A-Za-z]") }} then null
            when trim({{ phone }}) like '+%'
                then {{ dbt.concat(["'+'", digits]) }}
            when {{ digits }} like '00%'
                then {{ dbt.concat(["'+'", "substr(" ~ digits ~ ", 3)"]) }}
            when {{ calling_code }} is null then null
            when {{ trunk_prefix }} is not null
                and substr({{ digits }}, 1, length({{ trunk_prefix }})) = {{ trunk_prefix }}
                then {{ dbt.concat(["'+'", calling_code, "substr(" ~ digits ~ ", length(" ~ trunk_prefix ~ ") + 1)"]) }}
            else {{ dbt.concat(["'+'", calling_code, digits]) }}
        end
    {%- endset -%}
    case
        when {{ regex_matches(candidate, "^[+][1-9][0-9]{7,14}$") }} then {{ candidate }}
    end
{%- endmacro %}
