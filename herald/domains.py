"""The value domains of the warehouse: every closed set of values and every numeric range that comes in from
outside and that a dbt test checks, defined once.

The importer validates against these (``herald.importing.rules``), mapping the documented synonyms to their
value, and rejects a row whose value is still outside the domain, naming the column and the value. dbt tests the
same definitions: ``herald dev render-dbt-yaml`` renders them into ``dbt_project/macros/domains/value_domains.sql``
and the model YAML reads them there (``values: "{{ herald_value_domain('order_status') }}"``), and a test proves
the committed macro equals this module. So a value the importer accepts is always one the build accepts.

Synonyms are compared by ``spelling_key``: case, accents, spaces and punctuation do not matter, so ``Shipped``,
``SHIPPED`` and ``shipped!`` are the same spelling. A mapping file can add its own per column (``values:``).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

import pycountry


def spelling_key(value: str) -> str:
    """Lower case, accents removed, letters and digits only: how spellings of a domain value are compared.

    A spelling with no letter or digit (``€``, ``$``) is its own key.
    """
    decomposed = unicodedata.normalize("NFKD", value.casefold())
    key = re.sub(r"[\W_]+", "", "".join(ch for ch in decomposed if not unicodedata.combining(ch)))
    return key or value.strip()


@dataclass(frozen=True, slots=True)
class ValueDomain:
    """A closed set of values and the spellings that mean one of them; equal when every field is equal."""

    name: str
    values: tuple[str, ...]
    description: str
    synonyms: tuple[tuple[str, str], ...] = ()
    _index: dict[str, str] = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        index: dict[str, str] = {}
        for spelling, value in (*((v, v) for v in self.values), *self.synonyms):
            if value not in self.values:
                raise ValueError(f"domain {self.name}: synonym {spelling!r} maps to {value!r}, not a value")
            index.setdefault(spelling_key(spelling), value)
        object.__setattr__(self, "_index", index)

    def resolve(self, spelling: str) -> str | None:
        """The domain value a spelling means, or None when it means none."""
        return self._index.get(spelling_key(spelling))


@dataclass(frozen=True, slots=True)
class ValueRange:
    """Bounds a number must lie within (either may be open); equal when every field is equal."""

    name: str
    description: str
    min_value: float | None = None
    max_value: float | None = None

    def contains(self, number: float) -> bool:
        return (self.min_value is None or number >= self.min_value) and (
            self.max_value is None or number <= self.max_value
        )


def _pairs(mapping: dict[str, tuple[str, ...]]) -> tuple[tuple[str, str], ...]:
    return tuple((spelling, value) for value, spellings in mapping.items() for spelling in spellings)


ORDER_STATUS = ValueDomain(
    "order_status",
    ("completed", "pending", "cancelled", "refunded"),
    "Where an order stands. Only completed orders count as purchases (revenue, RFM, conversions).",
    _pairs({
        "completed": ("complete", "paid", "fulfilled", "shipped", "delivered", "closed", "partially_refunded",
                      "return_pending", "return_requested"),
        "pending": ("placed", "new", "open", "processing", "on_hold", "pending_payment", "awaiting_payment",
                    "awaiting_fulfillment", "unpaid", "authorized", "backordered"),
        "cancelled": ("canceled", "cancel", "void", "voided", "failed", "declined", "abandoned", "expired"),
        "refunded": ("refund", "returned", "fully_refunded", "chargeback", "charged_back"),
    }),
)  # fmt: skip

SALES_CHANNEL = ValueDomain(
    "sales_channel",
    ("web", "app", "store"),
    "Where an order was placed.",
    _pairs({
        "web": ("online", "website", "webshop", "ecommerce", "e-commerce", "internet", "desktop"),
        "app": ("mobile_app", "mobile", "ios", "android"),
        "store": ("shop", "retail", "pos", "point_of_sale", "offline", "in_store", "physical"),
    }),
)  # fmt: skip

CHANNEL = ValueDomain(
    "channel",
    ("email", "sms", "push", "in_app", "direct_mail"),
    "A messaging channel (consents, sends, deliveries).",
    _pairs({
        "email": ("e-mail", "mail", "email_marketing", "newsletter"),
        "sms": ("text", "text_message", "mobile"),
        "push": ("push_notification", "push_notifications", "app_push"),
        "in_app": ("inapp", "in_app_message"),
        "direct_mail": ("post", "postal", "postal_mail", "letter"),
    }),
)  # fmt: skip

CONSENT_STATUS = ValueDomain(
    "consent_status",
    ("opt_in", "opt_out"),
    "A consent event: given or withdrawn.",
    _pairs({
        "opt_in": ("optin", "opted in", "in", "subscribed", "subscribe", "yes", "y", "true", "1", "granted",
                   "consented", "consent", "accepted", "accept", "on", "active", "confirmed", "double opt-in", "ja",
                   "oui"),
        "opt_out": ("optout", "opted out", "out", "unsubscribed", "unsubscribe", "no", "n", "false", "0", "revoked",
                    "withdrawn", "declined", "denied", "refused", "off", "inactive", "nein", "non"),
    }),
)  # fmt: skip

PAYMENT_STATUS = ValueDomain(
    "payment_status",
    ("pending", "authorized", "captured", "refunded", "failed", "voided"),
    "What one payment transaction did. Only captured money counts as paid; a refunded row is money given back "
    "(a refund is its own row, with a positive amount); pending, authorized, failed and voided move no money.",
    _pairs({
        "pending": ("processing", "in_progress", "initiated", "created", "open", "requires_action",
                    "requires_confirmation", "awaiting_payment", "unpaid"),
        "authorized": ("authorised", "authorization", "authorisation", "auth", "requires_capture", "approved",
                       "reserved"),
        "captured": ("capture", "paid", "sale", "settled", "succeeded", "success", "successful", "completed",
                     "complete", "charged", "collected", "sentforsettle", "bezahlt", "payé"),
        "refunded": ("refund", "partially_refunded", "partial_refund", "chargeback", "charged_back", "reversed",
                     "reversal", "returned", "erstattet", "remboursé"),
        "failed": ("failure", "declined", "refused", "rejected", "denied", "error", "errored", "abgelehnt",
                   "refusé"),
        "voided": ("void", "cancelled", "canceled", "cancel", "expired", "released", "storniert", "annulé"),
    }),
)  # fmt: skip

CURRENCY = ValueDomain(
    "currency",
    tuple(sorted(c.alpha_3 for c in pycountry.currencies)),
    "An ISO 4217 currency code.",
    (("€", "EUR"), ("euro", "EUR"), ("euros", "EUR"), ("$", "USD"), ("US$", "USD"), ("£", "GBP"), ("¥", "JPY"),
     ("Fr.", "CHF"), ("zł", "PLN"), ("kr", "SEK"), ("₹", "INR"), ("R$", "BRL")),
)  # fmt: skip

DOMAINS: tuple[ValueDomain, ...] = (ORDER_STATUS, SALES_CHANNEL, CHANNEL, CONSENT_STATUS, PAYMENT_STATUS, CURRENCY)

AMOUNT = ValueRange("amount", "A money amount: a refund is a status, never a negative amount.", min_value=0)
QUANTITY = ValueRange("quantity", "Units of a product: a return is a status, never a negative quantity.", min_value=0)

RANGES: tuple[ValueRange, ...] = (AMOUNT, QUANTITY)

# Which landed column holds which domain or range: (raw table, column) -> definition.
COLUMN_DOMAINS: dict[tuple[str, str], ValueDomain] = {
    ("shop_orders", "status"): ORDER_STATUS,
    ("shop_orders", "sales_channel"): SALES_CHANNEL,
    ("shop_orders", "currency"): CURRENCY,
    ("consent_events", "channel"): CHANNEL,
    ("consent_events", "status"): CONSENT_STATUS,
    ("shop_payments", "status"): PAYMENT_STATUS,
    ("shop_payments", "currency"): CURRENCY,
}
COLUMN_RANGES: dict[tuple[str, str], ValueRange] = {
    ("shop_orders", "total_amount"): AMOUNT,
    ("shop_order_lines", "quantity"): QUANTITY,
    ("shop_order_lines", "unit_price"): AMOUNT,
    ("shop_payments", "amount"): AMOUNT,
}


def domain(name: str) -> ValueDomain:
    """A domain by name; raises ``KeyError`` naming the known ones."""
    for d in DOMAINS:
        if d.name == name:
            return d
    raise KeyError(f"unknown value domain {name!r}; known: {', '.join(d.name for d in DOMAINS)}")


def value_range(name: str) -> ValueRange:
    """A range by name; raises ``KeyError`` naming the known ones."""
    for r in RANGES:
        if r.name == name:
            return r
    raise KeyError(f"unknown value range {name!r}; known: {', '.join(r.name for r in RANGES)}")
