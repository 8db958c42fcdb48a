"""The raw landing shape: what lands from the CRM, the shop, the app and the email provider.

This module is the single definition of every raw table. The importer validates against it, the generator
writes it, the demo seeds follow it, and dbt's sources and seed column types are checked against it by a test,
so the shape cannot drift between the places that produce and read raw data.

Every landed row also carries the batch columns in ``BATCH_COLUMNS`` (which import or generation wrote it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from herald.domains import CHANNEL, CONSENT_STATUS, CURRENCY, ORDER_STATUS, PAYMENT_STATUS, SALES_CHANNEL

RawType = Literal["varchar", "integer", "double", "date", "timestamp"]


@dataclass(frozen=True, slots=True)
class RawColumn:
    """One column of a raw table; equal when name, type and meaning are equal."""

    name: str
    type: RawType
    description: str
    required: bool = False


@dataclass(frozen=True, slots=True)
class RawTable:
    """One raw source table; ``key`` is the column that identifies a record in its source system."""

    name: str
    system: str
    description: str
    key: str
    columns: tuple[RawColumn, ...]
    loaded_at_column: str

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> RawColumn:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)


def _one_of(values: tuple[str, ...]) -> str:
    return f"{', '.join(values[:-1])} or {values[-1]}"


def _c(name: str, type_: RawType, description: str, *, required: bool = False) -> RawColumn:
    return RawColumn(name, type_, description, required)


BATCH_COLUMNS: tuple[RawColumn, ...] = (
    _c("_batch_id", "varchar", "Landing batch that wrote this row (sortable: time first).", required=True),
    _c("_source_file", "varchar", "File name the batch was read from.", required=True),
    _c("_line_number", "integer", "Line (CSV) or row (Parquet) number of this record in its file.", required=True),
    _c("_loaded_at", "timestamp", "When the batch landed (UTC).", required=True),
)

CRM_CONTACTS = RawTable(
    name="crm_contacts",
    system="crm",
    description="Contacts as exported by the CRM; a later batch with the same external key updates the contact.",
    key="external_key",
    loaded_at_column="_loaded_at",
    columns=(
        _c("external_key", "varchar", "The CRM's id for the contact.", required=True),
        _c("first_name", "varchar", "Given name."),
        _c("last_name", "varchar", "Family name."),
        _c("email", "varchar", "Email address as typed."),
        _c("phone", "varchar", "Phone number as typed (any format)."),
        _c("address_line1", "varchar", "Street address."),
        _c("address_line2", "varchar", "Apartment, suite, building."),
        _c("postal_code", "varchar", "Postal or ZIP code."),
        _c("city", "varchar", "City."),
        _c("country_code", "varchar", "ISO 3166-1 alpha-2 country code."),
        _c("language_code", "varchar", "ISO 639-1 language code."),
        _c("time_zone", "varchar", "IANA time zone name."),
        _c("birth_date", "date", "Date of birth."),
        _c("attributes", "varchar", "Custom attributes as a JSON object."),
        _c("created_at", "timestamp", "When the CRM created the contact (UTC)."),
        _c("updated_at", "timestamp", "When the CRM last changed the contact (UTC)."),
    ),
)

CONSENT_EVENTS = RawTable(
    name="consent_events",
    system="crm",
    description="Opt-ins and opt-outs per channel and topic, with their evidence.",
    key="consent_event_id",
    loaded_at_column="_loaded_at",
    columns=(
        _c("consent_event_id", "varchar", "Id of the consent event in its source.", required=True),
        _c("external_key", "varchar", "Contact the consent belongs to.", required=True),
        _c("channel", "varchar", f"{_one_of(CHANNEL.values)} (domain {CHANNEL.name}).", required=True),
        _c("topic", "varchar", "Subscription topic, e.g. newsletter, promotions.", required=True),
        _c("status", "varchar", f"{_one_of(CONSENT_STATUS.values)} (domain {CONSENT_STATUS.name}).", required=True),
        _c("source", "varchar", "Where the consent was given: web_form, import, preference_center, ..."),
        _c("evidence_id", "varchar", "Form id, unsubscribe message id, or import batch that proves it."),
        _c("ip_address", "varchar", "IP address the consent came from, when known."),
        _c("occurred_at", "timestamp", "When the consent was given or withdrawn (UTC).", required=True),
    ),
)

SHOP_ORDERS = RawTable(
    name="shop_orders",
    system="shop",
    description="Orders from the shop.",
    key="order_id",
    loaded_at_column="_loaded_at",
    columns=(
        _c("order_id", "varchar", "The shop's order id.", required=True),
        _c("external_key", "varchar", "Contact who placed the order.", required=True),
        _c("status", "varchar", f"{_one_of(ORDER_STATUS.values)} (domain {ORDER_STATUS.name})."),
        _c("sales_channel", "varchar", f"{_one_of(SALES_CHANNEL.values)} (domain {SALES_CHANNEL.name})."),
        _c("currency", "varchar", f"ISO 4217 currency code (domain {CURRENCY.name})."),
        _c("total_amount", "double", "Order total in its currency; never negative."),
        _c("ordered_at", "timestamp", "When the order was placed (UTC).", required=True),
    ),
)

SHOP_ORDER_LINES = RawTable(
    name="shop_order_lines",
    system="shop",
    description="Lines of shop orders.",
    key="order_line_id",
    loaded_at_column="_loaded_at",
    columns=(
        _c("order_line_id", "varchar", "The shop's order line id.", required=True),
        _c("order_id", "varchar", "Order the line belongs to.", required=True),
        _c("product_id", "varchar", "Product sold."),
        _c("product_name", "varchar", "Product name at the time of sale."),
        _c("category", "varchar", "Product category."),
        _c("quantity", "integer", "Units sold; never negative."),
        _c("unit_price", "double", "Price per unit in the order currency; never negative."),
    ),
)

SHOP_PAYMENTS = RawTable(
    name="shop_payments",
    system="shop",
    description=(
        "Payment transactions of shop orders, one row per transaction (a capture, a refund, a failed attempt...). "
        "Many shops export them apart from the orders; an order's paid and refunded amounts come from them."
    ),
    key="payment_id",
    loaded_at_column="_loaded_at",
    columns=(
        _c("payment_id", "varchar", "The shop's or payment provider's id of the transaction.", required=True),
        _c("order_id", "varchar", "Order the payment belongs to.", required=True),
        _c("status", "varchar", f"{_one_of(PAYMENT_STATUS.values)} (domain {PAYMENT_STATUS.name}).", required=True),
        _c("method", "varchar", "How it was paid, as the shop names it: card, paypal, klarna, gift_card, ..."),
        _c("currency", "varchar", f"ISO 4217 currency code (domain {CURRENCY.name}); empty: the order's currency."),
        _c("amount", "double", "Amount of the transaction; never negative (a refund is a status).", required=True),
        _c("processed_at", "timestamp", "When the transaction was processed (UTC).", required=True),
    ),
)

APP_EVENTS = RawTable(
    name="app_events",
    system="app",
    description="Behavioural events from the website and the mobile app.",
    key="event_id",
    loaded_at_column="_loaded_at",
    columns=(
        _c("event_id", "varchar", "Id of the event.", required=True),
        _c("external_key", "varchar", "Contact who did it.", required=True),
        _c("event_type", "varchar", "page_view, product_view, add_to_cart, search, app_open.", required=True),
        _c("properties", "varchar", "Event properties as a JSON object."),
        _c("occurred_at", "timestamp", "When it happened (UTC).", required=True),
    ),
)

PUSH_TOKENS = RawTable(
    name="push_tokens",
    system="app",
    description="Push device registrations.",
    key="device_id",
    loaded_at_column="_loaded_at",
    columns=(
        _c("device_id", "varchar", "Id of the installation.", required=True),
        _c("external_key", "varchar", "Contact signed in on the device.", required=True),
        _c("platform", "varchar", "ios or android."),
        _c("token", "varchar", "FCM registration token."),
        _c("registered_at", "timestamp", "When the token was registered (UTC)."),
        _c("unregistered_at", "timestamp", "When the token was revoked (UTC), if it was."),
    ),
)

MESSAGE_HISTORY = RawTable(
    name="message_history",
    system="esp",
    description="Messages sent in the past, before or outside Herald's own send ledger.",
    key="message_id",
    loaded_at_column="_loaded_at",
    columns=(
        _c("message_id", "varchar", "Id of the message.", required=True),
        _c("external_key", "varchar", "Contact the message went to.", required=True),
        _c("campaign_id", "varchar", "Campaign the message belonged to."),
        _c("campaign_name", "varchar", "Campaign name."),
        _c("channel", "varchar", "email, sms, push, in_app or direct_mail.", required=True),
        _c("address", "varchar", "Address the message went to (email, phone, token)."),
        _c("sent_at", "timestamp", "When it was handed to the provider (UTC).", required=True),
    ),
)

ESP_EVENTS = RawTable(
    name="esp_events",
    system="esp",
    description="Email provider events in SendGrid's Event Webhook shape (one row per event as posted).",
    key="sg_event_id",
    loaded_at_column="_loaded_at",
    columns=(
        _c(
            "sg_event_id",
            "varchar",
            "SendGrid's event id (the same event may be posted more than once).",
            required=True,
        ),
        _c("sg_message_id", "varchar", "SendGrid's message id."),
        _c("message_id", "varchar", "Herald's message id, carried back in custom_args."),
        _c(
            "event",
            "varchar",
            "processed, delivered, deferred, bounce, dropped, open, click, spamreport, unsubscribe.",
            required=True,
        ),
        _c("email", "varchar", "Recipient address."),
        _c("bounce_type", "varchar", "For bounce events: bounce (hard) or blocked (soft)."),
        _c("reason", "varchar", "Provider's reason text for bounces, drops and deferrals."),
        _c("status", "varchar", "SMTP status code for bounces."),
        _c("url", "varchar", "Clicked URL for click events."),
        _c("occurred_at", "timestamp", "Event time (UTC), from SendGrid's unix timestamp.", required=True),
        _c("bounce_classification", "varchar", "SendGrid's bounce class (Invalid Address, Reputation, ...)."),
        _c("attempt", "integer", "Delivery attempt number of a deferral (posted as a string)."),
        _c("useragent", "varchar", "User agent of an open or click."),
        _c("ip", "varchar", "IP address of an open or click (or the sending IP for delivery events)."),
        _c("categories", "varchar", "Categories as a JSON array (posted as a string or an array)."),
        _c("custom_args", "varchar", "Custom args other than message_id and run_id, as a JSON object."),
        _c("run_id", "varchar", "Herald's delivery run id, carried back in custom_args."),
        _c("asm_group_id", "integer", "Unsubscribe group of the message, when it had one."),
        _c("url_offset_index", "integer", "Position of the clicked link in the message."),
        _c("sg_machine_open", "integer", "1 when SendGrid flags an open as machine-generated (e.g. mail privacy)."),
    ),
)

CHANNEL_EVENTS = RawTable(
    name="channel_events",
    system="esp",
    description="Delivery callbacks of the SMS and push providers (one row per callback as posted).",
    key="event_id",
    loaded_at_column="_loaded_at",
    columns=(
        _c("event_id", "varchar", "Id of the callback (the provider's, or a hash of its natural key).", required=True),
        _c("provider", "varchar", "twilio or fcm.", required=True),
        _c("channel", "varchar", "sms or push.", required=True),
        _c("provider_message_id", "varchar", "The provider's id of the message (Twilio MessageSid, FCM name)."),
        _c("message_id", "varchar", "Herald's message id, when the provider carries it back."),
        _c("event", "varchar", "queued, sent, delivered, undelivered, failed, opened.", required=True),
        _c("error_code", "varchar", "Provider error code of a failure."),
        _c("detail", "varchar", "Provider's error text or other detail."),
        _c("occurred_at", "timestamp", "When the provider reported the event (UTC).", required=True),
    ),
)

RAW_TABLES: tuple[RawTable, ...] = (
    CRM_CONTACTS,
    CONSENT_EVENTS,
    SHOP_ORDERS,
    SHOP_ORDER_LINES,
    SHOP_PAYMENTS,
    APP_EVENTS,
    PUSH_TOKENS,
    MESSAGE_HISTORY,
    ESP_EVENTS,
    CHANNEL_EVENTS,
)

IMPORT_BATCHES = RawTable(
    name="import_batches",
    system="herald",
    description="One row per landed batch: the audit trail of every import and generation.",
    key="batch_id",
    loaded_at_column="loaded_at",
    columns=(
        _c("batch_id", "varchar", "Batch id (sortable: time first).", required=True),
        _c("table_name", "varchar", "Raw table the batch landed in.", required=True),
        _c("source_file", "varchar", "File the batch was read from.", required=True),
        _c("source_sha256", "varchar", "SHA-256 of the source file."),
        _c("rows_read", "integer", "Records read from the file."),
        _c("rows_inserted", "integer", "Records new to the table."),
        _c("rows_updated", "integer", "Records that update an existing key."),
        _c("rows_rejected", "integer", "Records rejected (see the rejects file)."),
        _c("loaded_at", "timestamp", "When the batch landed (UTC).", required=True),
    ),
)

ALL_TABLES: tuple[RawTable, ...] = (*RAW_TABLES, IMPORT_BATCHES)

CHANNELS: tuple[str, ...] = CHANNEL.values
CONSENT_TOPICS: tuple[str, ...] = ("newsletter", "promotions", "product_updates")


def table(name: str) -> RawTable:
    """Look a raw table up by name; raises ``KeyError`` naming the known tables."""
    for t in ALL_TABLES:
        if t.name == name:
            return t
    raise KeyError(f"unknown raw table {name!r}; known: {', '.join(t.name for t in ALL_TABLES)}")
