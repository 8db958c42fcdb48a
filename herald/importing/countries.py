"""Countries, languages and time zones as people write them, resolved to the codes Herald stores.

The reference data is maintained elsewhere: ISO 3166 countries, ISO 639 languages and ISO 4217 currencies come
from ``pycountry``; country and language names in other languages (``Deutschland``, ``Allemagne``, ``Spanien``,
``Elfenbeinküste``) and time-zone aliases from ``babel`` (CLDR); time zones from the IANA database (``zoneinfo``).
A short list of variants that neither has (``UK``, ``USA``, ``Holland``, Kosovo's ``XK`` which CRMs use, ``EST``)
completes them.

Each lookup table is built once per process, on first use (loading every CLDR locale takes about a second), and
matches a normalized spelling: case, accents, spaces and punctuation are ignored, so ``Côte d’Ivoire``,
``COTE D'IVOIRE`` and ``cote-divoire`` are the same key. When two sources disagree about a spelling, the earlier
source wins: codes, then ISO names, then the variants below, then CLDR names in English, then in other languages
(a name that means different countries in two languages is dropped rather than guessed).

    >>> country_code("Deutschland"), country_code("CIV"), language_code("fr-CA"), time_zone("eastern standard time")
    ('DE', 'CI', 'fr', 'America/New_York')
"""

from __future__ import annotations

import re
import unicodedata
import zoneinfo
from collections.abc import Callable, Iterable
from functools import cache

import pycountry
from babel import Locale, localedata
from babel.core import get_global

# Letters NFKD does not decompose, spelled the way people type them without the key.
_FOLD = str.maketrans({"ø": "o", "æ": "ae", "œ": "oe", "ł": "l", "đ": "d", "ð": "d", "þ": "th", "ı": "i"})


def lookup_key(value: str) -> str:
    """Case, accents, spaces and punctuation removed; letters of any script kept (``Германия`` stays Cyrillic)."""
    folded = unicodedata.normalize("NFKD", value.casefold().translate(_FOLD)).translate(_FOLD)
    return re.sub(r"[\W_]+", "", "".join(ch for ch in folded if not unicodedata.combining(ch)))


# Spellings neither pycountry nor CLDR has, or has for another country first.
COUNTRY_VARIANTS: dict[str, str] = {
    "UK": "GB", "U.K.": "GB", "Great Britain": "GB", "Britain": "GB", "England": "GB", "Scotland": "GB",
    "Wales": "GB", "Northern Ireland": "GB", "EL": "GR",  # the EU's code for Greece
    "USA": "US", "U.S.A.": "US", "U.S.": "US", "America": "US", "United States of America": "US",
    "Holland": "NL", "The Netherlands": "NL", "Kosovo": "XK", "Republic of Kosovo": "XK", "Kosova": "XK",
    "South Korea": "KR", "Korea": "KR", "Republic of Korea": "KR", "North Korea": "KP",
    "Russia": "RU", "Czech Republic": "CZ", "Slovak Republic": "SK", "Ivory Coast": "CI",
    "Vietnam": "VN", "Laos": "LA", "Syria": "SY", "Iran": "IR", "Bolivia": "BO", "Venezuela": "VE",
    "Tanzania": "TZ", "Moldova": "MD", "Macedonia": "MK", "Swaziland": "SZ", "Burma": "MM", "Cape Verde": "CV",
    "East Timor": "TL", "Turkey": "TR", "Türkiye": "TR", "Vatican": "VA", "Vatican City": "VA",
    "Palestine": "PS", "Taiwan": "TW", "Hong Kong": "HK", "Macau": "MO", "Macao": "MO", "Brunei": "BN",
    "UAE": "AE", "KSA": "SA", "Saudi": "SA", "DRC": "CD", "DR Congo": "CD", "Congo-Kinshasa": "CD",
    "Congo-Brazzaville": "CG", "Micronesia": "FM", "St Lucia": "LC", "St Kitts and Nevis": "KN",
    "St Vincent and the Grenadines": "VC", "Falklands": "FK", "Faroe Islands": "FO",
    "Großbritannien": "GB", "Elfenbeinküste": "CI", "Vereinigte Staaten von Amerika": "US",
}  # fmt: skip

