"""Operator alerts: Slack-compatible JSON posted to ``ALERT_WEBHOOK_URL`` when it is set."""

from __future__ import annotations

import logging
from typing import Any

import requests

from services.settings import get_settings

logger = logging.getLogger(__name__)

TIMEOUT_S = 5


def send_alert(title: str, **fields: object) -> bool:
    """Post ``title`` and ``fields`` to the alert webhook; never raises.

    Returns whether the alert was delivered (False when no URL is configured).
    """
    url = get_settings().alert_webhook_url
    logger.warning("ALERT %s %s", title, fields)
    if not url:
        return False
    lines = [f"*{title}*", *(f"{name}: {value}" for name, value in fields.items())]
    payload: dict[str, Any] = {
        "text": "\n".join(lines),
        "attachments": [
            {
                "color": "danger",
                "fields": [
                    {"title": name, "value": str(value), "short": True}
                    for name, value in fields.items()
                ],
            }
        ],
    }
    try:
        response = requests.post(url, json=payload, timeout=TIMEOUT_S)
        response.raise_for_status()
    except requests.RequestException:
        logger.exception("Alert could not be delivered to ALERT_WEBHOOK_URL")
        return False
    return True
