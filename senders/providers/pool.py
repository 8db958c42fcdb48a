"""One provider per thread for one send: a provider is used by one thread at a time and keeps its connections."""

from __future__ import annotations

import threading
from collections.abc import Callable

from senders.providers.base import Provider


class ProviderPool:
    """Opens a provider with ``factory`` the first time each thread asks (``get``); ``close`` closes them all."""

    def __init__(self, factory: Callable[[], Provider]) -> None:
        self._factory = factory
        self._local = threading.local()
        self._opened: list[Provider] = []
        self._lock = threading.Lock()

    def get(self) -> Provider:
        provider: Provider | None = getattr(self._local, "provider", None)
        if provider is None:
            provider = self._factory()
            self._local.provider = provider
            with self._lock:
                self._opened.append(provider)
        return provider

    def close(self) -> None:
        with self._lock:
            opened, self._opened = self._opened, []
        for provider in opened:
            provider.close()
