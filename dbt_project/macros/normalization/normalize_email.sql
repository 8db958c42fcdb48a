{#-
    Herald's email policy in SQL: the same rules as herald/emails.py (email-validator), so a contact that lands
    by any path (import, demo seeds, `herald generate`, forms) gets the same verdict. The vectors in
    dbt_project/tests/fixtures/email_vectors_*.csv are checked against both: by the unit test
    `emails_follow_the_shared_policy` here and by tests/emails/test_email_vectors.py in Python.

    normalize_email(column): surrounding whitespace (space, tab, line breaks) removed, lower-cased; empty -> null.

    email_problem(normalized): null when the normalized address is usable (or null), else why not:
      one @-sign; no spaces or control characters; at most 64 characters before the @-sign, a dot-atom of the
      characters RFC 5322 allows unquoted or any non-ASCII character; at most 254 bytes in all and 253
      characters after the @-sign, labels of at most 63 characters, of letters, digits (or non-ASCII
      characters) and inner hyphens, no "ab--" label unless Punycode ("xn--"); a period in the domain and a
      top-level domain ending with a letter; no special-use domain (.arpa .invalid .local .localhost .onion
      .test; .test is accepted when HERALD_EMAIL_ALLOW_TEST_DOMAINS is 1/true/yes/on, as in Python).

    is_valid_email(normalized): true when the address is present and email_problem is null.

    Known limits, all on the lenient side (the importer, forms and specs check in Python first, so they only
    matter for rows that land without it): no IDNA code point tables, no Unicode NFC, and a Punycode domain is
    kept as Punycode where Python turns it into Unicode.
-#}
{% macro normalize_email(column) -%}
    nullif(lower({{ regex_replace(column, "^[ \\t\\n\\r\\f\\v]+|[ \\t\\n\\r\\f\\v]+$", "") }}), '')
{%- endmacro %}

{% macro email_test_domains_allowed() -%}
    {{ return(env_var('HERALD_EMAIL_ALLOW_TEST_DOMAINS', '') | trim | lower in ['1', 'true', 'yes', 'on']) }}
{%- endmacro %}

{% macro email_problem(normalized) -%}
    {%- set local = dbt.split_part(normalized, "'@'", 1) -%}
    {%- set domain = dbt.split_part(normalized, "'@'", 2) -%}
    {%- set atext = "[a-z0-9!#$%&'*+/=?^_`{|}~-]+" -%}
    {%- set label = "[a-z0-9]([a-z0-9-]*[a-z0-9])?" -%}
    {%- set special = ['arpa', 'invalid', 'local', 'localhost', 'onion'] + ([] if email_test_domains_allowed() else ['test']) -%}
    case
        when {{ normalized }} is null then null
        when not {{ regex_matches(normalized, "^[^@]+@[^@]+$") }}
            then 'needs exactly one @-sign with text before and after it'
        when {{ regex_matches(normalized, "[\\x01-\\x20\\x7f-\\xa0]|" ~ email_unsafe_characters()) }}
            then 'contains spaces or control characters'
        when length({{ local }}) > 64 then 'has more than 64 characters before the @-sign'
        when not {{ regex_matches(regex_replace(local, "[^\\x01-\\x7f]", "a"), "^" ~ atext ~ "([.]" ~ atext ~ ")*$") }}
            then 'has a character or period that is not allowed before the @-sign'
        when {{ email_octet_length(normalized) }} > 254 then 'is longer than 254 bytes'
        when length({{ domain }}) > 253 then 'has more than 253 characters after the @-sign'
        when {{ regex_matches(domain, "[^.]{64}") }} then 'has a domain label longer than 63 characters'
        when not {{ regex_matches(regex_replace(domain, "[^\\x01-\\x7f]", "a"), "^" ~ label ~ "([.]" ~ label ~ ")*$") }}
            then 'has a character, period or hyphen that is not allowed after the @-sign'
        when {{ regex_matches(domain, "(^|[.])([^x.][^.]|x[^n.])--") }}
            then 'has a domain label with hyphens in third and fourth position that is not Punycode'
        when {{ domain }} not like '%.%'
            {%- if email_test_domains_allowed() %} and {{ domain }} <> 'test'{% endif %}
            then 'has no period after the @-sign'
        when not {{ regex_matches(domain, "([a-z]|[^\\x01-\\x7f])$") }}
            then 'has a top-level domain that does not end with a letter'
        when {{ regex_matches(domain, "(^|[.])(" ~ special | join('|') ~ ")$") }}
            then 'uses a special-use or reserved domain'
    end
{%- endmacro %}

{% macro is_valid_email(normalized) -%}
    ({{ normalized }} is not null and ({{ email_problem(normalized) }}) is null)
{%- endmacro %}

{#- Unicode spaces, line and paragraph separators and the byte order mark: refused by the policy anywhere in an
    address. Code points above U+00FF are written differently by each regex dialect. -#}
{% macro email_unsafe_characters() -%}
    {{ return(adapter.dispatch('email_unsafe_characters')()) }}
{%- endmacro %}

{% macro default__email_unsafe_characters() -%}
    {{ return("[\\x{2000}-\\x{200a}\\x{2028}\\x{2029}\\x{3000}\\x{feff}]") }}
{%- endmacro %}

{% macro postgres__email_unsafe_characters() -%}
    {{ return("[\\u2000-\\u200a\\u2028\\u2029\\u3000\\ufeff]") }}
{%- endmacro %}

{#- The length of a text in UTF-8 bytes, as the 254-byte address limit counts. -#}
{% macro email_octet_length(expression) -%}
    {{ return(adapter.dispatch('email_octet_length')(expression)) }}
{%- endmacro %}

{% macro default__email_octet_length(expression) -%}
    octet_length({{ expression }})
{%- endmacro %}

{% macro duckdb__email_octet_length(expression) -%}
    strlen({{ expression }})
{%- endmacro %}