_NOT_A_COUNTRY = frozenset({"AA", "QM", "QN", "QO", "XA", "XB", "ZZ", "EU", "EZ", "UN"})


def _iso_countries() -> dict[str, str]:
    codes = {c.alpha_2: c.alpha_2 for c in pycountry.countries}
    codes["XK"] = "XK"  # user-assigned by ISO, used by the EU, banks and CRMs for Kosovo
    return codes


@cache
def _country_codes() -> dict[str, str]:
    """Alpha-2 and alpha-3 code -> alpha-2. Cheap: most files need nothing else."""
    alpha2 = _iso_countries()
    return {**alpha2, **{c.alpha_3: c.alpha_2 for c in pycountry.countries}, "XKX": "XK", "UK": "GB", "EL": "GR"}


@cache
def _country_names() -> dict[str, str]:
    """Normalized name -> alpha-2: ISO names, variants and every CLDR locale's names (about a second to build,
    so only when a value is not a code)."""
    iso: list[tuple[str, str]] = []
    for c in pycountry.countries:
        for attr in ("name", "official_name", "common_name"):
            if (name := getattr(c, attr, None)) is not None:
                iso.append((name, c.alpha_2))
    # "Bolivia, Plurinational State of" -> "Bolivia" (only where the short form means one country).
    short: dict[str, set[str]] = {}
    for name, code in iso:
        if "," in name:
            short.setdefault(name.split(",")[0], set()).add(code)
    iso += [(name, next(iter(found))) for name, found in short.items() if len(found) == 1]
    names: dict[str, str] = {}
    _add_all(names, iso)
    _add_all(names, COUNTRY_VARIANTS.items())
    _add_cldr(names, lambda locale: locale.territories.items(), _iso_countries())
    return names


LANGUAGE_VARIANTS: dict[str, str] = {"Castellano": "es", "Castilian": "es", "Farsi": "fa", "Mandarin": "zh"}


@cache
def _language_codes() -> dict[str, str]:
    """ISO 639 code (alpha-2, alpha-3, bibliographic) -> stored code, the shortest ISO 639 code."""
    codes: dict[str, str] = {}
    for lang in pycountry.languages:
        stored = getattr(lang, "alpha_2", None) or lang.alpha_3
        for attr in ("alpha_2", "alpha_3", "bibliographic"):
            if (code := getattr(lang, attr, None)) is not None:
                codes.setdefault(code.lower(), stored)
    return codes


@cache
def _language_names() -> dict[str, str]:
    """Normalized name -> stored code: ISO names, variants and every CLDR locale's names (built only when a
    value is neither a code nor a locale)."""
    names: list[tuple[str, str]] = []
    for lang in pycountry.languages:
        stored = getattr(lang, "alpha_2", None) or lang.alpha_3
        for attr in ("name", "common_name"):
            if (name := getattr(lang, attr, None)) is not None:
                names.append((name, stored))
                names.append((re.sub(r"\s*\(.*\)$", "", name), stored))  # "Modern Greek (1453-)"
    table: dict[str, str] = {}
    _add_all(table, names)
    _add_all(table, LANGUAGE_VARIANTS.items())
    # CLDR keys languages by their shortest code, sometimes with a region or script ("en_GB", "zh_Hant").
    _add_cldr(table, lambda locale: ((k.split("_")[0], v) for k, v in locale.languages.items()), _language_codes())
    return table


def _add_all(table: dict[str, str], pairs: Iterable[tuple[str, str]]) -> None:
    for name, code in pairs:
        key = lookup_key(name)
        if key:
            table.setdefault(key, code)
            if key.startswith("the") and len(key) > 6:
                table.setdefault(key[3:], code)


def _add_cldr(
    table: dict[str, str], names_of: Callable[[Locale], Iterable[tuple[str, str]]], known: dict[str, str]
) -> None:
    """Names from every CLDR base locale, English first; a name claimed for two codes by CLDR is dropped."""
    identifiers = ["en", *sorted(i for i in localedata.locale_identifiers() if "_" not in i and i != "en")]
    found: dict[str, set[str]] = {}
    english: dict[str, str] = {}
    for identifier in identifiers:
        for code, name in names_of(Locale.parse(identifier)):
            stored = known.get(code) if code not in _NOT_A_COUNTRY else None
            key = lookup_key(name)
            if stored is None or (len(key) < 4 and key.isascii()):  # short Latin names collide with codes
                continue
            if identifier == "en":
                english.setdefault(key, stored)
            found.setdefault(key, set()).add(stored)
    for key, stored in english.items():
        table.setdefault(key, stored)
    for key, codes in found.items():
        if len(codes) == 1:
            table.setdefault(key, next(iter(codes)))


