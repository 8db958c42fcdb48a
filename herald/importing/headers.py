"""Match a file's headers to raw columns: mapping file first, then exact names, then known synonyms.

Headers are compared after normalizing case, spaces, punctuation and accents, so "E-Mail", "e_mail" and "EMAIL"
are the same name and "Prénom" matches "prenom". Synonyms are per raw table: "id" means ``external_key`` in a
contacts file but ``order_id`` in an orders file. When two headers would fill the same column, the stronger
match wins (mapping > exact > synonym); two equally strong ones are an error, because picking one silently would
drop data.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from herald.errors import ImportFileError
from herald.importing.errors import MappingFileError
from herald.importing.report import ColumnMatch, MatchMethod
from herald.raw_schema import RawTable

# Alternative names per raw column, written as people write them; normalized when used.
SYNONYMS: dict[str, tuple[str, ...]] = {
    # contacts
    "external_key": (
        "Customer ID",
        "CustomerId",
        "Customer number",
        "Customer no",
        "Contact ID",
        "Client ID",
        "CRM ID",
        "External ID",
        "User ID",
        "Member ID",
        "Kundennummer",
        "Kunden-Nr",
        "Numéro client",
    ),
    "email": ("Email", "E-mail Address", "Email address", "mail", "Mail address", "E-Mail-Adresse", "courriel"),
    "phone": (
        "Mobile",
        "Phone number",
        "tel",
        "Telephone",
        "Telephone number",
        "Mobile phone",
        "Mobile number",
        "Cell",
        "Cell phone",
        "Handy",
        "Telefon",
        "Telefonnummer",
        "Téléphone",
        "Portable",
    ),
    "first_name": ("First name", "Given name", "Firstname", "Forename", "prénom", "Vorname", "fname"),
    "last_name": ("Last name", "Surname", "Family name", "Lastname", "Nachname", "nom", "nom de famille", "lname"),
    "address_line1": (
        "Address",
        "Street",
        "Street address",
        "Address 1",
        "Address line 1",
        "Adresse",
        "Straße",
        "Strasse",
        "Rue",
    ),
    "address_line2": ("Address 2", "Address line 2", "Apartment", "Suite", "Adresszusatz", "Complément d'adresse"),
    "postal_code": ("Zip", "Zip code", "ZIP", "Postcode", "Post code", "Postal code", "PLZ", "Code postal", "CP"),
    "city": ("Town", "Ort", "Stadt", "Ville", "Locality"),
    "country_code": ("Country", "Country ISO", "ISO country", "Land", "Pays"),
    "language_code": ("Language", "lang", "Preferred language", "Sprache", "Langue"),
    "time_zone": ("Timezone", "TZ", "Zeitzone"),
    "birth_date": (
        "DOB",
        "Date of birth",
        "birthday",
        "Birthdate",
        "Birth date",
        "Geburtsdatum",
        "Geburtstag",
        "Date de naissance",
    ),
    "attributes": ("Custom attributes", "Custom fields"),
    "created_at": ("Created", "Created date", "Creation date", "Date created", "Signup date", "Sign-up date"),
    "updated_at": ("Updated", "Modified", "Last modified", "Last updated", "Date modified", "Modified at"),
    # consents
    "consent_event_id": ("Consent ID", "Consent event ID"),
    "channel": ("Medium", "Kanal", "Canal"),
    "topic": ("Subscription", "List", "List name", "Subscription type", "Thema"),
    "status": ("Consent", "Consent status", "Subscription status", "Opt-in status", "State"),
    "source": ("Origin", "Consent source", "Quelle"),
    "evidence_id": ("Evidence", "Proof", "Form ID"),
    "ip_address": ("IP", "IP address", "IP-Adresse"),
    "occurred_at": ("Date", "Timestamp", "Consent date", "Occurred", "Time", "Created", "Created at", "Changed at"),
    # orders
    "order_id": ("Order ID", "Order number", "Order no", "Order #", "Bestellnummer"),
    "sales_channel": ("Channel", "Sales channel", "Shop", "Store type"),
    "currency": ("Currency code", "Währung", "Devise", "CCY"),
    "total_amount": ("Total", "Amount", "Order total", "Grand total", "Revenue", "Gesamtbetrag", "Montant"),
    "ordered_at": ("Order date", "Ordered", "Date", "Purchase date", "Created at", "Created", "Bestelldatum"),
    # order lines
    "order_line_id": ("Line ID", "Line item ID", "Order line ID", "Item line ID"),
    "product_id": ("SKU", "Product ID", "Item ID", "Article number", "Artikelnummer"),
    "product_name": ("Product", "Product name", "Item name", "Item", "Artikel"),
    "category": ("Product category", "Kategorie", "Catégorie"),
    "quantity": ("Qty", "Units", "Menge", "Quantité", "Count"),
    "unit_price": ("Price", "Unit price", "Item price", "Preis", "Prix"),
}
# Bare "id" / "key" mean the table's own key.
KEY_SYNONYMS: tuple[str, ...] = ("id", "key", "identifier")
# Names that mean a column in one table only: "Payment status" is a payment's status, and must not become an
# order's status in an orders file that also has a column of that name. These win over ``SYNONYMS``.
TABLE_SYNONYMS: dict[tuple[str, str], tuple[str, ...]] = {
    ("shop_payments", "payment_id"): (
        "Payment ID",
        "Payment number",
        "Payment reference",
        "Transaction ID",
        "Transaction",
        "Transaction reference",
        "Charge ID",
        "PSP reference",
        "pspReference",
        "Zahlungs-ID",
        "Transaktions-ID",
        "Référence de paiement",
    ),
    ("shop_payments", "order_id"): ("Order", "Order name", "Order reference", "Merchant reference"),
    ("shop_payments", "status"): (
        "Payment status",
        "Transaction status",
        "Kind",
        "Transaction type",
        "Result",
        "Zahlungsstatus",
        "Statut du paiement",
    ),
    ("shop_payments", "method"): (
        "Payment method",
        "Payment type",
        "Payment gateway",
        "Gateway",
        "Payment provider",
        "Provider",
        "Tender",
        "Zahlungsart",
        "Zahlungsmethode",
        "Moyen de paiement",
        "Mode de paiement",
    ),
    ("shop_payments", "amount"): (
        "Payment amount",
        "Amount paid",
        "Transaction amount",
        "Gross",
        "Gross amount",
        "Value",
        "Betrag",
        "Montant",
        "Total",
    ),
    ("shop_payments", "processed_at"): (
        "Paid at",
        "Paid",
        "Payment date",
        "Transaction date",
        "Processed",
        "Processed date",
        "Date",
        "Timestamp",
        "Time",
        "Created",
        "Created at",
        "Created date",
        "Zahlungsdatum",
        "Datum",
        "Date de paiement",
    ),
}

_PRECEDENCE: dict[MatchMethod, int] = {"mapping": 3, "exact": 2, "synonym": 1}


def normalize_header(name: str) -> str:
    """Case-, space-, punctuation- and accent-insensitive form of a name: ``"E-Mail Adresse"`` -> ``emailadresse``."""
    decomposed = unicodedata.normalize("NFKD", name.casefold())
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return re.sub(r"[^0-9a-z]+", "", stripped)


def synonym_index(table: RawTable) -> dict[str, str]:
    """Normalized synonym -> raw column, for the columns of ``table`` only."""
    index: dict[str, str] = {}
    for column in table.column_names:
        for synonym in TABLE_SYNONYMS.get((table.name, column), ()):
            index.setdefault(normalize_header(synonym), column)
    for column in table.column_names:
        for synonym in SYNONYMS.get(column, ()):
            index.setdefault(normalize_header(synonym), column)
    for synonym in KEY_SYNONYMS:
        index[normalize_header(synonym)] = table.key
    for column in table.column_names:
        index.pop(normalize_header(column), None)  # an exact name is never also a synonym
    return index


@dataclass(frozen=True, slots=True)
class ColumnPlan:
    """Which header fills which raw column; equal when matches, unmatched and blank headers are equal.

    ``sources`` pairs each matched raw column with the index of its header; ``unmatched`` holds the indexes of
    non-blank headers that fill no column, ``blank`` those of headers with no name. ``shadowed`` pairs unmatched
    headers that would have filled a column with that column, which a stronger match already fills.
    """

    matches: tuple[ColumnMatch, ...]
    sources: tuple[tuple[str, int], ...]
    unmatched: tuple[int, ...]
    blank: tuple[int, ...]
    shadowed: tuple[tuple[int, str], ...] = ()

    def source_of(self, column: str) -> int | None:
        for name, index in self.sources:
            if name == column:
                return index
        return None

    @property
    def matched_columns(self) -> frozenset[str]:
        return frozenset(name for name, _ in self.sources)


def match_columns(
    path: Path, headers: tuple[str, ...], table: RawTable, mapped: tuple[tuple[str, str], ...] = ()
) -> ColumnPlan:
    """Decide which header fills which raw column. ``mapped`` pairs raw columns with headers from a mapping file."""
    claims: dict[str, list[tuple[int, MatchMethod]]] = {}
    taken: set[int] = set()
    for column, header in mapped:
        index = _find_header(headers, header)
        if index is None:
            close = difflib.get_close_matches(header, [h for h in headers if h], n=3, cutoff=0.5)
            hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
            raise MappingFileError(
                f"{path}: the mapping reads {column} from {header!r}, which is not a column of the file{hint}"
            )
        if index in taken:
            raise MappingFileError(f"{path}: the mapping reads header {headers[index]!r} into more than one column")
        taken.add(index)
        claims.setdefault(column, []).append((index, "mapping"))

    exact = {normalize_header(c): c for c in table.column_names}
    synonyms = synonym_index(table)
    blank: list[int] = []
    for index, header in enumerate(headers):
        if index in taken:
            continue
        if not header.strip():
            blank.append(index)
            continue
        key = normalize_header(header)
        if key in exact:
            claims.setdefault(exact[key], []).append((index, "exact"))
        elif key in synonyms:
            claims.setdefault(synonyms[key], []).append((index, "synonym"))

    chosen: dict[int, ColumnMatch] = {}
    shadowed: list[tuple[int, str]] = []
    for column, candidates in claims.items():
        strongest = max(_PRECEDENCE[m] for _, m in candidates)
        winners = [(i, m) for i, m in candidates if _PRECEDENCE[m] == strongest]
        shadowed.extend((i, column) for i, m in candidates if _PRECEDENCE[m] < strongest)
        if len(winners) > 1:
            names = " and ".join(repr(headers[i]) for i, _ in winners)
            raise ImportFileError(
                f"{path}: headers {names} both read as {column}; rename one, or say which in a mapping file"
            )
        index, method = winners[0]
        chosen[index] = ColumnMatch(source=headers[index], column=column, method=method)

    ordered = sorted(chosen.items())
    unmatched = tuple(i for i in range(len(headers)) if i not in chosen and i not in blank)
    return ColumnPlan(
        matches=tuple(m for _, m in ordered),
        sources=tuple((m.column, i) for i, m in ordered),
        unmatched=unmatched,
        blank=tuple(blank),
        shadowed=tuple(sorted(shadowed)),
    )


def _find_header(headers: tuple[str, ...], wanted: str) -> int | None:
    for index, header in enumerate(headers):
        if header == wanted.strip():
            return index
    key = normalize_header(wanted)
    found = [i for i, h in enumerate(headers) if normalize_header(h) == key]
    return found[0] if len(found) == 1 else None


def suggest_column(header: str, table: RawTable) -> str | None:
    """The raw column a misspelt header most likely meant, or None when nothing is close."""
    names = {normalize_header(c): c for c in table.column_names}
    names.update(synonym_index(table))
    close = difflib.get_close_matches(normalize_header(header), list(names), n=1, cutoff=0.75)
    return names[close[0]] if close else None


_DATA_LIKE = re.compile(r"@|^[+-]?\d[\d.,\s]*$|^\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}")


def looks_like_data(headers: tuple[str, ...]) -> tuple[str, ...]:
    """Header cells that look like values (an email address, a number, a date): a sign the file has no header."""
    return tuple(h for h in headers if _DATA_LIKE.search(h))
