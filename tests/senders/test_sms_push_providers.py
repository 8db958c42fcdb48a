"""The Twilio (SMS) and FCM (push) providers against their strict fakes over real HTTP: what is sent, what each
answer becomes, and that credentials never leak into messages, reprs or logs."""

from __future__ import annotations

import logging
import socket
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from senders.errors import ProviderConfigError
from senders.providers.base import (
    AccountRejected,
    AmbiguousFault,
    OutgoingMessage,
    ProviderFault,
    RateLimited,
    RequestRejected,
    TransientFault,
)
from senders.providers.fcm import FcmProvider, FcmSettings
from senders.providers.twilio import TwilioProvider, TwilioSettings, callback_url
from tests.fakes.fcm import FakeFcm
from tests.fakes.twilio import FakeTwilio

CANARY = "canary-secret-5e1d0b"  # a credential value that must never be seen again

SID = "AC" + "0123456789abcdef" * 2
SERVICE = "MG" + "fedcba9876543210" * 2
SENDER = "+14155550100"
UNSUBSCRIBED = "+14155550111"
LANDLINE = "+14155550122"
CALLBACK = "https://hooks.example.com/twilio/status?source=herald"

PROJECT = "herald-demo"
TOKEN_OK = "dAbC123_device-token:0001"
TOKEN_GONE = "dAbC123_device-token:gone"
TOKEN_FOREIGN = "dAbC123_device-token:other"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _id() -> str:
    return f"msg-{uuid.uuid4().hex[:12]}"


def sms(address: str = "+14155550199", text: str = "Hello from Herald", **kw: Any) -> OutgoingMessage:
    return OutgoingMessage(_id(), "run-1", "r-1", "sms", address, text=text, **kw)


def push(address: str = TOKEN_OK, **kw: Any) -> OutgoingMessage:
    kw.setdefault("title", "Your order")
    kw.setdefault("text", "It is on its way")
    return OutgoingMessage(_id(), "run-1", "r-1", "push", address, **kw)


def _fault(provider: Any, message: OutgoingMessage) -> ProviderFault:
    with pytest.raises(ProviderFault) as info:
        provider.send([message])
    return info.value


# ====================================================================== Twilio


@pytest.fixture(scope="module")
def twilio_fake() -> Iterator[FakeTwilio]:
    fake = FakeTwilio(
        account_sid=SID,
        auth_token=CANARY,
        from_numbers={SENDER},
        messaging_services={SERVICE},
        unsubscribed={UNSUBSCRIBED},
        landlines={LANDLINE},
        timeout_hold=0.6,
    )
    with fake:
        yield fake


def twilio_env(fake: FakeTwilio, **overrides: str) -> dict[str, str]:
    env = {
        "TWILIO_ACCOUNT_SID": SID,
        "TWILIO_AUTH_TOKEN": CANARY,
        "HERALD_SMS_FROM": SENDER,
        "HERALD_TWILIO_HOST": fake.url,
        "HERALD_SMS_STATUS_CALLBACK": CALLBACK,
        "HERALD_TWILIO_TIMEOUT": "5",
    }
    env.update(overrides)
    return {k: v for k, v in env.items() if v}


@pytest.fixture
def twilio(twilio_fake: FakeTwilio) -> Iterator[TwilioProvider]:
    provider = TwilioProvider(TwilioSettings.from_env(twilio_env(twilio_fake)))
    yield provider
    provider.close()


def test_twilio_sends_one_form_request_per_message(twilio: TwilioProvider, twilio_fake: FakeTwilio) -> None:
    assert (twilio.channel, twilio.max_batch) == ("sms", 1)
    messages = [sms(text=f"Hello {i}, café ✓") for i in range(3)]
    outcomes = [twilio.send([m])[0] for m in messages]
    for m, o in zip(messages, outcomes, strict=True):
        assert (o.message_id, o.status) == (m.message_id, "accepted")
        assert o.provider_id.startswith("SM") and len(o.provider_id) == 34
        [recorded] = twilio_fake.messages[m.message_id]
        assert recorded.sid == o.provider_id
        assert (recorded.to, recorded.from_number, recorded.messaging_service_sid) == (m.address, SENDER, "")
        assert recorded.body == m.text
        assert recorded.status_callback == callback_url(CALLBACK, m.message_id)
        assert recorded.status_callback.startswith(CALLBACK + "&herald_message_id=")
    assert not twilio_fake.duplicates()
    assert twilio.send([]) == []
    with pytest.raises(ValueError, match="one message per request"):
        twilio.send([sms(), sms()])


