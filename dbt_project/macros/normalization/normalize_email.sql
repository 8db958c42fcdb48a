{#-
    normalize_email(column): an email address as Herald compares and sends it: surrounding whitespace
    removed, lower-cased. Null stays null.

    is_valid_email(normalized): true when a normalized address has sane syntax: a dot-separated local part of
    the characters RFC 5322 allows unquoted (except the quote characters), one @, dot-separated domain labels
    of letters, digits and inner hyphens, and an alphabetic top-level domain of two letters or more.
    Null is not valid.
-#}
{% macro normalize_email(column) -%}
    lower(trim({{ column }}))
{%- endmacro %}

{% macro is_valid_email(normalized) -%}
    {%- set atom = "[a-z0-9!#$%&*+/=?^_{|}~-]+" -%}
    {%- set label = "[a-z0-9]([a-z0-9-]*[a-z0-9])?" -%}
    coalesce(
        {{ regex_matches(normalized, "^" ~ atom ~ "([.]" ~ atom ~ ")*@" ~ label ~ "([.]" ~ label ~ ")*[.][a-z]{2,}$") }},
        false
    )
{%- endmacro %}
