from __future__ import annotations

import email
from pathlib import Path
from typing import Any

import pytest

from impact.errors import ParameterError
from impact.runs.delivery import Delivery, deliver

MANIFEST = {
    "report": "ab_report",
    "run_id": "20260420T060000Z-abc",
    "title": "Pilot",
    "headline": "The AI lowered handle time by 18.0% (95% CI 12.0% to 24.0%)",
    "period_end": "2026-04-19",
    "finished_at": "2026-04-20T06:01:00+00:00",
}


def test_outbox_gets_a_parseable_message_with_headline_and_link(tmp_path: Path) -> None:
    delivery = Delivery.from_config(
        {
            "outbox": "outbox",
            "recipients": ["owner@example.com"],
            "link_base": "https://reports.example.com",
        },
        tmp_path,
    )
    assert delivery is not None
    path = deliver(MANIFEST, delivery)
    assert path == tmp_path / "outbox" / "ab_report-20260420T060000Z-abc.eml"
    message = email.message_from_bytes(path.read_bytes())
    assert message["To"] == "owner@example.com"
    assert "18.0%" in message["Subject"]
    body = message.get_payload(decode=True).decode()
    assert "https://reports.example.com/ab_report/20260420T060000Z-abc/report.html" in body
    assert "period ending 2026-04-19" in body


def test_smtp_sends_with_credentials_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent: dict[str, Any] = {}

    class FakeSMTP:
        def __init__(self, host: str, port: int, timeout: float) -> None:
            sent["server"] = (host, port)

        def __enter__(self) -> FakeSMTP:
            return self

        def __exit__(self, *exc: object) -> None:
            return None

        def starttls(self) -> None:
            sent["tls"] = True

        def login(self, user: str, password: str) -> None:
            sent["login"] = (user, password)

        def send_message(self, message: Any) -> None:
            sent["subject"] = message["Subject"]

    monkeypatch.setattr("smtplib.SMTP", FakeSMTP)
    monkeypatch.setenv("IMPACT_SMTP_USER", "bot")
    monkeypatch.setenv("IMPACT_SMTP_PASSWORD", "s3cret")
    delivery = Delivery.from_config(
        {
            "smtp": {
                "host": "localhost",
                "port": 2525,
                "user_env": "IMPACT_SMTP_USER",
                "password_env": "IMPACT_SMTP_PASSWORD",
            }
        },
        tmp_path,
    )
    assert delivery is not None and deliver(MANIFEST, delivery) is None
    assert sent == {
        "server": ("localhost", 2525),
        "tls": True,
        "login": ("bot", "s3cret"),
        "subject": f"[impact] Pilot: {MANIFEST['headline']}",
    }


def test_credentials_in_the_config_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ParameterError, match="put credentials in the environment"):
        Delivery.from_config({"smtp": {"host": "x", "password": "hunter2"}}, tmp_path)
    with pytest.raises(ParameterError, match=r"unknown key\(s\) \['cc'\]"):
        Delivery.from_config({"cc": ["a"]}, tmp_path)
