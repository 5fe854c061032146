"""What comes in on `POST /slack/events`, checked before anything reads it.

Order matters: the signature is checked on the raw bytes first, so an unsigned request
costs one HMAC and nothing else. Only then is the body decoded and parsed, by us: Bolt's
own form parsing treats any body containing the substring "payload" as interactivity,
so `/loop deal lost payloadcms` lost its command. Here `payload` counts only as the form
key, and Bolt gets the parsed body in a request it cannot parse again (`ParsedRequest`).

A parsed body whose shape no Slack request has (a user that is a list, an action without
an id, a 30-digit id) is refused with a 400 too: every listener can then read the fields
it uses without guarding each one against types Slack never sends.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.request.async_internals import build_async_context
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.request.internals import (
    build_normalized_headers,
    extract_content_type,
    parse_query,
)

log = logging.getLogger(__name__)

# Slack's own limit for an interactivity payload is far below this; anything bigger is
# not from Slack and is refused before it is read into memory whole.
MAX_BODY_BYTES = 1_000_000
# Slack's documented replay window for a signed request.
MAX_CLOCK_SKEW_SECONDS = 60 * 5
# No id we put in a button value or a modal's metadata is longer than this (database
# ids fit 63 bits); a longer run of digits cannot come from one of our messages.
MAX_ID_DIGITS = 18

_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_SIGNATURE = re.compile(r"v0=[0-9a-f]{64}")
_LONG_DIGITS = re.compile(rf"[0-9]{{{MAX_ID_DIGITS + 1},}}")
_SLACK_ID = re.compile(r"[A-Z0-9]{1,40}")
_URL = re.compile(r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?/[!-~]*")
_TS = re.compile(r"[0-9]{1,12}(\.[0-9]{1,9})?")


class Refused(Exception):
    """The request is answered with `status` and nothing of it is processed."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


# -- signature ---------------------------------------------------------------------------


def verify_signature(
    secret: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    now: float | None = None,
    timestamp_header: str = "x-slack-request-timestamp",
    signature_header: str = "x-slack-signature",
) -> None:
    """Slack's v0 scheme on the raw bytes. Every malformed header is a 401, never an
    exception: the timestamp must be digits, the signature 64 hex digits. The CRM
    webhook uses the same scheme under its own header names (bot/crm/signing.py)."""
    timestamp = headers.get(timestamp_header, "")
    signature = headers.get(signature_header, "")
    if not secret:
        raise Refused(401, "no signing secret configured")
    if not _TIMESTAMP.fullmatch(timestamp):
        raise Refused(401, "missing or malformed timestamp")
    if not _SIGNATURE.fullmatch(signature):
        raise Refused(401, "missing or malformed signature")
    current = time.time() if now is None else now
    if abs(current - int(timestamp)) > MAX_CLOCK_SKEW_SECONDS:
        raise Refused(401, "stale timestamp")
    base = b"v0:" + timestamp.encode() + b":" + body
    expected = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature):
        raise Refused(401, "bad signature")


# -- body --------------------------------------------------------------------------------


def parse_body(raw: str, content_type: str | None) -> dict[str, Any]:
    """The body as Bolt expects it: an Events API envelope, a slash command's fields,
    or an interactivity payload (the JSON in the form field named `payload`)."""
    if not raw:
        raise Refused(400, "empty body")
    if content_type == "application/json" or raw.lstrip().startswith("{"):
        return json_object(raw)
    try:
        fields = parse_qsl(raw, keep_blank_values=True, strict_parsing=True, max_num_fields=200)
    except ValueError:
        raise Refused(400, "malformed form body") from None
    keys = [k for k, _ in fields]
    if len(set(keys)) != len(keys):
        raise Refused(400, "repeated form field")
    form = dict(fields)
    if "payload" in form:
        if len(form) != 1:
            raise Refused(400, "payload with other form fields")
        return json_object(form["payload"])
    return form


