"""Hostile free text for property tests: Jinja delimiters (a lone ``{% endraw %}`` too), a call that would read
the environment, quotes, YAML syntax, line breaks of every kind and non-ASCII characters, in any combination."""

from __future__ import annotations

from hypothesis import strategies as st

# Set in the tests' environment; no generated file may ever hold its value.
CANARY_VARIABLE = "HERALD_TEST_CANARY"
CANARY_VALUE = "canary-7f3a9c2e-never-in-a-manifest"

PIECES = (
    "{{",
    "}}",
    "{%",
    "%}",
    "{#",
    "#}",
    "{",
    "}",
    "{{-",
    "-%}",
    "{% raw %}",
    "{% endraw %}",
    "{%- endraw -%}",
    "{{ env_var('" + CANARY_VARIABLE + "') }}",
    "{{ env_var('HOME') }}",
    "{% if true %}",
    "{% endif %}",
    "{% set x = 1 %}",
    "{# comment",
    "'",
    '"',
    "''",
    "\\",
    ": ",
    " #",
    "#",
    "---",
    "...",
    "- ",
    "? ",
    "&anchor ",
    "*alias",
    "!!python/object:os.system",
    "|",
    ">",
    "%YAML",
    "@",
    "`",
    "yes",
    "null",
    "~",
    "0x1F",
    "\n",
    "\r\n",
    "\r",
    "\t",
    " ",
    "é",
    "Zoë",
    "☃",
    "𝔘𝔫𝔦",
    "\u2028",
    "\u2029",
    "\x85",
    "\ufeff",
    "\u202e",
    "\x07",
    "__herald_ref_profiles__",
)

# Any text but NUL and lone surrogates, which the specs refuse (no file can hold them).
_CHARACTERS = st.characters(codec="utf-8", exclude_characters="\x00")

hostile_text = st.lists(st.sampled_from(PIECES) | st.text(_CHARACTERS, max_size=4), min_size=1, max_size=10).map(
    "".join
)

# The examples every test runs besides the generated ones: the two texts of the bug report, and the worst cases.
KNOWN_BAD = (
    "{{ env_var('HOME') }}",
    "VIP {% if true %}only{% endif %}",
    "{{ env_var('" + CANARY_VARIABLE + "') }} and {{ env_var('HOME') }}",
    "{% endraw %}",
    "{% raw %}{{ 1 + 1 }}{% endraw %}{% endraw %}",
    "{% if %}",
    "{#",
    "key: value # not a comment\n---\n- item\n",
    "'single' \"double\" `back` \\",
    "line\r\nbreaks\rand\u2028more\n\n",
    "Zoë ☃ 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 \u202e",
    "  padded  ",
    "}}",
    "{",
)
