"""Deliver a run's headline to people who never open JupyterLab.

Every successful run can drop an e-mail message (RFC 822, ``.eml``) with the headline and a
link into an outbox folder; when SMTP is configured the same message is sent. Credentials come
from environment variables named in the config, never from the config itself.
"""

from __future__ import annotations

import os
import smtplib
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from impact.errors import ParameterError


@dataclass(frozen=True, slots=True)
class Delivery:
    """Where digests go: an outbox folder, and optionally an SMTP server."""

    outbox: Path | None = None
    recipients: tuple[str, ...] = ()
    sender: str = "impact@localhost"
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_user_env: str | None = None
    smtp_password_env: str | None = None
    link_base: str = ""

    @classmethod
    def from_config(cls, raw: Mapping[str, Any] | None, root: Path) -> Delivery | None:
        """From the ``delivery:`` section of ``impact.yaml`` (None when absent)."""
        if not raw:
            return None
        known = {"outbox", "recipients", "sender", "smtp", "link_base"}
        if unknown := sorted(set(raw) - known):
            raise ParameterError(f"delivery: unknown key(s) {unknown}; known: {sorted(known)}")
        smtp = raw.get("smtp") or {}
        if "password" in smtp or "user" in smtp:
            raise ParameterError(
                "delivery.smtp: put credentials in the environment and name the variables "
                "with user_env / password_env; never in impact.yaml"
            )
        return cls(
            outbox=(root / str(raw["outbox"])).resolve() if raw.get("outbox") else None,
            recipients=tuple(raw.get("recipients") or ()),
            sender=str(raw.get("sender", cls.sender)),
            smtp_host=smtp.get("host"),
            smtp_port=int(smtp.get("port", 587)),
            smtp_user_env=smtp.get("user_env"),
            smtp_password_env=smtp.get("password_env"),
            link_base=str(raw.get("link_base", "")),
        )


def digest(manifest: Mapping[str, Any], delivery: Delivery) -> EmailMessage:
    """The message for one successful run: subject, headline, link, nothing row-level."""
    report, run_id = manifest["report"], manifest["run_id"]
    link = f"{delivery.link_base.rstrip('/')}/{report}/{run_id}/report.html".lstrip("/")
    message = EmailMessage()
    message["Subject"] = f"[impact] {manifest.get('title', report)}: {manifest.get('headline')}"
    message["From"] = delivery.sender
    message["To"] = ", ".join(delivery.recipients) or delivery.sender
    period = (
        f" for the period ending {manifest['period_end']}" if manifest.get("period_end") else ""
    )
    message.set_content(
        f"{manifest.get('headline')}\n\nReport{period}: {link}\nRun {run_id}, finished "
        f"{manifest.get('finished_at')}.\n"
    )
    return message


def deliver(manifest: Mapping[str, Any], delivery: Delivery) -> Path | None:
    """Write the digest to the outbox (returns its path) and send it if SMTP is set."""
    message = digest(manifest, delivery)
    written = None
    if delivery.outbox is not None:
        delivery.outbox.mkdir(parents=True, exist_ok=True)
        written = delivery.outbox / f"{manifest['report']}-{manifest['run_id']}.eml"
        written.write_bytes(bytes(message))
    if delivery.smtp_host:
        with smtplib.SMTP(delivery.smtp_host, delivery.smtp_port, timeout=30) as server:
            server.starttls()
            user = os.environ.get(delivery.smtp_user_env or "")
            password = os.environ.get(delivery.smtp_password_env or "")
            if user and password:
                server.login(user, password)
            server.send_message(message)
    return written
