"""A project's settings: ``herald.yml`` at its root, read and checked once per command.

    warehouse:
      target: duckdb             # duckdb (the default) or postgres
      state_dir: warehouse       # Herald's state: landing, builds, published files, ledger (relative or absolute)
      landing_dir: warehouse/landing   # optional; default: <state_dir>/landing
    providers:                   # the NAMES of environment variables, never a secret itself
      sendgrid:
        api_key_env: SENDGRID_API_KEY

Every key is optional; a folder without ``herald.yml`` (a checkout of Herald from before settings) reads as the
defaults. A provider setting names the variable that holds the value, so ``herald.yml`` can be committed: when it
names another variable than Herald's own (``ACME_SENDGRID_KEY``), ``provider_environment`` maps it onto Herald's
name for the senders, and the build keeps it from dbt like every secret.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal, cast

import yaml

from herald.errors import ConfigError

SETTINGS_FILE = "herald.yml"
Target = Literal["duckdb", "postgres"]
TARGETS: tuple[Target, ...] = ("duckdb", "postgres")

# provider → setting → the variable Herald's senders read it from (senders/providers/).
PROVIDER_VARIABLES: Mapping[str, Mapping[str, str]] = MappingProxyType(
    {
        "sendgrid": MappingProxyType({"api_key_env": "SENDGRID_API_KEY"}),
        "twilio": MappingProxyType(
            {
                "account_sid_env": "TWILIO_ACCOUNT_SID",
                "auth_token_env": "TWILIO_AUTH_TOKEN",
                "messaging_service_sid_env": "TWILIO_MESSAGING_SERVICE_SID",
            }
        ),
        "fcm": MappingProxyType(
            {"project_id_env": "HERALD_FCM_PROJECT_ID", "access_token_env": "HERALD_FCM_ACCESS_TOKEN"}
        ),
    }
)
_VARIABLE_NAME = re.compile(r"[A-Z_][A-Z0-9_]*")
_WAREHOUSE_KEYS = ("target", "state_dir", "landing_dir")
_TOP_KEYS = ("warehouse", "providers")


@dataclass(frozen=True, slots=True)
class Settings:
    """A project's settings; ``providers`` maps (provider, setting) to the name of the variable holding it."""

    target: Target = "duckdb"
    state_dir: Path = Path("warehouse")
    landing_dir: Path | None = None
    providers: Mapping[tuple[str, str], str] = field(default_factory=lambda: MappingProxyType({}))


def read_settings(root: Path) -> Settings:
    """The settings in ``root/herald.yml`` (the defaults when there is none); ConfigError naming what is wrong."""
    path = root / SETTINGS_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Settings()
    except OSError as exc:
        raise ConfigError(f"{path} cannot be read: {exc}") from exc
    return parse_settings(text, str(path))


def parse_settings(text: str, where: str = SETTINGS_FILE) -> Settings:
    """Settings from the text of a ``herald.yml``; ``where`` names it in errors."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{where} is not valid YAML: {exc}") from exc
    doc = {} if doc is None else doc
    top = _mapping(doc, where, "the file")
    _known_keys(top, _TOP_KEYS, where, "")
    warehouse = _mapping(top.get("warehouse") or {}, where, "warehouse")
    _known_keys(warehouse, _WAREHOUSE_KEYS, where, "warehouse.")
    target = warehouse.get("target", "duckdb")
    if target not in TARGETS:
        raise ConfigError(f"{where}: warehouse.target must be one of {', '.join(TARGETS)}, not {target!r}")
    state_dir = _folder(warehouse.get("state_dir", "warehouse"), where, "warehouse.state_dir")
    landing = warehouse.get("landing_dir")
    landing_dir = None if landing is None else _folder(landing, where, "warehouse.landing_dir")
    return Settings(
        target=cast(Target, target),
        state_dir=state_dir,
        landing_dir=landing_dir,
        providers=MappingProxyType(_providers(top.get("providers") or {}, where)),
    )


def _providers(value: Any, where: str) -> dict[tuple[str, str], str]:
    providers = _mapping(value, where, "providers")
    _known_keys(providers, tuple(PROVIDER_VARIABLES), where, "providers.")
    out: dict[tuple[str, str], str] = {}
    for provider, settings in providers.items():
        known = PROVIDER_VARIABLES[provider]
        entries = _mapping(settings or {}, where, f"providers.{provider}")
        _known_keys(entries, tuple(known), where, f"providers.{provider}.")
        for key, name in entries.items():
            # Never echo the value: a secret pasted here must not reach a terminal or a log.
            if not isinstance(name, str) or not _VARIABLE_NAME.fullmatch(name):
                raise ConfigError(
                    f"{where}: providers.{provider}.{key} must name an environment variable (capital letters, "
                    f"digits and _, e.g. {known[key]}); put the secret itself in that variable, never in this file"
                )
            out[(provider, key)] = name
    return out


def provider_environment(settings: Settings, environ: Mapping[str, str]) -> dict[str, str]:
    """Herald's own provider variables, set from the variables the settings name instead (those that are set)."""
    out: dict[str, str] = {}
    for (provider, key), name in settings.providers.items():
        own = PROVIDER_VARIABLES[provider][key]
        if name != own and name in environ:
            out[own] = environ[name]
    return out


def named_variables(settings: Settings) -> frozenset[str]:
    """Every variable the provider settings name: secrets, kept from dbt."""
    return frozenset(settings.providers.values())


def _mapping(value: Any, where: str, what: str) -> dict[str, Any]:
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise ConfigError(f"{where}: {what} must be a mapping of names to values")
    return value


def _known_keys(value: Mapping[str, Any], known: tuple[str, ...], where: str, prefix: str) -> None:
    unknown = sorted(set(value) - set(known))
    if unknown:
        raise ConfigError(
            f"{where}: unknown setting {', '.join(prefix + k for k in unknown)} "
            f"(known: {', '.join(prefix + k for k in known)})"
        )


def _folder(value: Any, where: str, what: str) -> Path:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where}: {what} must be a folder path (relative to the project, or absolute)")
    return Path(value.strip())