def test_twilio_messaging_service_and_no_callback(twilio_fake: FakeTwilio) -> None:
    env = twilio_env(twilio_fake, HERALD_SMS_FROM="", TWILIO_MESSAGING_SERVICE_SID=SERVICE)
    env.pop("HERALD_SMS_STATUS_CALLBACK")
    provider = TwilioProvider(TwilioSettings.from_env(env))
    before = twilio_fake.missing_message_id
    [outcome] = provider.send([sms()])
    assert outcome.status == "accepted"
    recorded = twilio_fake.by_sid[outcome.provider_id]
    assert (recorded.from_number, recorded.messaging_service_sid, recorded.status_callback) == ("", SERVICE, "")
    assert twilio_fake.missing_message_id == before + 1  # without a callback nothing carries our id
    provider.close()


def test_callback_url_keeps_the_query() -> None:
    assert callback_url("https://h.example/cb", "m 1") == "https://h.example/cb?herald_message_id=m+1"
    assert callback_url("https://h.example/cb?a=1&b=", "m-1") == "https://h.example/cb?a=1&b=&herald_message_id=m-1"


@pytest.mark.parametrize(
    ("address", "text", "code"),
    [
        ("4155550199", "hi", 21211),  # not E.164
        (UNSUBSCRIBED, "hi", 21610),
        (LANDLINE, "hi", 21614),
        (SENDER, "hi", 21266),
        ("+14155550199", "x" * 1601, 21617),
        ("+14155550199", "", 21602),
    ],
)
def test_twilio_recipient_and_text_problems_fail_the_message_only(
    twilio: TwilioProvider, twilio_fake: FakeTwilio, address: str, text: str, code: int
) -> None:
    m = sms(address, text)
    [outcome] = twilio.send([m])
    assert (outcome.message_id, outcome.status, outcome.provider_id) == (m.message_id, "failed", "")
    assert outcome.reason.startswith(f"Twilio error {code}: ")
    assert twilio_fake.invalid_requests()[-1].code == code
    assert twilio.send([sms()])[0].status == "accepted"  # the next message goes on the same provider


def test_twilio_faults(twilio: TwilioProvider, twilio_fake: FakeTwilio) -> None:
    twilio_fake.retry_after = 4
    twilio_fake.inject("429")
    limited = _fault(twilio, sms())
    assert isinstance(limited, RateLimited) and limited.retry_after == 4.0

    twilio_fake.fail_next(20429)  # Twilio's own 429 carries no Retry-After
    limited = _fault(twilio, sms())
    assert isinstance(limited, RateLimited) and limited.retry_after == 1.0
    assert "error 20429" in str(limited)

    for injected in ("500", "503"):
        twilio_fake.inject(injected)
        assert type(_fault(twilio, sms())) is TransientFault
    twilio_fake.fail_next(20500, 20503)
    assert type(_fault(twilio, sms())) is TransientFault
    assert type(_fault(twilio, sms())) is TransientFault

    dropped = sms()
    twilio_fake.inject("accept_drop")
    assert type(_fault(twilio, dropped)) is AmbiguousFault
    assert twilio_fake.deliveries(dropped.message_id) == 1  # it did go out
    assert twilio.lookup([dropped.message_id, "other"]) == {dropped.message_id: None, "other": None}

    assert twilio.send([sms()])[0].status == "accepted"  # reconnected after the drop


