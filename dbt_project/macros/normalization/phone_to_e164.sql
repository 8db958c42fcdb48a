{#-
    Phone numbers to E.164 ('+' and 8 to 15 digits), in two steps so the regular expressions run once per
    value (compute the digits in one CTE, the candidate in the next, validate in the next):

    phone_digits(phone): the digits of the value, formatting (spaces, dots, dashes, slashes, brackets) and
    everything else dropped.

    e164_candidate(phone, digits, calling_code, trunk_prefix): the number in international form, not yet
    checked:
      1. A value with letters in it ("ext. 12", "unknown") is not a dialable number: null.
      2. '+' followed by digits is already international; a leading '00' is the international prefix: '+'.
      3. Anything else is a national number: the country's trunk prefix (e.g. '0' in France, '1' in the
         US) is dropped when present and the calling code of the contact's country is put in front.
         Without a known country a national number cannot be placed: null.
    calling_code and trunk_prefix come from the country_calling_codes reference seed, joined on the
    contact's country_code.

    is_valid_e164(candidate): '+', a non-zero digit, and 8 to 15 digits in all.
-#}
{% macro phone_digits(phone) -%}
    {{ regex_replace(phone, "[^0-9]", "") }}
{%- endmacro %}

{% macro e164_candidate(phone, digits, calling_code, trunk_prefix) -%}
    case
        when {{ phone }} is null then null
        when {{ regex_matches(phone, "[A-Za-z]") }} then null
        when {{ phone }} like '+%' then {{ dbt.concat(["'+'", digits]) }}
        when {{ digits }} like '00%' then {{ dbt.concat(["'+'", "substr(" ~ digits ~ ", 3)"]) }}
        when {{ calling_code }} is null then null
        when {{ trunk_prefix }} is not null
            and substr({{ digits }}, 1, length({{ trunk_prefix }})) = {{ trunk_prefix }}
            then {{ dbt.concat(["'+'", calling_code, "substr(" ~ digits ~ ", length(" ~ trunk_prefix ~ ") + 1)"]) }}
        else {{ dbt.concat(["'+'", calling_code, digits]) }}
    end
{%- endmacro %}

{% macro is_valid_e164(candidate) -%}
    coalesce({{ regex_matches(candidate, "^[+][1-9][0-9]{7,14}$") }}, false)
{%- endmacro %}
