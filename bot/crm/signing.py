"""The CRM webhook's signature: Slack's own v0 scheme under our header names.

`X-Feedback-Loop-Timestamp` is Unix seconds; `X-Feedback-Loop-Signature` is `v0=` and the
hex HMAC-SHA256 of `v0:{timestamp}:{raw body}` keyed with CRM_WEBHOOK_SECRET. The server
checks it with bot.inbound.verify_signature, the same code that checks Slack's."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

TIMESTAMP_HEADER = "x-feedback-loop-timestamp"
SIGNATURE_HEADER = "x-feedback-loop-signature"


def sign(secret: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    """The two headers that sign `body` (what a CRM, the tests and the bench send)."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), b"v0:" + ts.encode() + b":" + body, hashlib.sha256)
    return {
        "X-Feedback-Loop-Timestamp": ts,
        "X-Feedback-Loop-Signature": "v0=" + digest.hexdigest(),
    }


def team_secret(secret: str, team_id: str) -> str:
    """A workspace's own webhook secret in OAuth mode, derived from CRM_WEBHOOK_SECRET:
    each workspace's CRM signs with its own, so one workspace's secret cannot announce a
    deal in another's (`feedback-loop webhook-secret --team T…` prints it)."""
    return hmac.new(secret.encode(), b"team:" + team_id.encode(), hashlib.sha256).hexdigest()


def new_secret() -> str:
    """A fresh CRM_WEBHOOK_SECRET: 32 random bytes as hex (as long as Slack's own)."""
    return secrets.token_hex(32)