def test_twilio_timeout_is_ambiguous_and_refused_connection_transient(twilio_fake: FakeTwilio) -> None:
    provider = TwilioProvider(TwilioSettings.from_env(twilio_env(twilio_fake, HERALD_TWILIO_TIMEOUT="0.2")))
    twilio_fake.inject("timeout")
    assert type(_fault(provider, sms())) is AmbiguousFault
    provider.close()
    nowhere = TwilioProvider(
        TwilioSettings.from_env(twilio_env(twilio_fake, HERALD_TWILIO_HOST=f"http://127.0.0.1:{_free_port()}"))
    )
    assert type(_fault(nowhere, sms())) is TransientFault


def test_twilio_setup_problems_stop_the_job(twilio_fake: FakeTwilio) -> None:
    def fault(**overrides: str) -> ProviderFault:
        provider = TwilioProvider(TwilioSettings.from_env(twilio_env(twilio_fake, **overrides)))
        try:
            return _fault(provider, sms())
        finally:
            provider.close()

    wrong_token = fault(TWILIO_AUTH_TOKEN="not-the-token")
    assert type(wrong_token) is AccountRejected and wrong_token.status == 401 and "error 20003" in str(wrong_token)
    not_ours = fault(HERALD_SMS_FROM="+14155550999")
    assert type(not_ours) is AccountRejected and "error 21660" in str(not_ours)
    unknown_service = fault(HERALD_SMS_FROM="", TWILIO_MESSAGING_SERVICE_SID="MG" + "0" * 32)
    assert type(unknown_service) is AccountRejected and "error 21705" in str(unknown_service)
    wrong_path = fault(HERALD_TWILIO_HOST=twilio_fake.url + "/proxy")
    assert type(wrong_path) is AccountRejected and wrong_path.status == 404
    twilio_fake.fail_next(20003)
    assert type(_fault(TwilioProvider(TwilioSettings.from_env(twilio_env(twilio_fake))), sms())) is AccountRejected


def test_twilio_other_refusals_reject_the_request(twilio_fake: FakeTwilio) -> None:
    settings = TwilioSettings.from_env(twilio_env(twilio_fake))
    bad_callback = TwilioSettings(
        settings.account_sid, settings.auth_token, settings.from_number, host=settings.host, status_callback="ftp://x"
    )
    rejected = _fault(TwilioProvider(bad_callback), sms())
    assert type(rejected) is RequestRejected and rejected.status == 400 and "error 21609" in str(rejected)


# ====================================================================== FCM


@pytest.fixture(scope="module")
def fcm_fake() -> Iterator[FakeFcm]:
    fake = FakeFcm(
        project_id=PROJECT,
        access_token=CANARY,
        unregistered={TOKEN_GONE},
        foreign_tokens={TOKEN_FOREIGN},
        timeout_hold=0.6,
    )
    with fake:
        yield fake


def fcm_env(fake: FakeFcm, **overrides: str) -> dict[str, str]:
    env = {
        "HERALD_FCM_PROJECT_ID": PROJECT,
        "HERALD_FCM_ACCESS_TOKEN": CANARY,
        "HERALD_FCM_HOST": fake.url,
        "HERALD_FCM_TIMEOUT": "5",
    }
    env.update(overrides)
    return {k: v for k, v in env.items() if v}


@pytest.fixture
def fcm(fcm_fake: FakeFcm) -> Iterator[FcmProvider]:
    provider = FcmProvider(FcmSettings.from_env(fcm_env(fcm_fake)))
    yield provider
    provider.close()


def test_fcm_sends_token_notification_and_data(fcm: FcmProvider, fcm_fake: FakeFcm) -> None:
    assert (fcm.channel, fcm.max_batch) == ("push", 1)
    m = push(title="Votre commande ✓", text="Elle arrive", data={"deeplink": "app://orders/42", "kind": "order"})
    [outcome] = fcm.send([m])
    assert (outcome.message_id, outcome.status) == (m.message_id, "accepted")
    assert outcome.provider_id.startswith(f"projects/{PROJECT}/messages/")
    [recorded] = fcm_fake.messages[m.message_id]
    assert (recorded.name, recorded.token, recorded.title, recorded.body) == (
        outcome.provider_id,
        TOKEN_OK,
        "Votre commande ✓",
        "Elle arrive",
    )
    assert recorded.data == {"deeplink": "app://orders/42", "kind": "order", "herald_message_id": m.message_id}
    data_only = push(title="", text="", data={"sync": "1"})
    assert fcm.send([data_only])[0].status == "accepted"
    assert fcm_fake.messages[data_only.message_id][0].title == ""
    assert fcm.send([]) == []
    with pytest.raises(ValueError, match="one message per request"):
        fcm.send([push(), push()])


