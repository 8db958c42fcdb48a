"""Content measurements the control rules use: SMS encoding and segments, push payload size, link validity."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import urlsplit

# GSM 03.38 default alphabet, and its extension table (each extension character takes two septets).
GSM7_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = set("^{}\\[~]|€\f")


@dataclass(frozen=True, slots=True)
class SmsSize:
    encoding: str  # "GSM-7" or "UCS-2"
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2)
    segments: int


def sms_size(text: str) -> SmsSize:
    """Encoding and segment count of an SMS body, as carriers count them (concatenated SMS with UDH)."""
    if all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in text):
        units = sum(2 if ch in GSM7_EXTENSION else 1 for ch in text)
        return SmsSize("GSM-7", units, 1 if units <= 160 else math.ceil(units / 153))
    units = len(text.encode("utf-16-le")) // 2
    return SmsSize("UCS-2", units, 1 if units <= 70 else math.ceil(units / 67))


def push_payload_bytes(title: str, body: str, data: dict[str, str] | None = None) -> int:
    """Size in bytes of the notification payload a push provider receives (title, body, data)."""
    payload = {"notification": {"title": title, "body": body}, "data": data or {}}
    return len(json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode())


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("href", "src") and value is not None:
                self.links.append(value)


def links(html: str, text: str = "") -> list[str]:
    """Every href/src in ``html`` and every http(s) URL written out in ``text``."""
    parser = _Links()
    parser.feed(html)
    return parser.links + re.findall(r"https?://[^\s<>\"')]+", text)


def invalid_link(url: str) -> str | None:
    """Why ``url`` is not a valid link in a message, or None when it is."""
    url = url.strip()
    if url.startswith("mailto:"):
        return None if "@" in url else "mailto: without an address"
    if url.startswith("#") or url.startswith("cid:"):
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        return f"scheme {parts.scheme or '(none)'} is not http or https"
    if not parts.netloc or "." not in parts.netloc.split(":")[0] or " " in url:
        return "no valid host"
    return None
