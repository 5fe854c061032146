"""Thousands of signed, malformed requests of every kind, plus unsigned garbage: the bot
answers each with a 2xx or a clean 4xx, logs no traceback, and afterwards still answers
a normal `/loop help` and a normal deal.

Requests are generated deterministically (a seeded Random) from shapes the request
factory builds the way Slack sends them, then mutated: fields removed, given odd types,
ids of 30 digits, identifiers with a trailing newline, metadata that is not ours. Every
action id and modal callback id the handlers register is covered: they are read from
the handlers' source, so a new listener joins the fuzzing without editing this file.
"""

from __future__ import annotations

import http.client
import importlib
import json
import logging
import random
import re
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from bot.devkit.requests import FORM, JSON, SlackRequest, plain_text_value
from tests.conftest import DEALS, MANAGER, REP, REP2, RunningBot

SEED = 20261201
HANDLERS = Path(__file__).resolve().parents[2] / "handlers"
# A decorator (`@app.action(x)`) or a registration line (`app.action(x)(on_x)`).
_LISTENER = re.compile(r"^\s*@?app\.(action|view)\((.+?)\)(?:\(\w+\))?\s*$", re.MULTILINE)

ODD_VALUES: list[Any] = [
    None,
    "",
    " ",
    "0",
    "-1",
    "1",
    "7",
    "42",
    "1:2",
    "9" * 30,
    "123456789012345678901234567890",
    "²",
    "١٢",
    "x" * 3000,
    "null",
    "{}",
    "[]",
    '{"deal_id": 1}',
    '{"deal_id": "1"}',
    '{"deal_id": 99999}',
    '{"deal_id": [1]}',
    '{"run_id": "abc"}',
    '{"date": "2026-13-45"}',
    "not json",
    "payload",
    "1\n",
    "💥",
    0,
    -5,
    1.5,
    True,
    [],
    {},
    ["1"],
    {"value": "1"},
]
# Metadata a modal of ours could carry, pointing at rows that are not there or not yours.
PLAUSIBLE_METADATA = [
    "",
    "{}",
    '{"deal": 1}',
    '{"deal": "1"}',
    '{"deal": "abc"}',
    '{"deal": 99999, "as": "manager"}',
    '{"deal_id": 2}',
    '{"date": "2026-13-45", "user": "U0REP2"}',
    '{"account": "payloadcms", "previous_run": 3}',
]


def _expand(pattern: str) -> list[str]:
    """The ids an anchored pattern like ^loss_mode_(heard|helped)$ matches."""
    body = pattern.strip("^$")
    group = re.search(r"\(([^()]*)\)", body)
    if group is None:
        return [body] if re.fullmatch(r"[\w-]+", body) else []
    head, tail = body[: group.start()], body[group.end() :]
    alternatives = group.group(1).removeprefix("?:")
    return [i for alt in alternatives.split("|") for i in _expand(head + alt + tail)]


def registered_ids() -> tuple[list[str], list[str]]:
    """(action ids, view callback ids) registered by the handlers."""
    actions: set[str] = set()
    views: set[str] = set()
    for path in sorted(HANDLERS.glob("*.py")):
        module = importlib.import_module(f"handlers.{path.stem}")
        for kind, arg in _LISTENER.findall(path.read_text()):
            # The listener's own argument, evaluated where it is written: a literal, a
            # constant or a pattern built from constants (an f-string) all come out right.
            value: Any = eval(arg, vars(module))  # noqa: S307 - our own source
            if isinstance(value, re.Pattern):
                ids = _expand(value.pattern)
            else:
                ids = [value] if isinstance(value, str) else []
            (actions if kind == "action" else views).update(ids)
    return sorted(actions), sorted(views)


def test_every_listener_is_found() -> None:
    actions, views = registered_ids()
    assert {"loss_mode_heard", "teeup_agreed", "concern_satisfied", "manager_call_request"} <= set(
        actions
    )
    assert {"loss_log", "reflection", "concern_modal"} <= set(views)