def test_fcm_validate_only_checks_without_sending(fcm_fake: FakeFcm) -> None:
    provider = FcmProvider(FcmSettings.from_env(fcm_env(fcm_fake)), validate_only=True)
    before = fcm_fake.validated
    ok, gone = push(), push(TOKEN_GONE)
    assert provider.send([ok])[0].status == "accepted"
    assert provider.send([gone])[0].reason.startswith("FCM UNREGISTERED")
    assert fcm_fake.validated == before + 1
    assert fcm_fake.deliveries(ok.message_id) == 0
    provider.close()


@pytest.mark.parametrize(
    ("message", "code"),
    [
        (push(TOKEN_GONE), "UNREGISTERED"),
        (push("not a token!"), "INVALID_ARGUMENT"),
        (push(data={"blob": "x" * 4100}), "INVALID_ARGUMENT"),  # over 4096 bytes
        (push(TOKEN_FOREIGN), "SENDER_ID_MISMATCH"),
    ],
)
def test_fcm_token_and_message_problems_fail_the_message_only(
    fcm: FcmProvider, fcm_fake: FakeFcm, message: OutgoingMessage, code: str
) -> None:
    [outcome] = fcm.send([message])
    assert (outcome.message_id, outcome.status) == (message.message_id, "failed")
    assert outcome.reason.startswith(f"FCM {code}: ")
    assert fcm_fake.invalid_requests()[-1].error_code == code
    assert fcm_fake.deliveries(message.message_id) == 0
    assert fcm.send([push()])[0].status == "accepted"


def test_fcm_malformed_request_is_rejected(fcm: FcmProvider) -> None:
    rejected = _fault(fcm, push(data={"from": "someone"}))  # a key FCM reserves
    assert type(rejected) is RequestRejected and rejected.status == 400
    assert "Invalid data payload key: from" in str(rejected)


def test_fcm_faults(fcm: FcmProvider, fcm_fake: FakeFcm) -> None:
    fcm_fake.fail_next("QUOTA_EXCEEDED")
    quota = _fault(fcm, push())
    assert isinstance(quota, RateLimited) and quota.retry_after == 60.0  # the quota refills within the minute
    assert "QUOTA_EXCEEDED" in str(quota)
    fcm_fake.quota_retry_after = 7
    fcm_fake.fail_next("QUOTA_EXCEEDED")
    quota = _fault(fcm, push())
    assert isinstance(quota, RateLimited) and quota.retry_after == 7.0
    fcm_fake.quota_retry_after = None
    fcm_fake.retry_after = 3
    fcm_fake.inject("429")
    limited = _fault(fcm, push())
    assert isinstance(limited, RateLimited) and limited.retry_after == 3.0

    fcm_fake.fail_next("UNAVAILABLE", "INTERNAL")
    assert type(_fault(fcm, push())) is TransientFault
    assert type(_fault(fcm, push())) is TransientFault
    fcm_fake.inject("500", "503")
    assert type(_fault(fcm, push())) is TransientFault
    assert type(_fault(fcm, push())) is TransientFault

    fcm_fake.fail_next("THIRD_PARTY_AUTH_ERROR")
    apns = _fault(fcm, push())
    assert type(apns) is AccountRejected and "THIRD_PARTY_AUTH_ERROR" in str(apns)

    dropped = push()
    fcm_fake.inject("accept_drop")
    assert type(_fault(fcm, dropped)) is AmbiguousFault
    assert fcm_fake.deliveries(dropped.message_id) == 1
    assert fcm.lookup([dropped.message_id]) == {dropped.message_id: None}
    assert fcm.send([push()])[0].status == "accepted"
    assert not fcm_fake.duplicates()


