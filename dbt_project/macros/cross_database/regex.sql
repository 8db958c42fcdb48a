{#-
    Regular expressions, the two operations the models need.

    regex_matches(expression, pattern)              -> boolean: the pattern matches somewhere in the value
                                                       (anchor it with ^...$ for a full match)
    regex_replace(expression, pattern, replacement) -> text: every match replaced

    Patterns are written once, in the syntax the three engines share (RE2 / POSIX ARE / java.util.regex):
    character classes, anchors, alternation, {m,n}. The macros escape the literal for each engine.
    Avoid backreferences, lookaround and POSIX [[:classes:]].
-#}
{% macro regex_matches(expression, pattern) -%}
    {{ return(adapter.dispatch('regex_matches')(expression, pattern)) }}
{%- endmacro %}

{% macro regex_replace(expression, pattern, replacement) -%}
    {{ return(adapter.dispatch('regex_replace')(expression, pattern, replacement)) }}
{%- endmacro %}

{% macro default__regex_matches(expression, pattern) -%}
    regexp_matches({{ expression }}, '{{ pattern | replace("'", "''") }}')
{%- endmacro %}

{% macro postgres__regex_matches(expression, pattern) -%}
    ({{ expression }} ~ '{{ pattern | replace("'", "''") }}')
{%- endmacro %}

{% macro spark__regex_matches(expression, pattern) -%}
    ({{ expression }} rlike '{{ pattern | replace("\\", "\\\\") | replace("'", "\\'") }}')
{%- endmacro %}

{% macro default__regex_replace(expression, pattern, replacement) -%}
    regexp_replace({{ expression }}, '{{ pattern | replace("'", "''") }}', '{{ replacement | replace("'", "''") }}', 'g')
{%- endmacro %}

{% macro spark__regex_replace(expression, pattern, replacement) -%}
    regexp_replace({{ expression }}, '{{ pattern | replace("\\", "\\\\") | replace("'", "\\'") }}', '{{ replacement | replace("\\", "\\\\") | replace("'", "\\'") }}')
{%- endmacro %}
