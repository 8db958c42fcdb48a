"""herald.yml: defaults, every setting read back, and a clear error for each mistake (never echoing a secret)."""

from __future__ import annotations

from pathlib import Path

import pytest

from herald.errors import ConfigError
from herald.settings import Settings, named_variables, parse_settings, provider_environment, read_settings


def test_no_file_and_an_empty_file_are_the_defaults(tmp_path: Path) -> None:
    assert read_settings(tmp_path) == Settings()
    assert parse_settings("") == Settings()
    assert parse_settings("# nothing yet\n") == Settings()


def test_every_setting_is_read() -> None:
    settings = parse_settings(
        """
warehouse: {target: postgres, state_dir: /srv/state, landing_dir: drop}
providers:
  sendgrid: {api_key_env: ACME_SENDGRID_KEY}
  twilio: {account_sid_env: TWILIO_ACCOUNT_SID, auth_token_env: ACME_TWILIO_TOKEN}
"""
    )
    assert settings.target == "postgres"
    assert settings.state_dir == Path("/srv/state") and settings.landing_dir == Path("drop")
    assert named_variables(settings) == {"ACME_SENDGRID_KEY", "TWILIO_ACCOUNT_SID", "ACME_TWILIO_TOKEN"}


def test_provider_variables_map_onto_the_names_herald_reads() -> None:
    settings = parse_settings("providers:\n  sendgrid: {api_key_env: ACME_SENDGRID_KEY}\n")
    assert provider_environment(settings, {"ACME_SENDGRID_KEY": "k"}) == {"SENDGRID_API_KEY": "k"}
    assert provider_environment(settings, {}) == {}
    same = parse_settings("providers:\n  sendgrid: {api_key_env: SENDGRID_API_KEY}\n")
    assert provider_environment(same, {"SENDGRID_API_KEY": "k"}) == {}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("warehouse: [duckdb]\n", "warehouse must be a mapping"),
        ("warehouse: {target: snowflake}\n", "warehouse.target must be one of duckdb, postgres, not 'snowflake'"),
        ("warehouse: {state_dir: ''}\n", "warehouse.state_dir must be a folder path"),
        ("warehouse: {landing: x}\n", r"unknown setting warehouse.landing \(known: warehouse.target"),
        ("wharehouse: {}\n", "unknown setting wharehouse"),
        ("providers: {mailchimp: {api_key_env: X}}\n", "unknown setting providers.mailchimp"),
        ("providers: {sendgrid: {api_key: SENDGRID_API_KEY}}\n", "unknown setting providers.sendgrid.api_key"),
        ("warehouse: {target: duckdb\n", "is not valid YAML"),
        ("- a list\n", "the file must be a mapping"),
    ],
)
def test_mistakes_are_named(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_settings(text, "herald.yml")


def test_a_secret_pasted_in_place_of_a_name_is_refused_and_never_shown() -> None:
    secret = "SG.abc123.def456"
    with pytest.raises(ConfigError) as refused:
        parse_settings(f"providers:\n  sendgrid:\n    api_key_env: {secret}\n", "herald.yml")
    assert "must name an environment variable" in str(refused.value)
    assert "SENDGRID_API_KEY" in str(refused.value)
    assert secret not in str(refused.value)


def test_an_unreadable_file_is_named(tmp_path: Path) -> None:
    (tmp_path / "herald.yml").write_text("warehouse: {target: oracle}\n")
    with pytest.raises(ConfigError, match=str(tmp_path / "herald.yml")):
        read_settings(tmp_path)


def test_the_example_in_the_docs_reads() -> None:
    example = Path(__file__).resolve().parents[2] / "examples"
    settings = read_settings(example)
    assert settings.state_dir == Path("/var/lib/herald/acme")
    assert provider_environment(settings, {"ACME_SENDGRID_API_KEY": "k"}) == {"SENDGRID_API_KEY": "k"}