def test_fcm_timeout_is_ambiguous_and_refused_connection_transient(fcm_fake: FakeFcm) -> None:
    provider = FcmProvider(FcmSettings.from_env(fcm_env(fcm_fake, HERALD_FCM_TIMEOUT="0.2")))
    fcm_fake.inject("timeout")
    assert type(_fault(provider, push())) is AmbiguousFault
    provider.close()
    nowhere = FcmProvider(FcmSettings.from_env(fcm_env(fcm_fake, HERALD_FCM_HOST=f"http://127.0.0.1:{_free_port()}")))
    assert type(_fault(nowhere, push())) is TransientFault


def test_fcm_setup_problems_stop_the_job(fcm_fake: FakeFcm) -> None:
    def fault(**overrides: str) -> ProviderFault:
        provider = FcmProvider(FcmSettings.from_env(fcm_env(fcm_fake, **overrides)))
        try:
            return _fault(provider, push())
        finally:
            provider.close()

    expired = fault(HERALD_FCM_ACCESS_TOKEN="ya29.expired")
    assert type(expired) is AccountRejected and expired.status == 401 and "UNAUTHENTICATED" in str(expired)
    other_project = fault(HERALD_FCM_PROJECT_ID="someone-else")
    assert type(other_project) is AccountRejected and other_project.status == 403
    wrong_host = fault(HERALD_FCM_HOST=fcm_fake.url + "/proxy")
    assert type(wrong_host) is AccountRejected and wrong_host.status == 404


# ====================================================================== settings and secrets


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"TWILIO_ACCOUNT_SID": ""}, "TWILIO_ACCOUNT_SID"),
        ({"TWILIO_ACCOUNT_SID": "AC123"}, "TWILIO_ACCOUNT_SID"),
        ({"TWILIO_AUTH_TOKEN": ""}, "TWILIO_AUTH_TOKEN"),
        ({"HERALD_SMS_FROM": ""}, "HERALD_SMS_FROM"),
        ({"HERALD_SMS_FROM": "4155550100"}, "HERALD_SMS_FROM"),
        ({"TWILIO_MESSAGING_SERVICE_SID": SERVICE}, "not both"),
        ({"HERALD_SMS_FROM": "", "TWILIO_MESSAGING_SERVICE_SID": "MG1"}, "TWILIO_MESSAGING_SERVICE_SID"),
        ({"HERALD_TWILIO_HOST": "api.twilio.com"}, "HERALD_TWILIO_HOST"),
        ({"HERALD_SMS_STATUS_CALLBACK": "/status"}, "HERALD_SMS_STATUS_CALLBACK"),
        ({"HERALD_SMS_STATUS_CALLBACK": CALLBACK + "&herald_message_id=x"}, "HERALD_SMS_STATUS_CALLBACK"),
        ({"HERALD_TWILIO_TIMEOUT": "soon"}, "HERALD_TWILIO_TIMEOUT"),
    ],
)
def test_twilio_settings_name_the_variable_at_fault(
    twilio_fake: FakeTwilio, overrides: dict[str, str], named: str
) -> None:
    with pytest.raises(ProviderConfigError, match=named):
        TwilioSettings.from_env(twilio_env(twilio_fake, **overrides))


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"HERALD_FCM_PROJECT_ID": ""}, "HERALD_FCM_PROJECT_ID"),
        ({"HERALD_FCM_PROJECT_ID": "Bad_Project"}, "HERALD_FCM_PROJECT_ID"),
        ({"HERALD_FCM_ACCESS_TOKEN": ""}, "HERALD_FCM_ACCESS_TOKEN"),
        ({"HERALD_FCM_HOST": "ftp://fcm.googleapis.com"}, "HERALD_FCM_HOST"),
        ({"HERALD_FCM_TIMEOUT": "0"}, "HERALD_FCM_TIMEOUT"),
    ],
)
def test_fcm_settings_name_the_variable_at_fault(fcm_fake: FakeFcm, overrides: dict[str, str], named: str) -> None:
    with pytest.raises(ProviderConfigError, match=named):
        FcmSettings.from_env(fcm_env(fcm_fake, **overrides))