def json_object(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        raise Refused(400, "malformed JSON") from None
    if not isinstance(value, dict):
        raise Refused(400, "JSON that is not an object")
    return value


# -- shape -------------------------------------------------------------------------------


def _fail(reason: str) -> Refused:
    return Refused(400, reason)


def _opt_str(obj: Mapping[str, Any], key: str) -> None:
    if key in obj and obj[key] is not None and not isinstance(obj[key], str):
        raise _fail(f"{key} is not a string")


def _opt_dict(obj: Mapping[str, Any], key: str) -> dict[str, Any] | None:
    value = obj.get(key)
    if value is not None and not isinstance(value, dict):
        raise _fail(f"{key} is not an object")
    return value


def _slack_id(obj: Mapping[str, Any] | None, key: str, *, required: bool = False) -> None:
    value = (obj or {}).get(key)
    if value is None or value == "":
        if required:
            raise _fail(f"{key} missing")
        return
    if not isinstance(value, str) or not _SLACK_ID.fullmatch(value):
        raise _fail(f"{key} is not a Slack id")


def _ts(obj: Mapping[str, Any] | None, key: str) -> None:
    value = (obj or {}).get(key)
    if value is None or value == "":
        return
    if not isinstance(value, str) or not _TS.fullmatch(value):
        raise _fail(f"{key} is not a Slack ts")


def _our_value(value: Any, what: str) -> None:
    """A string we may have written: no control characters, no over-long id."""
    if value is None:
        return
    if not isinstance(value, str):
        raise _fail(f"{what} is not a string")
    if _LONG_DIGITS.search(value):
        raise _fail(f"{what} holds an over-long id")
    if any(ord(c) < 32 for c in value):
        raise _fail(f"{what} holds control characters")
    # Handlers read ids with str.isdigit(), which accepts "²" and then int() fails on it.
    if any(c.isdigit() and not c.isascii() for c in value):
        raise _fail(f"{what} holds digits that are not ASCII")


def _metadata(value: Any) -> None:
    """private_metadata as our modals write it (bot.messages.blocks.metadata_json): empty, or a
    JSON object of plain values."""
    _our_value(value, "view.private_metadata")
    if not value:
        return
    try:
        meta = json.loads(value)
    except ValueError:
        raise _fail("view.private_metadata is not JSON") from None
    if not isinstance(meta, dict):
        raise _fail("view.private_metadata is not an object")
    for item in meta.values():
        if item is not None and not isinstance(item, str | int | float | bool):
            raise _fail("view.private_metadata holds a nested value")
        if isinstance(item, int) and abs(item) >= 2**63:
            raise _fail("view.private_metadata holds an over-long id")


def _url(obj: Mapping[str, Any], key: str, *, required: bool) -> None:
    value = obj.get(key)
    if value is None or value == "":
        if required:
            raise _fail(f"{key} missing")
        return
    if not isinstance(value, str) or not _URL.fullmatch(value):
        raise _fail(f"{key} is not a URL")


def _identifier(value: Any, what: str) -> None:
    """action_id, block_id, callback_id: printable, no surrounding whitespace."""
    _our_value(value, what)
    if isinstance(value, str) and value != value.strip():
        raise _fail(f"{what} has surrounding whitespace")


def _option(value: Any, what: str) -> None:
    if value is None:
        return
    if not isinstance(value, dict):
        raise _fail(f"{what} is not an option")
    _our_value(value.get("value"), f"{what}.value")


def _element_state(state: Any, where: str) -> None:
    if not isinstance(state, dict):
        raise _fail(f"{where} is not an element state")
    for key in ("type", "value", "selected_date", "selected_time", "selected_user"):
        if key in state and state[key] is not None and not isinstance(state[key], str):
            raise _fail(f"{where}.{key} is not a string")
    _option(state.get("selected_option"), f"{where}.selected_option")
    options = state.get("selected_options")
    if options is not None:
        if not isinstance(options, list):
            raise _fail(f"{where}.selected_options is not a list")
        for i, option in enumerate(options):
            _option(option, f"{where}.selected_options[{i}]")
    users = state.get("selected_users")
    if users is not None and (
        not isinstance(users, list) or not all(isinstance(u, str) for u in users)
    ):
        raise _fail(f"{where}.selected_users is not a list of ids")


def _state_values(container: Mapping[str, Any], where: str) -> None:
    state = container.get("state")
    if state is None:
        return
    if not isinstance(state, dict):
        raise _fail(f"{where}.state is not an object")
    values = state.get("values")
    if not isinstance(values, dict):
        raise _fail(f"{where}.state.values is not an object")
    for block_id, elements in values.items():
        if not isinstance(elements, dict):
            raise _fail(f"{where}.state.values.{block_id[:40]} is not an object")
        for element in elements.values():
            _element_state(element, f"{where}.state")


def _common(body: Mapping[str, Any]) -> None:
    user = _opt_dict(body, "user")
    if user is not None:
        _slack_id(user, "id", required=True)
        _slack_id(user, "team_id")
    team = _opt_dict(body, "team")
    _slack_id(team, "id")
    enterprise = body.get("enterprise")
    if enterprise is not None and not isinstance(enterprise, str | dict):
        raise _fail("enterprise is neither id nor object")
    channel = _opt_dict(body, "channel")
    _slack_id(channel, "id")
    for key in ("trigger_id", "api_app_id", "token", "type"):
        _opt_str(body, key)
    _url(body, "response_url", required=False)
    _slack_id(body, "team_id")
    _slack_id(body, "user_id")
    _slack_id(body, "channel_id")
    _slack_id(body, "enterprise_id")


def _view(view: Any, *, required: bool) -> None:
    if view is None:
        if required:
            raise _fail("view missing")
        return
    if not isinstance(view, dict):
        raise _fail("view is not an object")
    # Bolt reads view.type unguarded, and a "workflow_step" view makes it look for a
    # workflow_step field: only the view types this app opens pass.
    if view.get("type") not in ("modal", "home"):
        raise _fail("view.type is not modal or home")
    if required and not isinstance(view.get("callback_id"), str):
        raise _fail("view.callback_id missing")
    _identifier(view.get("callback_id"), "view.callback_id")
    _metadata(view.get("private_metadata"))
    _our_value(view.get("external_id"), "view.external_id")
    for key in ("id", "root_view_id", "previous_view_id", "team_id", "app_id", "bot_id"):
        _slack_id(view, key)
    _state_values(view, "view")
    if required and not isinstance(view.get("state"), dict):
        raise _fail("view.state missing")


def _block_actions(body: Mapping[str, Any]) -> None:
    actions = body.get("actions")
    if not isinstance(actions, list) or not actions:
        raise _fail("actions missing")
    for action in actions:
        if not isinstance(action, dict):
            raise _fail("action is not an object")
        _identifier(action.get("action_id"), "action_id")
        if not action.get("action_id"):
            raise _fail("action_id missing")
        _identifier(action.get("block_id"), "block_id")
        _our_value(action.get("value"), "action value")
        _opt_str(action, "type")
        _ts(action, "action_ts")
        _option(action.get("selected_option"), "selected_option")
        options = action.get("selected_options")
        if options is not None and not isinstance(options, list):
            raise _fail("selected_options is not a list")
        for option in options or []:
            _option(option, "selected_options[]")
        for key in ("selected_user", "selected_date", "selected_conversation", "selected_channel"):
            _opt_str(action, key)
    container = _opt_dict(body, "container")
    if (container or {}).get("type") == "message" or "message" in body:
        _url(body, "response_url", required=True)
    _ts(container, "message_ts")
    _slack_id(container, "channel_id")
    _slack_id(container, "view_id")
    message = _opt_dict(body, "message")
    _ts(message, "ts")
    _ts(message, "thread_ts")
    _view(body.get("view"), required=False)
    _state_values(body, "body")


def _command(body: Mapping[str, Any]) -> None:
    for key in ("command", "text", "response_url", "trigger_id", "user_name"):
        if not isinstance(body.get(key, ""), str):
            raise _fail(f"{key} is not a string")
    if not body.get("command"):
        raise _fail("command missing")
    _url(body, "response_url", required=True)
    _slack_id(body, "user_id", required=True)


def _event(body: Mapping[str, Any]) -> None:
    event = _opt_dict(body, "event")
    if event is None:
        raise _fail("event missing")
    if not isinstance(event.get("type"), str):
        raise _fail("event.type missing")
    for key in ("text", "subtype", "channel_type", "bot_id", "client_msg_id"):
        _opt_str(event, key)
    # `user` is an id on messages and an object on a few events (user_change).
    if isinstance(event.get("user"), str):
        _slack_id(event, "user")
    elif event.get("user") is not None and not isinstance(event.get("user"), dict):
        raise _fail("event.user is neither id nor object")
    if isinstance(event.get("channel"), str):
        _slack_id(event, "channel")
    for key in ("ts", "thread_ts", "event_ts"):
        _ts(event, key)
    for key in ("blocks", "attachments"):
        if key in event and event[key] is not None and not isinstance(event[key], list):
            raise _fail(f"event.{key} is not a list")
    for key in ("message", "previous_message"):
        inner = _opt_dict(event, key)
        if inner is not None:
            _opt_str(inner, "text")
            _ts(inner, "ts")
            _ts(inner, "thread_ts")
            if isinstance(inner.get("user"), str):
                _slack_id(inner, "user")
    for key in ("event_id", "event_context"):
        _opt_str(body, key)
    authorizations = body.get("authorizations")
    if authorizations is not None and (
        not isinstance(authorizations, list) or not all(isinstance(a, dict) for a in authorizations)
    ):
        raise _fail("authorizations is not a list of objects")


_CHECKS: dict[str, Callable[[Mapping[str, Any]], None]] = {
    "block_actions": _block_actions,
    "view_submission": lambda body: _view(body.get("view"), required=True),
    "view_closed": lambda body: _view(body.get("view"), required=True),
    "event_callback": _event,
}

# Types Slack sends that this app answers; anything else is refused instead of being
# handed to Bolt, which would answer 404 after building a context for it.
_KNOWN_TYPES = frozenset(
    {
        "block_actions",
        "view_submission",
        "view_closed",
        "message_action",
        "shortcut",
        "block_suggestion",
        "event_callback",
        "url_verification",
        "app_rate_limited",
    }
)


def check_shape(body: Mapping[str, Any]) -> None:
    """Refuse a body no Slack request has; see the module docstring for why."""
    kind = body.get("type")
    if kind is None and "ssl_check" in body:
        return  # Slack's certificate check on a slash command URL; Bolt answers it
    if kind is None and "command" in body:
        _common(body)
        _command(body)
        return
    if not isinstance(kind, str) or kind not in _KNOWN_TYPES:
        raise _fail("unknown request type")
    _common(body)
    if kind not in ("event_callback", "url_verification", "app_rate_limited"):
        if not isinstance(body.get("user"), dict):
            raise _fail("user missing")
    check = _CHECKS.get(kind)
    if check is not None:
        check(body)


# -- Bolt --------------------------------------------------------------------------------


class ParsedRequest(AsyncBoltRequest):
    """A Bolt request built from a body we parsed: Bolt's constructor would parse the
    raw body again with its substring test for `payload`."""

    def __init__(
        self,
        *,
        raw_body: str,
        body: dict[str, Any],
        query: str | dict[str, Any] | None = None,
        headers: Mapping[str, Any] | None = None,
        context: dict[str, Any] | None = None,
    ) -> None:
        self.raw_body = raw_body
        self.query = parse_query(query)
        self.headers = build_normalized_headers(dict(headers or {}))
        self.content_type = extract_content_type(self.headers)
        self.body = body
        try:
            self.context = build_async_context(AsyncBoltContext(context or {}), self.body)
        except (TypeError, AttributeError, KeyError, ValueError, IndexError):
            # Bolt reads team, enterprise and user ids from many places; one it cannot
            # read means a body no Slack request has.
            raise Refused(400, "ids Bolt cannot read") from None
        self.lazy_only = bool(self.headers.get("x-slack-bolt-lazy-only", [False])[0])
        self.lazy_function_name = self.headers.get("x-slack-bolt-lazy-function-name", [None])[0]
        self.mode = "http"

    def to_copyable(self) -> ParsedRequest:
        return ParsedRequest(
            raw_body=self.raw_body,
            body=self.body,
            query=self.query,
            headers=self.headers,
            context=self.context.to_copyable(),
        )


def build_request(
    secret: str, raw: bytes, headers: Mapping[str, str], query: str = ""
) -> ParsedRequest:
    """Verify, decode, parse and shape-check one request; raises Refused."""
    verify_signature(secret, raw, headers)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise Refused(400, "body is not UTF-8") from None
    content_type = (headers.get("content-type") or "").split(";")[0].strip().lower() or None
    body = parse_body(text, content_type)
    check_shape(body)
    return ParsedRequest(raw_body=text, body=body, query=query, headers=headers)


# -- the log ----------------------------------------------------------------------------


@dataclass
class RefusalLog:
    """At most one log line per `every` seconds for refused requests, with a count, so
    a flood of junk cannot fill the disk."""

    every: float = 60.0
    clock: Callable[[], float] = time.monotonic

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._count = 0
        self._last_line: float | None = None

    def refused(self, status: int, reason: str) -> None:
        with self._lock:
            self._count += 1
            now = self.clock()
            if self._last_line is not None and now - self._last_line < self.every:
                return
            count, self._count, self._last_line = self._count, 0, now
        log.warning(
            "refused %d request(s) since the last report; latest: %d %s", count, status, reason
        )