class Fuzzer:
    def __init__(self, bot: RunningBot, seed: int) -> None:
        self.bot = bot
        self.slack = bot.slack
        self.rng = random.Random(seed)
        self.actions, self.views = registered_ids()

    def pick(self, values: list[Any]) -> Any:
        return self.rng.choice(values)

    # -- mutations -------------------------------------------------------------------------

    def mutate(self, obj: Any, depth: int = 0) -> Any:
        """Remove, retype or replace a few fields anywhere in a JSON-like value."""
        if isinstance(obj, dict) and obj:
            out = dict(obj)
            for _ in range(self.rng.randint(1, 3)):
                key = self.pick(sorted(out))
                roll = self.rng.random()
                if roll < 0.3:
                    out.pop(key, None)
                elif roll < 0.7 or depth > 4:
                    out[key] = self.pick(ODD_VALUES)
                else:
                    out[key] = self.mutate(out[key], depth + 1)
                if not out:
                    break
            return out
        if isinstance(obj, list) and obj:
            out_list = list(obj)
            i = self.rng.randrange(len(out_list))
            out_list[i] = self.mutate(out_list[i], depth + 1)
            return out_list
        return self.pick(ODD_VALUES)

    def sign_json(self, payload: Any) -> SlackRequest:
        body = json.dumps(payload, separators=(",", ":")).encode()
        return SlackRequest(body=body, headers=self.slack.sign(body, content_type=JSON))

    def sign_payload(self, payload: Any) -> SlackRequest:
        body = urlencode({"payload": json.dumps(payload, separators=(",", ":"))}).encode()
        return SlackRequest(body=body, headers=self.slack.sign(body, content_type=FORM))

    def sign_form(self, fields: dict[str, Any]) -> SlackRequest:
        body = urlencode({k: v for k, v in fields.items() if v is not None}).encode()
        return SlackRequest(body=body, headers=self.slack.sign(body, content_type=FORM))

    @staticmethod
    def decoded(request: SlackRequest) -> dict[str, Any]:
        from urllib.parse import parse_qsl

        if request.headers["Content-Type"] == JSON:
            return json.loads(request.body)
        form = dict(parse_qsl(request.text, keep_blank_values=True))
        return json.loads(form["payload"]) if "payload" in form else form

    # -- the three kinds ---------------------------------------------------------------------

    def event(self) -> SlackRequest:
        texts = [
            f"Closed Lost: Globex <@{REP}>",
            f"Closed won: payloadcms <@{REP}>",
            "Closed lost: " + "A" * 5000,
            "lunch?",
            f"<@{'U' + '9' * 30}> closed lost Initech",
        ]
        channel = self.pick([DEALS, "C0RANDOM", "D0REP1", "C" + "1" * 30])
        user = self.pick([MANAGER, REP, "U0FORGED1"])
        event = self.slack.message_event(self.pick(texts), channel=channel, user=user)
        if self.rng.random() < 0.2:
            event = {
                "type": self.pick(["app_home_opened", "member_joined_channel", "reaction_added"]),
                "user": user,
                "channel": channel,
                "tab": "home",
            }
        envelope = self.slack.envelope(event)
        if self.rng.random() < 0.8:
            target = self.pick(["envelope", "event", "event"])
            if target == "envelope":
                envelope = self.mutate(envelope)
            else:
                envelope["event"] = self.mutate(event)
        return self.sign_json(envelope)

    def command(self) -> SlackRequest:
        words = [
            "",
            "help",
            "deal",
            "deal lost",
            "deal won",
            "prep",
            "concern",
            "reflect",
            "reflect on",
            "tee-up",
            "team",
            "quiet",
            "vacation",
            "snooze",
            "log",
            "payload",
            "screen-out",
            "settings",
            "forget-me",
        ]
        args = [
            "Globex",
            "payloadcms",
            "9" * 30,
            f"<@{REP2}|sam>",
            "<@U" + "1" * 30 + ">",
            "Acme — payload limits",
            "\u0000\u202e",
            "x" * 4000,
            "— —",
            "2026-02-30",
            "",
        ]
        text = f"{self.pick(words)} {self.pick(args)}".strip()
        request = self.slack.slash_command(text, user=self.pick([REP, REP2, MANAGER]))
        if self.rng.random() < 0.6:
            fields = self.decoded(request)
            for _ in range(self.rng.randint(1, 3)):
                key = self.pick(sorted(fields))
                if self.rng.random() < 0.4:
                    fields.pop(key)
                else:
                    fields[key] = str(self.pick(ODD_VALUES))
            return self.sign_form(fields)
        return request

    def block_action(self) -> SlackRequest:
        action_id = self.pick(self.actions)
        if self.rng.random() < 0.1:
            action_id = action_id + self.pick(["\n", " ", "\t", "x"])
        value = self.pick(ODD_VALUES)
        request = self.slack.block_action(
            action_id.strip() or "x",
            value=value if isinstance(value, str) else None,
            user=self.pick([REP, REP2, MANAGER]),
        )
        payload = self.decoded(request)
        payload["actions"][0]["action_id"] = action_id
        if not isinstance(value, str):
            payload["actions"][0]["value"] = value
        if self.rng.random() < 0.4:
            payload = self.mutate(payload)
        return self.sign_payload(payload)

    def view_submission(self) -> SlackRequest:
        callback_id = self.pick(self.views)
        metadata = self.pick(PLAUSIBLE_METADATA if self.rng.random() < 0.6 else ODD_VALUES)
        values = {
            self.pick(["b", "answer", "went", "concern", "guess"]): {
                self.pick(["a", "input", "value"]): plain_text_value(
                    self.pick(["x", "", "payload"])
                )
            }
        }
        request = self.slack.view_submission(
            callback_id,
            values,
            user=self.pick([REP, REP2, MANAGER]),
            private_metadata=metadata if isinstance(metadata, str) else "",
        )
        payload = self.decoded(request)
        view = payload["view"]
        if not isinstance(metadata, str):
            view["private_metadata"] = metadata
        roll = self.rng.random()
        if roll < 0.1:
            view.pop("state")
        elif roll < 0.3:
            view["state"] = self.mutate(view["state"])
        elif roll < 0.45:
            payload["view"] = self.mutate(view)
        elif roll < 0.55:
            payload = self.mutate(payload)
        return self.sign_payload(payload)

    def unsigned(self) -> SlackRequest:
        bodies = [b"{not json", b"\xff\xfe\x00", b"payload=%7B", b"", b"a=b&c", b"[]" * 1000]
        request = SlackRequest(body=self.pick(bodies), headers={"Content-Type": JSON})
        roll = self.rng.random()
        if roll < 0.3:
            request.headers["X-Slack-Request-Timestamp"] = self.pick(["abc", "", "1e9", "-1"])
            request.headers["X-Slack-Signature"] = "v0=" + "0" * 64
        elif roll < 0.6:
            signed = self.slack.sign(request.body, content_type=JSON, secret="wrong-secret")
            request.headers.update(signed)
        return request

    def signed_garbage(self) -> SlackRequest:
        """Correctly signed bodies that are no Slack request at all."""
        bodies = [
            (b"{not json", JSON),
            (b"[1,2]", JSON),
            (b'"payload"', JSON),
            (b"payload=%7Bnot+json", FORM),
            (b"payload=%5B%5D", FORM),
            (b"payload=1&payload=2", FORM),
            (b"\xff\xfe=\x00", FORM),
            (b"%%%", FORM),
            (b"", FORM),
        ]
        body, content_type = self.pick(bodies)
        return SlackRequest(body=body, headers=self.slack.sign(body, content_type=content_type))

    def requests(self, n: int) -> Iterator[tuple[str, SlackRequest]]:
        kinds = [self.event, self.command, self.block_action, self.view_submission]
        for i in range(n):
            if i % 10 == 9:
                yield "unsigned", self.unsigned()
            elif i % 20 == 4:
                yield "signed_garbage", self.signed_garbage()
            else:
                make = kinds[i % len(kinds)]
                yield make.__name__, make()