def test_defaults() -> None:
    twilio = TwilioSettings.from_env({"TWILIO_ACCOUNT_SID": SID, "TWILIO_AUTH_TOKEN": "t", "HERALD_SMS_FROM": SENDER})
    assert (twilio.host, twilio.status_callback, twilio.timeout) == ("https://api.twilio.com", "", 10.0)
    fcm = FcmSettings.from_env({"HERALD_FCM_PROJECT_ID": PROJECT, "HERALD_FCM_ACCESS_TOKEN": "t"})
    assert (fcm.host, fcm.timeout) == ("https://fcm.googleapis.com", 10.0)


def test_credentials_never_leak(twilio_fake: FakeTwilio, fcm_fake: FakeFcm, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    texts: list[str] = []

    # Settings and providers say what they hold, except the secret.
    callback_with_secret = f"https://hooks.example.com/status?token={CANARY}"
    twilio_settings = TwilioSettings.from_env(twilio_env(twilio_fake, HERALD_SMS_STATUS_CALLBACK=callback_with_secret))
    fcm_settings = FcmSettings.from_env(fcm_env(fcm_fake))
    twilio = TwilioProvider(twilio_settings)
    fcm = FcmProvider(fcm_settings)
    texts += [repr(twilio_settings), str(twilio_settings), repr(twilio), repr(fcm_settings), repr(fcm)]
    assert "<hidden>" in repr(twilio_settings) and "<hidden>" in repr(fcm_settings)

    # Every kind of fault, sent with the canary as the credential.
    def collect(provider: Any, message: OutgoingMessage) -> None:
        try:
            outcomes = provider.send([message])
        except ProviderFault as exc:
            texts.extend([str(exc), repr(exc)])
        else:
            texts.extend(o.reason for o in outcomes)

    for setup in ("429", "500", "accept_drop"):
        twilio_fake.inject(setup)
        collect(twilio, sms())
        fcm_fake.inject(setup)
        collect(fcm, push())
    twilio_fake.fail_next(20003)
    collect(twilio, sms())
    collect(twilio, sms("12345"))
    fcm_fake.fail_next("THIRD_PARTY_AUTH_ERROR")
    collect(fcm, push())
    collect(fcm, push(TOKEN_GONE))
    slow = TwilioProvider(TwilioSettings.from_env(twilio_env(twilio_fake, HERALD_TWILIO_TIMEOUT="0.2")))
    twilio_fake.inject("timeout")
    collect(slow, sms())
    # Credentials the providers refuse: wrong ones answered 401, and ones the fakes expect differently.
    wrong = TwilioProvider(TwilioSettings.from_env(twilio_env(twilio_fake, TWILIO_AUTH_TOKEN=CANARY + "-old")))
    collect(wrong, sms())
    wrong_fcm = FcmProvider(FcmSettings.from_env(fcm_env(fcm_fake, HERALD_FCM_ACCESS_TOKEN=CANARY + "-old")))
    collect(wrong_fcm, push())
    # Settings errors for credential variables never quote the value.
    for env in (
        twilio_env(twilio_fake, TWILIO_ACCOUNT_SID=CANARY),  # a token pasted into the wrong variable
        twilio_env(twilio_fake, TWILIO_AUTH_TOKEN=CANARY + " trailing words"),
        twilio_env(twilio_fake, HERALD_TWILIO_HOST=f"https://user:{CANARY}@api.twilio.com"),
    ):
        with pytest.raises(ProviderConfigError) as info:
            TwilioSettings.from_env(env)
        texts.append(str(info.value))
    with pytest.raises(ProviderConfigError) as fcm_info:
        FcmSettings.from_env(fcm_env(fcm_fake, HERALD_FCM_ACCESS_TOKEN=f"Bearer {CANARY}"))
    texts.append(str(fcm_info.value))

    texts.append(caplog.text)
    assert caplog.records
    assert len(texts) > 25
    leaks = [t for t in texts if CANARY in t]
    assert not leaks
    for provider in (twilio, fcm, slow, wrong, wrong_fcm):
        provider.close()