def country_code(value: str) -> str | None:
    """The ISO 3166-1 alpha-2 code (or XK) for a code, alpha-3 code or name in any language; None if unknown."""
    text = value.strip()
    if len(text) in (2, 3) and text.isascii() and text.isalpha():
        code = _country_codes().get(text.upper())
        if code is not None:
            return code
    return _country_names().get(lookup_key(text))


_LOCALE = re.compile(r"^([A-Za-z]{2,3})(?:[-_][A-Za-z0-9]{1,8})*(?:\.[\w-]+)?(?:@\w+)?$")


def language_code(value: str) -> str | None:
    """The ISO 639 code (two letters where one exists) for a code, a locale (``fr-CA``, ``pt_BR.UTF-8``) or a
    language name in any language; None if unknown."""
    text = value.strip()
    match = _LOCALE.match(text)
    if match and (code := _language_codes().get(match.group(1).lower())) is not None:
        return code
    return _language_names().get(lookup_key(text))


# Names CRMs and spreadsheets use that the IANA database does not have (CLDR adds old names the installed
# database may lack, and Windows zone names).
TIME_ZONE_VARIANTS: dict[str, str] = {
    "Z": "UTC", "GMT": "UTC", "UTC": "UTC", "Universal": "UTC", "Zulu": "UTC",
    "Eastern Time": "America/New_York", "EST": "America/New_York", "EDT": "America/New_York",
    "Central Time": "America/Chicago", "CDT": "America/Chicago",
    "Mountain Time": "America/Denver", "MST": "America/Denver", "MDT": "America/Denver",
    "Pacific Time": "America/Los_Angeles", "PST": "America/Los_Angeles", "PDT": "America/Los_Angeles",
    "CET": "Europe/Paris", "CEST": "Europe/Paris", "WET": "Europe/Lisbon", "EET": "Europe/Athens",
    "BST": "Europe/London", "IST": "Asia/Kolkata", "JST": "Asia/Tokyo", "AEST": "Australia/Sydney",
}  # fmt: skip

_OFFSET = re.compile(r"^(?:utc|gmt)\s*([+-])\s*(\d{1,2})(?::?00)?$")


@cache
def _time_zones() -> dict[str, str]:
    """Normalized spelling -> canonical IANA name."""
    available = zoneinfo.available_timezones()
    aliases: dict[str, str] = dict(get_global("zone_aliases"))
    table: dict[str, str] = {}
    for name in available:  # the database's own names, links included, are kept as spelled there
        table[_zone_key(name)] = name
    for alias, name in aliases.items():
        if name in available:
            table.setdefault(_zone_key(alias), name)
    for windows, name in get_global("windows_zone_mapping").items():
        if name in available:
            table.setdefault(_zone_key(windows), name)
    for variant, name in TIME_ZONE_VARIANTS.items():
        table.setdefault(_zone_key(variant), name)
    return table


def _zone_key(value: str) -> str:
    return re.sub(r"[\s_]+", "_", value.strip().casefold())


def time_zone(value: str) -> str | None:
    """The canonical IANA name for a zone name, an alias (``US/Eastern``), a Windows zone name, a common
    abbreviation or a whole-hour UTC offset (``UTC+2`` -> ``Etc/GMT-2``, the database's inverted sign); None if
    unknown."""
    zones = _time_zones()
    if not zones:  # no time zone database on this machine: accept anything shaped like a zone name
        return value if re.fullmatch(r"[A-Za-z_]+(?:/[A-Za-z0-9_+\-]+)*", value) else None
    found = zones.get(_zone_key(value))
    if found is not None:
        return found
    offset = _OFFSET.match(value.strip().casefold())
    if offset is not None and int(offset.group(2)) <= 12:
        hours = int(offset.group(2))
        if hours == 0:
            return "UTC"
        return f"Etc/GMT{'-' if offset.group(1) == '+' else '+'}{hours}"
    return None
