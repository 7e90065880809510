"""An optional notice when a test stops: an email through SMTP and/or a JSON webhook."""

import logging
import smtplib
from email.message import EmailMessage
from typing import Any

import requests

log = logging.getLogger(__name__)


def summary_line(payload: dict[str, Any]) -> str:
    regressions = payload.get("regressions") or []
    label = payload.get("current", {}).get("label")
    if payload.get("baseline") is None:
        return f"loadwatch: run {label} finished (no baseline)"
    if regressions:
        return f"loadwatch: run {label} REGRESSED on {', '.join(regressions)}"
    return f"loadwatch: run {label}: no regression"


def send_email(host_port: str, to: str, sender: str, subject: str, body: str) -> None:
    host, _, port = host_port.rpartition(":")
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = sender, to, subject
    message.set_content(body)
    with smtplib.SMTP(host or host_port, int(port) if port.isdigit() else 25, timeout=10) as smtp:
        smtp.send_message(message)


def send_webhook(url: str, payload: dict[str, Any]) -> None:
    requests.post(url, json=payload, timeout=10).raise_for_status()


def notify(options: Any, payload: dict[str, Any], text: str) -> None:
    """Send what the options ask for; a failure to notify is logged, not raised."""
    subject = summary_line(payload)
    if options.notify_smtp and options.notify_to:
        try:
            send_email(options.notify_smtp, options.notify_to, options.notify_from, subject, text)
            log.info("loadkit: notice mailed to %s", options.notify_to)
        except (OSError, smtplib.SMTPException) as error:
            log.error("loadkit: could not mail the notice: %s", error)
    if options.notify_webhook:
        try:
            send_webhook(options.notify_webhook, {"summary": subject, **payload})
            log.info("loadkit: notice posted to %s", options.notify_webhook)
        except requests.RequestException as error:
            log.error("loadkit: could not post the notice: %s", error)