def send_all(url: str, requests: list[tuple[str, SlackRequest]]) -> list[tuple[str, int, bytes]]:
    """POST over one kept-alive connection, as Slack does."""
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    results = []
    try:
        for kind, request in requests:
            conn.request("POST", "/slack/events", body=request.body, headers=request.headers)
            resp = conn.getresponse()
            results.append((kind, resp.status, request.body))
            resp.read()
            if resp.will_close:
                conn.close()
                conn = http.client.HTTPConnection(host, int(port), timeout=30)
    finally:
        conn.close()
    return results


@pytest.mark.parametrize("seed", [SEED])
def test_thousands_of_malformed_requests_get_no_5xx_and_no_traceback(
    bot: RunningBot, caplog: pytest.LogCaptureFixture, seed: int
) -> None:
    caplog.set_level(logging.INFO)
    fuzzer = Fuzzer(bot, seed)
    requests = list(fuzzer.requests(3600))
    assert sum(kind != "unsigned" for kind, _ in requests) >= 3000
    kinds = {kind for kind, _ in requests}
    assert kinds == {
        "event",
        "command",
        "block_action",
        "view_submission",
        "unsigned",
        "signed_garbage",
    }

    started = time.monotonic()
    chunks = [requests[i::4] for i in range(4)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = [r for part in pool.map(lambda c: send_all(bot.url, c), chunks) for r in part]
    bot.idle(60)
    elapsed = time.monotonic() - started

    failures = [(kind, status, body[:300]) for kind, status, body in results if status >= 500]
    assert failures == [], failures[:5]
    assert all(status < 400 or status in (400, 401, 404, 413) for _, status, _ in results)
    # The fuzzing reached the listeners, not only the door.
    for kind in ("event", "command", "block_action", "view_submission"):
        answered = [status for k, status, _ in results if k == kind and status == 200]
        assert len(answered) >= 250, (kind, len(answered))
    tracebacks = [
        r.getMessage() for r in caplog.records if r.exc_info or "Traceback" in r.getMessage()
    ]
    assert tracebacks == [], tracebacks[:3]
    # Unsigned garbage is a 401 and one log line, not one per request.
    assert {status for kind, status, _ in results if kind == "unsigned"} == {401}
    assert {status for kind, status, _ in results if kind == "signed_garbage"} == {400}
    assert len([r for r in caplog.records if "refused" in r.getMessage()]) <= 2
    assert elapsed < 60

    # Still answering normally afterwards.
    help_resp = bot.post(bot.slack.slash_command("help", user=REP))
    assert help_resp.status == 200 and "/loop" in help_resp.json()["text"]
    before = len(bot.dms_to(REP2))
    event = bot.slack.message_event(f"Closed Lost: Initech <@{REP2}>", channel=DEALS, user=MANAGER)
    assert bot.send(bot.slack.event_request(event)).status == 200
    assert len(bot.dms_to(REP2)) == before + 1
