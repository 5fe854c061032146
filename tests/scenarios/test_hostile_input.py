"""Hostile and unusual input at the door: the word "payload" in ordinary text, unsigned or
badly signed requests, bodies no Slack request has. Each is refused with a 4xx before
anything reads it, or handled like any other request."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from urllib.parse import urlencode

import pytest
from sqlmodel import Session, col, select

from bot.devkit.requests import FORM, JSON, SlackRequest
from bot.inbound import RefusalLog
from storage.models import Deal, RitualRun
from tests.conftest import MANAGER, REP, SIGNING_SECRET, RunningBot


def deals(bot: RunningBot) -> list[Deal]:
    with Session(bot.rt.engine) as s:
        return list(s.exec(select(Deal).order_by(col(Deal.id))).all())


def signed(body: bytes, content_type: str = FORM, *, timestamp: str | None = None) -> SlackRequest:
    ts = timestamp or str(int(time.time()))
    digest = hmac.new(
        SIGNING_SECRET.encode(), b"v0:" + ts.encode() + b":" + body, hashlib.sha256
    ).hexdigest()
    return SlackRequest(
        body=body,
        headers={
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": f"v0={digest}",
        },
    )


# -- "payload" in ordinary text ------------------------------------------------------------


@pytest.mark.parametrize("account", ["payloadcms", "Payload Systems", "The payload= Co", "payload"])
def test_the_word_payload_in_a_deal_command_logs_the_deal(bot: RunningBot, account: str) -> None:
    resp = bot.send(bot.slack.slash_command(f"deal lost {account}", user=REP))
    assert resp.status == 200
    [deal] = deals(bot)
    assert deal.account == account
    assert deal.outcome == "lost"
    assert len(bot.dms_to(REP)) == 1


def test_the_word_payload_in_concern_text_is_kept(bot: RunningBot) -> None:
    resp = bot.send(
        bot.slack.slash_command("concern Acme Corp — payload size limits on their API", user=REP)
    )
    assert resp.status == 200
    with Session(bot.rt.engine) as s:
        [run] = s.exec(select(RitualRun).where(RitualRun.ritual == "concern")).all()
    assert "payload size limits" in json.dumps(run.data)


def test_help_with_payload_in_the_text_still_answers(bot: RunningBot) -> None:
    resp = bot.post(bot.slack.slash_command("payload", user=REP))
    assert resp.status == 200
    assert "payload" in resp.json()["text"]  # the unknown-subcommand answer names the word


def test_a_deals_channel_post_mentioning_payload_is_a_deal(bot: RunningBot) -> None:
    event = bot.slack.message_event(
        f"Closed Lost: Globex <@{REP}> payload limits", channel="C0DEALS", user=MANAGER
    )
    assert bot.send(bot.slack.event_request(event)).status == 200
    assert len(deals(bot)) == 1 and len(bot.dms_to(REP)) == 1


# -- signatures before parsing ------------------------------------------------------------


@pytest.mark.parametrize(
    "timestamp", ["", "abc", "1e9", "-5", " 1700000000", "17000000000000000000", "\xb9\xb2"]
)
def test_a_malformed_timestamp_is_a_401(bot: RunningBot, timestamp: str) -> None:
    request = bot.slack.slash_command("help")
    request.headers["X-Slack-Request-Timestamp"] = timestamp
    assert bot.post(request).status == 401


def test_missing_signature_headers_are_a_401(bot: RunningBot) -> None:
    request = bot.slack.slash_command("help")
    del request.headers["X-Slack-Signature"]
    assert bot.post(request).status == 401
    request = bot.slack.slash_command("help")
    del request.headers["X-Slack-Request-Timestamp"]
    assert bot.post(request).status == 401


def test_an_unsigned_non_json_body_is_a_401_and_one_log_line(
    bot: RunningBot, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    for body in (b"{not json", b"\xff\xfe\x00garbage", b"payload=%7B", b""):
        request = SlackRequest(body=body, headers={"Content-Type": JSON})
        assert bot.post(request).status == 401
    refused = [r for r in caplog.records if "refused" in r.getMessage()]
    assert len(refused) == 1  # rate limited: one line, however many arrive
    assert not any(r.exc_info for r in caplog.records)


def test_a_stale_signature_is_a_401(bot: RunningBot) -> None:
    request = bot.slack.slash_command("help", timestamp=int(time.time()) - 3600)
    assert bot.post(request).status == 401


@pytest.mark.parametrize(
    "body,content_type",
    [
        (b"{not json", JSON),
        (b"[1, 2, 3]", JSON),
        (b"\xff\xfe", FORM),
        (b"payload=%7Bnot+json", FORM),
        (b"payload=%5B%5D", FORM),
        (b"payload=1&payload=2", FORM),
        (urlencode({"payload": json.dumps({"type": "block_actions"})}).encode(), FORM),
        (
            urlencode({"payload": json.dumps({"type": "view_submission", "view": {}})}).encode(),
            FORM,
        ),
        (urlencode({"payload": json.dumps({"type": "no_such_type"})}).encode(), FORM),
        (b'{"type":"event_callback","event":"message"}', JSON),
        (b"text=help", FORM),
    ],
)
def test_signed_bodies_no_slack_request_has_are_a_400(
    bot: RunningBot, body: bytes, content_type: str
) -> None:
    assert bot.post(signed(body, content_type)).status == 400


def test_the_refusal_log_counts_between_lines() -> None:
    now = [0.0]
    refusals = RefusalLog(every=60, clock=lambda: now[0])
    lines: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: lines.append(record.getMessage())  # type: ignore[method-assign]
    logger = logging.getLogger("bot.inbound")
    logger.addHandler(handler)
    try:
        for _ in range(5):
            refusals.refused(401, "bad signature")
        now[0] = 61
        refusals.refused(400, "malformed JSON")
    finally:
        logger.removeHandler(handler)
    assert len(lines) == 2
    assert "1 request" in lines[0] and "5 request" in lines[1] and "malformed JSON" in lines[1]


def test_bolts_own_form_parsing_loses_a_command_with_payload_in_it_and_ours_does_not() -> None:
    """Why the body is parsed at the door: Bolt tests for the substring "payload"."""
    from slack_bolt.request.internals import parse_body as bolt_parse_body

    from bot.inbound import parse_body

    body = urlencode({"command": "/loop", "text": "deal lost payloadcms", "user_id": REP})
    assert bolt_parse_body(body, FORM) == {}  # Bolt: no command, so a 404
    assert parse_body(body, FORM)["text"] == "deal lost payloadcms"
    click = urlencode({"payload": json.dumps({"type": "block_actions", "text": "payload"})})
    assert parse_body(click, FORM) == {"type": "block_actions", "text": "payload"}
