"""Widgets that edit a value kept outside them (a draft, saved settings): each takes that value when it has
none of its own, so widget keys can be cleared at any time without losing what is being edited.

Each helper seeds ``st.session_state[key]`` from ``current`` on first use (or when what it holds is no longer
an option) and returns the widget's value.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

import streamlit as st


def seed(key: str, value: Any) -> None:
    """Give widget ``key`` the value ``value`` unless it already has one."""
    if key not in st.session_state:
        st.session_state[key] = value


def forget(prefix: str) -> None:
    """Clear every widget whose key starts with ``prefix`` (they take their values afresh on the next run)."""
    for key in [k for k in st.session_state if str(k).startswith(prefix)]:
        del st.session_state[key]


def select(
    key: str,
    label: str,
    options: Sequence[Any],
    current: Any,
    fmt: Callable[[Any], str] = str,
    *,
    empty: bool = False,
    **kwargs: Any,
) -> Any:
    """A selectbox; ``empty`` lets it show a placeholder (value None) instead of a first option."""
    options = list(options)
    if key in st.session_state and st.session_state[key] not in options and st.session_state[key] is not None:
        del st.session_state[key]
    fallback = None if empty or not options else options[0]
    seed(key, current if current in options else fallback)
    if st.session_state[key] is None and not empty and options:
        st.session_state[key] = options[0]
    return st.selectbox(label, options, key=key, format_func=fmt, **kwargs)


def multi(key: str, label: str, options: Sequence[Any], current: Sequence[Any], **kwargs: Any) -> list[Any]:
    options = list(options)
    seed(key, [v for v in current if v in options])
    st.session_state[key] = [v for v in st.session_state[key] if v in options]
    return list(st.multiselect(label, options, key=key, **kwargs))


def text(key: str, label: str, current: str, **kwargs: Any) -> str:
    seed(key, current)
    return str(st.text_input(label, key=key, **kwargs) or "")


def area(key: str, label: str, current: str, **kwargs: Any) -> str:
    seed(key, current)
    return str(st.text_area(label, key=key, **kwargs) or "")


def integer(key: str, label: str, current: int | None, **kwargs: Any) -> int | None:
    seed(key, current)
    value = st.number_input(label, key=key, step=1, **kwargs)
    return None if value is None else int(value)


def number(key: str, label: str, current: float | None, **kwargs: Any) -> float | None:
    seed(key, None if current is None else float(current))
    value = st.number_input(label, key=key, step=1.0, format="%.2f", **kwargs)
    return None if value is None else float(value)


def date(key: str, label: str, current: dt.date | None, **kwargs: Any) -> dt.date | None:
    seed(key, current)
    value = st.date_input(label, key=key, format="YYYY-MM-DD", **kwargs)
    return value if isinstance(value, dt.date) else None


def check(key: str, label: str, current: bool, **kwargs: Any) -> bool:
    seed(key, current)
    return bool(st.checkbox(label, key=key, **kwargs))


def toggle(key: str, label: str, current: bool, **kwargs: Any) -> bool:
    seed(key, current)
    return bool(st.toggle(label, key=key, **kwargs))
