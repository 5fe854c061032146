"""A local stand-in for Slack's Web API, for tests, `feedback-loop demo` and benchmarks.

It answers the methods the bot calls with the response shapes Slack uses, keeps enough
workspace state (users, channels, DMs, messages, views, Do Not Disturb) for those answers
to stay consistent, records every call, and can be told to fail in the ways Slack does
(error bodies, 429 with Retry-After, 5xx, dropped connections).

Payloads the bot sends are checked against Block Kit's limits, including the ones
slack_sdk's models do not enforce, because raw dicts reach Slack unvalidated and a
rejected DM is otherwise only noticed in production.

    with SlackStandIn() as slack:
        slack.add_user("U0REP1", real_name="Rita Rep")
        client = WebClient(token="xoxb-standin", base_url=slack.api_url)

Run `python -m bot.devkit.standin --port 8111` to keep one in the foreground.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import json
import logging
import math
import re
import secrets
import socket
import struct
import threading
import time
import traceback
from collections import Counter, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

log = logging.getLogger(__name__)

__all__ = [
    "RecordedCall",
    "SlackStandIn",
    "check_attachments",
    "check_message_blocks",
    "check_message_text",
    "check_view",
]

# ---------------------------------------------------------------------------
# Block Kit validation
# ---------------------------------------------------------------------------

MESSAGE_MAX_BLOCKS = 50
VIEW_MAX_BLOCKS = 100
MESSAGE_TEXT_MAX = 4000
MAX_ATTACHMENTS = 100
HEADER_TEXT_MAX = 150
SECTION_FIELD_MAX = 2000
OPTION_TEXT_MAX = 75
OPTION_VALUE_MAX = 150
OPTION_DESCRIPTION_MAX = 75
ACTIONS_MAX_ELEMENTS = 25
CONTEXT_MAX_ELEMENTS = 10

TEXT_TYPES = frozenset({"plain_text", "mrkdwn"})
# Options of these elements may only carry plain_text (checkboxes and radios allow mrkdwn).
PLAIN_OPTION_ELEMENTS = frozenset(
    {"static_select", "multi_static_select", "external_select", "multi_external_select", "overflow"}
)
BUTTON_ELEMENTS = frozenset({"button", "workflow_button"})

# (json-pointer, message); rendered the way Slack words its `errors` entries.
_Problem = tuple[str, str]


def _render(problems: list[_Problem]) -> list[str]:
    return [f"{msg} [json-pointer:{ptr}]" for ptr, msg in problems]


def _is_under(ptr: str, other: str) -> bool:
    return ptr == other or ptr.startswith(other + "/")


def _merge(explicit: list[_Problem], derived: list[_Problem]) -> list[_Problem]:
    # One mistake should read as one problem: drop the SDK's echo of a spot already named.
    kept = [
        d
        for d in derived
        if not any(_is_under(d[0], e[0]) or _is_under(e[0], d[0]) for e in explicit)
    ]
    return explicit + kept


def _maybe_json(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _diff(orig: Any, out: Any, ptr: str) -> Iterator[_Problem]:
    """Where the SDK's round trip lost or changed something: Slack would reject those."""
    if isinstance(orig, dict):
        if not isinstance(out, dict):
            yield ptr, "expected an object"
            return
        for key, value in orig.items():
            if value is None:
                continue  # the SDK drops nulls; Slack's own tolerance of them varies by field
            if key not in out:
                yield f"{ptr}/{key}", f"unsupported or invalid field {key!r}"
            else:
                yield from _diff(value, out[key], f"{ptr}/{key}")
    elif isinstance(orig, list):
        if not isinstance(out, list) or len(out) != len(orig):
            yield ptr, "array was not accepted as given"
            return
        for i, (a, b) in enumerate(zip(orig, out, strict=True)):
            yield from _diff(a, b, f"{ptr}/{i}")
    elif orig != out:
        yield ptr, f"value {orig!r} is not valid here"


def _sdk_block_problems(block: dict[str, Any], ptr: str) -> list[_Problem]:
    btype = block.get("type")
    try:
        obj = Block.parse(block)
    except Exception as e:  # the models raise TypeError/KeyError as well as their own error
        return [(ptr, str(e) or type(e).__name__)]
    if obj is None:
        return [(f"{ptr}/type", f"unknown block type {btype!r}")]
    try:
        out = obj.to_dict()
    except Exception as e:
        return [(ptr, str(e) or type(e).__name__)]
    return list(_diff(block, out, ptr))


def _text_type(obj: Any) -> str | None:
    return obj.get("type") if isinstance(obj, dict) else None


def _need_plain(obj: Any, ptr: str, what: str) -> list[_Problem]:
    if obj is None:
        return []
    if _text_type(obj) != "plain_text":
        return [(f"{ptr}/type", f"{what} must be a plain_text text object")]
    return []


def _check_options(options: Any, ptr: str, *, plain_only: bool) -> list[_Problem]:
    # slack_sdk only checks Option objects, not options given as dicts inside a select.
    problems: list[_Problem] = []
    if not isinstance(options, list):
        return problems
    for i, opt in enumerate(options):
        p = f"{ptr}/{i}"
        if not isinstance(opt, dict):
            problems.append((p, "option must be an object"))
            continue
        text = opt.get("text")
        if plain_only:
            problems += _need_plain(text, f"{p}/text", "option text")
        if isinstance(text, dict) and len(str(text.get("text", ""))) > OPTION_TEXT_MAX:
            problems.append(
                (f"{p}/text/text", f"option text must be at most {OPTION_TEXT_MAX} characters")
            )
        value = opt.get("value")
        if isinstance(value, str) and len(value) > OPTION_VALUE_MAX:
            problems.append(
                (f"{p}/value", f"option value must be at most {OPTION_VALUE_MAX} characters")
            )
        desc = opt.get("description")
        if isinstance(desc, dict) and len(str(desc.get("text", ""))) > OPTION_DESCRIPTION_MAX:
            problems.append(
                (
                    f"{p}/description/text",
                    f"option description must be at most {OPTION_DESCRIPTION_MAX} characters",
                )
            )
    return problems


def _walk(node: Any, ptr: str, action_ids: list[tuple[str, str]]) -> list[_Problem]:
    """Checks that apply wherever an object appears inside a block."""
    problems: list[_Problem] = []
    if isinstance(node, list):
        for i, item in enumerate(node):
            problems += _walk(item, f"{ptr}/{i}", action_ids)
        return problems
    if not isinstance(node, dict):
        return problems
    ntype = node.get("type")
    if ntype in TEXT_TYPES:
        text = node.get("text")
        if not isinstance(text, str) or text == "":
            problems.append((f"{ptr}/text", "text objects must have non-empty text"))
        return problems
    if isinstance(node.get("action_id"), str):
        action_ids.append((node["action_id"], f"{ptr}/action_id"))
    if ntype in BUTTON_ELEMENTS:
        problems += _need_plain(node.get("text"), f"{ptr}/text", "button text")
    if "placeholder" in node:
        problems += _need_plain(node["placeholder"], f"{ptr}/placeholder", "placeholder")
    plain_only = ntype in PLAIN_OPTION_ELEMENTS
    for key in ("options", "initial_options"):
        if key in node:
            problems += _check_options(node[key], f"{ptr}/{key}", plain_only=plain_only)
    if isinstance(node.get("initial_option"), dict):
        problems += _check_options(
            [node["initial_option"]], f"{ptr}/initial_option", plain_only=plain_only
        )
    groups = node.get("option_groups")
    if isinstance(groups, list):
        for i, group in enumerate(groups):
            if isinstance(group, dict):
                gp = f"{ptr}/option_groups/{i}"
                problems += _need_plain(group.get("label"), f"{gp}/label", "option group label")
                problems += _check_options(group.get("options"), f"{gp}/options", plain_only=True)
    confirm = node.get("confirm")
    if isinstance(confirm, dict):
        for key in ("title", "confirm", "deny"):
            problems += _need_plain(confirm.get(key), f"{ptr}/confirm/{key}", f"confirm {key}")
    for key, value in node.items():
        if isinstance(value, dict | list):
            problems += _walk(value, f"{ptr}/{key}", action_ids)
    return problems


def _explicit_block_problems(block: dict[str, Any], ptr: str) -> list[_Problem]:
    problems: list[_Problem] = []
    btype = block.get("type")
    if btype == "header":
        problems += _need_plain(block.get("text"), f"{ptr}/text", "header text")
        text = block.get("text")
        if isinstance(text, dict) and len(str(text.get("text", ""))) > HEADER_TEXT_MAX:
            problems.append(
                (f"{ptr}/text/text", f"header text must be at most {HEADER_TEXT_MAX} characters")
            )
    elif btype == "section":
        text = block.get("text")
        if text is not None and _text_type(text) not in TEXT_TYPES:
            problems.append((f"{ptr}/text", "section text must be a plain_text or mrkdwn object"))
        fields = block.get("fields")
        if isinstance(fields, list):
            if not fields:
                problems.append((f"{ptr}/fields", "must have at least 1 item"))
            for i, f in enumerate(fields):
                if isinstance(f, dict) and len(str(f.get("text", ""))) > SECTION_FIELD_MAX:
                    problems.append(
                        (
                            f"{ptr}/fields/{i}/text",
                            f"section fields must be at most {SECTION_FIELD_MAX} characters each",
                        )
                    )
    elif btype in ("actions", "context"):
        limit = ACTIONS_MAX_ELEMENTS if btype == "actions" else CONTEXT_MAX_ELEMENTS
        elements = block.get("elements")
        if not isinstance(elements, list) or not elements:
            problems.append((f"{ptr}/elements", "must have at least 1 item"))
        elif len(elements) > limit:
            problems.append((f"{ptr}/elements", f"must have no more than {limit} items"))
    elif btype == "input":
        problems += _need_plain(block.get("label"), f"{ptr}/label", "input label")
        problems += _need_plain(block.get("hint"), f"{ptr}/hint", "input hint")
        if not isinstance(block.get("element"), dict):
            problems.append((f"{ptr}/element", "input blocks need an element"))

    action_ids: list[tuple[str, str]] = []
    problems += _walk(block, ptr, action_ids)
    seen: set[str] = set()
    for action_id, where in action_ids:
        if action_id in seen:
            problems.append((where, f"action_id {action_id!r} is used twice in one block"))
        seen.add(action_id)
    return problems


def _block_list_problems(blocks: list[Any], ptr: str) -> list[_Problem]:
    problems: list[_Problem] = []
    block_ids: set[str] = set()
    for i, block in enumerate(blocks):
        p = f"{ptr}/{i}"
        if not isinstance(block, dict):
            problems.append((p, "each block must be an object"))
            continue
        if not isinstance(block.get("type"), str):
            problems.append((f"{p}/type", "missing block type"))
            continue
        block_id = block.get("block_id")
        if isinstance(block_id, str):
            if block_id in block_ids:
                problems.append((f"{p}/block_id", f"duplicate block_id {block_id!r}"))
            block_ids.add(block_id)
        problems += _merge(_explicit_block_problems(block, p), _sdk_block_problems(block, p))
    return problems


def _message_block_problems(blocks: Any, ptr: str) -> list[_Problem]:
    blocks = _maybe_json(blocks)
    if not isinstance(blocks, list):
        return [(ptr, "blocks must be a JSON array")]
    problems: list[_Problem] = []
    if len(blocks) > MESSAGE_MAX_BLOCKS:
        problems.append((ptr, f"must have no more than {MESSAGE_MAX_BLOCKS} items"))
    return problems + _block_list_problems(blocks, ptr)


def check_message_blocks(blocks: Any) -> list[str]:
    """Problems Slack would reject in a message's `blocks`; empty when they are fine.

    An empty list is fine: chat.update uses it to clear a message's blocks."""
    return _render(_message_block_problems(blocks, "/blocks"))


def check_message_text(text: Any) -> list[str]:
    """The top-level `text` must stay within what Slack shows untruncated."""
    if isinstance(text, str) and len(text) > MESSAGE_TEXT_MAX:
        return _render([("/text", f"text must be at most {MESSAGE_TEXT_MAX} characters")])
    return []


def check_attachments(attachments: Any) -> list[str]:
    """Attachment count, and the blocks inside attachments."""
    attachments = _maybe_json(attachments)
    if not isinstance(attachments, list):
        return _render([("/attachments", "attachments must be a JSON array")])
    problems: list[_Problem] = []
    if len(attachments) > MAX_ATTACHMENTS:
        problems.append(("/attachments", f"must have no more than {MAX_ATTACHMENTS} items"))
    for i, att in enumerate(attachments):
        if isinstance(att, dict) and "blocks" in att:
            problems += _message_block_problems(att["blocks"], f"/attachments/{i}/blocks")
    return _render(problems)


def check_view(view: Any) -> list[str]:
    """Problems Slack would reject in a modal or Home tab view; empty when it is fine."""
    view = _maybe_json(view)
    if not isinstance(view, dict):
        return _render([("/view", "view must be a JSON object")])
    explicit: list[_Problem] = []
    vtype = view.get("type")
    if vtype not in ("modal", "home"):
        explicit.append(("/view/type", f"view type must be modal or home, not {vtype!r}"))
    if vtype == "modal":
        # slack_sdk accepts a modal without a title; Slack does not.
        if "title" not in view:
            explicit.append(("/view/title", "modals must have a title"))
        for key in ("title", "submit", "close"):
            explicit += _need_plain(view.get(key), f"/view/{key}", key)
    blocks = view.get("blocks")
    if not isinstance(blocks, list):
        explicit.append(("/view/blocks", "blocks must be a JSON array"))
        blocks = []
    if (
        vtype == "modal"
        and view.get("submit") is None
        and any(isinstance(b, dict) and b.get("type") == "input" for b in blocks)
    ):
        explicit.append(("/view/submit", "submit is required when a modal has input blocks"))

    derived: list[_Problem] = []
    try:
        out = View(**view).to_dict()
    except Exception as e:
        derived.append(("/view", str(e) or type(e).__name__))
    else:
        top = {k: v for k, v in view.items() if k != "blocks"}
        derived += _diff(top, {k: v for k, v in out.items() if k != "blocks"}, "/view")
    if len(blocks) > VIEW_MAX_BLOCKS:
        explicit.append(("/view/blocks", f"must have no more than {VIEW_MAX_BLOCKS} items"))
    problems = _merge(explicit, derived)
    return _render(problems + _block_list_problems(blocks, "/view/blocks"))


# ---------------------------------------------------------------------------
# The server
# ---------------------------------------------------------------------------

DEFAULT_SCOPES = (
    "app_mentions:read,channels:history,channels:join,channels:read,chat:write,commands,"
    "dnd:read,groups:history,groups:read,im:history,im:read,im:write,reactions:write,"
    "team:read,users:read,users:read.email"
)

# Slack's tz_label is the long zone name; zoneinfo only knows abbreviations.
_TZ_LABELS = {
    "EST": "Eastern Standard Time",
    "EDT": "Eastern Daylight Time",
    "CST": "Central Standard Time",
    "CDT": "Central Daylight Time",
    "MST": "Mountain Standard Time",
    "MDT": "Mountain Daylight Time",
    "PST": "Pacific Standard Time",
    "PDT": "Pacific Daylight Time",
    "AKST": "Alaska Standard Time",
    "AKDT": "Alaska Daylight Time",
    "HST": "Hawaii-Aleutian Standard Time",
    "GMT": "Greenwich Mean Time",
    "BST": "British Summer Time",
    "UTC": "Universal Coordinated Time",
    "CET": "Central European Time",
    "CEST": "Central European Summer Time",
    "EET": "Eastern European Time",
    "EEST": "Eastern European Summer Time",
    "IST": "India Standard Time",
    "JST": "Japan Standard Time",
    "AEST": "Australian Eastern Standard Time",
    "AEDT": "Australian Eastern Daylight Time",
}

# The upload URL's calls, recorded and faultable under this name.
UPLOAD_METHOD = "files.upload"
_FORM_JSON_FIELDS = ("blocks", "view", "attachments", "metadata", "files")


@dataclass
class RecordedCall:
    """One request the stand-in received and what it answered.

    `headers` keys are lower-cased (clients differ in how they spell them). For
    non-JSON answers (response_url posts, plain-text 5xx) `response` is {"raw": text}."""

    method: str
    body: dict[str, Any]
    headers: dict[str, str]
    status: int
    response: dict[str, Any]
    path: str
    at: float = field(default_factory=time.time)

    @property
    def ok(self) -> bool:
        if self.method == "response_url":
            return self.status == 200
        return self.status == 200 and self.response.get("ok") is True


@dataclass
class _Fault:
    status: int = 200
    error: str | None = None
    retry_after: int | None = None
    reset: bool = False
    times: int = 1
    after_processing: bool = False


@dataclass
class _Bucket:
    rate: float
    burst: int
    tokens: float
    updated: float


@dataclass
class _Reply:
    status: int
    payload: dict[str, Any] | None = None
    text: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    reset: bool = False


class _ApiError(Exception):
    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes")
    return bool(value)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    standin: SlackStandIn


class _Handler(BaseHTTPRequestHandler):
    # Keep-alive matters: aiohttp reuses connections, urllib does not.
    protocol_version = "HTTP/1.1"
    # An idle keep-alive connection would otherwise pin a handler thread forever.
    timeout = 60
    # Headers and body go out as two writes; with Nagle on, the body waits for the
    # client's delayed ACK of the headers (about 40 ms on Linux) on a kept-alive connection.
    disable_nagle_algorithm = True
    server: _Server

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        self.server.standin._handle(self)

    do_GET = do_POST  # noqa: N815

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        log.debug("standin %s - %s", self.address_string(), format % args)


class SlackStandIn:
    """Slack's Web API on 127.0.0.1, with state, recording and fault injection."""

    def __init__(
        self,
        *,
        team_id: str = "T0001",
        team_name: str = "Acme Sales",
        bot_user_id: str = "U0FEEDBOT",
        bot_id: str = "B0FEEDBOT",
        token: str = "xoxb-standin",
        host: str = "127.0.0.1",
        port: int = 0,
        validate_blocks: bool = True,
        app_id: str = "A0FEEDLOOP",
        scopes: str = DEFAULT_SCOPES,
        ts_base: int = 1_700_000_000,
    ) -> None:
        self.team_id = team_id
        self.team_name = team_name
        self.team_domain = "-".join(team_name.lower().split()) or "workspace"
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.token = token
        self.host = host
        self.port = port
        self.validate_blocks = validate_blocks
        self.app_id = app_id
        self.scopes = scopes
        # Socket Mode: the app-level token apps.connections.open takes, and the
        # WebSocket side it hands out (bot/devkit/socket_mode.py), once a test attaches one.
        self.app_token = "xapp-1-A0FEEDLOOP-standin"
        self.socket_mode: Any = None

        self.calls: list[RecordedCall] = []
        self.block_errors: list[str] = []
        # Unexpected exceptions inside the stand-in itself; a test should never see one.
        self.server_errors: list[str] = []
        # Called (outside the lock) after each recorded call; the CLI prints them.
        self.on_call: Callable[[RecordedCall], None] | None = None

        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._faults: dict[str, deque[_Fault]] = {}
        self._buckets: dict[str, _Bucket] = {}
        self._delays: dict[str, float] = {}
        self._seq = 0
        self._ts_base = ts_base
        # Message ts from a clock (follow_clock), as Slack's are its wall clock.
        self._ts_clock: Callable[[], float] | None = None
        self._last_ts = 0.0
        self._users: dict[str, dict[str, Any]] = {}
        self._channels: dict[str, dict[str, Any]] = {}
        self._open_dms: set[str] = set()
        self._messages: dict[tuple[str, str], dict[str, Any]] = {}
        self._edit_closed: set[tuple[str, str]] = set()
        self._ephemeral: list[dict[str, Any]] = []
        self._views: dict[str, dict[str, Any]] = {}
        self._external_ids: dict[str, str] = {}
        self._home_ids: dict[str, str] = {}
        self._dnd: dict[str, dict[str, Any]] = {}
        self._files: dict[str, dict[str, Any]] = {}
        # Workflow Builder steps: the short-lived token of each execution (xwfp-, as in a
        # function_executed event) -> its function_execution_id, and how each ended.
        self._function_tokens: dict[str, str] = {}
        self.function_results: dict[str, list[dict[str, Any]]] = {}
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

        # OAuth: the app's credentials, the workspaces (each with its own bot user), the
        # codes an installer's consent gave, and the rotating tokens handed out (each
        # lasts `token_lifetime` seconds of `now()`, the clock `follow_clock` sets).
        self.client_id = "1111111111.2222222222"
        self.client_secret = "standin-client-secret"
        self.token_lifetime = 12 * 3600
        self.teams: dict[str, dict[str, str]] = {
            team_id: {"name": team_name, "bot_user_id": bot_user_id, "bot_id": bot_id}
        }
        self._user_team: dict[str, str] = {}
        self._channel_team: dict[str, str] = {}
        self._codes: dict[str, tuple[str, str]] = {}
        self._oauth_tokens: dict[str, dict[str, Any]] = {}
        self._refresh_tokens: dict[str, str] = {}
        # Enterprise Grid orgs: id -> name, workspaces, the org's bot user (one for the
        # whole org, as with an org-wide install).
        self.enterprises: dict[str, dict[str, Any]] = {}
        # The workspace the call being answered acts in (its token's), and with an
        # org-wide token every workspace of the org.
        self._acting_team = team_id
        self._acting_org: frozenset[str] = frozenset()

        self.add_user(
            bot_user_id, name="feedbackloop", real_name="Feedback Loop", is_bot=True, email=""
        )

    # -- lifecycle ----------------------------------------------------------

    def start(self) -> SlackStandIn:
        if self._server is not None:
            return self
        server = _Server((self.host, self.port), _Handler)
        server.standin = self
        self._server = server
        self.port = server.server_address[1]
        # A short poll keeps stop() quick; the default 0.5 s adds up over a test-suite.
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"slack-standin:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def take_over(self, previous: SlackStandIn) -> SlackStandIn:
        """Answer on `previous`'s running HTTP server from now on, with this object's own
        clean state; `previous` stops serving. A test suite starts the server once and
        gives each test a fresh workspace on the same port, instead of paying for a
        server start and stop per test."""
        with previous._lock:
            server, previous._server = previous._server, None
            thread, previous._thread = previous._thread, None
        if server is None:
            raise RuntimeError("the previous Slack stand-in is not running")
        if self._server is not None:
            raise RuntimeError("this Slack stand-in already runs its own server")
        self.host, self.port = previous.host, previous.port
        self._server, self._thread = server, thread
        # The handler reads the stand-in from the server on every request, so from here
        # on every call (also on a kept-alive connection) lands in this object's state.
        server.standin = self
        return self

    def __enter__(self) -> SlackStandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the Slack stand-in is not running; call start() first")
        return f"http://{self.host}:{self.port}"

    @property
    def api_url(self) -> str:
        return self.base_url + "/api/"

    def response_url(self, kind: str = "commands") -> str:
        """A response_url pointing here; posts to it are recorded as method "response_url"."""
        if kind not in ("commands", "actions"):
            raise ValueError("kind must be 'commands' or 'actions'")
        with self._lock:
            self._seq += 1
            n = self._seq
        return f"{self.base_url}/{kind}/{self.team_id}/{n}/{secrets.token_hex(12)}"

    # -- workspace state ----------------------------------------------------

    def add_user(
        self,
        user_id: str,
        *,
        name: str | None = None,
        real_name: str | None = None,
        email: str | None = None,
        tz: str = "America/New_York",
        locale: str = "en-US",
        is_admin: bool = False,
        is_owner: bool = False,
        is_bot: bool = False,
        deleted: bool = False,
        team_id: str | None = None,
    ) -> dict[str, Any]:
        """Add or replace a user (of `team_id`, by default the stand-in's first
        workspace); returns the users.info user object (without locale).

        With no email one is made up so lookups work; pass "" for a user without one."""
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError) as e:
            raise ValueError(f"unknown time zone {tz!r}") from e
        name = name or user_id.lower()
        spec = {
            "id": user_id,
            "name": name,
            "real_name": real_name or name.replace(".", " ").replace("_", " ").title(),
            "email": f"{name}@{self.team_domain}.example.com" if email is None else email,
            "tz": tz,
            "locale": locale,
            "is_admin": is_admin,
            "is_owner": is_owner,
            "is_bot": is_bot,
            "deleted": deleted,
            "updated": int(time.time()),
        }
        with self._lock:
            self._users[user_id] = spec
            self._user_team[user_id] = team_id or self.team_id
            return self._user_object(spec, include_locale=False)

    def add_channel(
        self,
        channel_id: str,
        name: str,
        *,
        is_private: bool = False,
        is_member: bool = True,
        team_id: str | None = None,
    ) -> dict[str, Any]:
        """A public or private channel; posting where the bot is no member → not_in_channel."""
        created = int(time.time())
        channel = {
            "id": channel_id,
            "name": name,
            "is_channel": not is_private,
            "is_group": is_private,
            "is_im": False,
            "is_mpim": False,
            "is_private": is_private,
            "created": created,
            "is_archived": False,
            "is_general": False,
            "unlinked": 0,
            "name_normalized": name,
            "is_shared": False,
            "is_org_shared": False,
            "is_pending_ext_shared": False,
            "pending_shared": [],
            "context_team_id": self.team_id,
            "updated": created * 1000,
            "parent_conversation": None,
            "creator": self.bot_user_id,
            "is_ext_shared": False,
            "shared_team_ids": [self.team_id],
            "pending_connected_team_ids": [],
            "is_member": is_member,
            "topic": {"value": "", "creator": "", "last_set": 0},
            "purpose": {"value": "", "creator": "", "last_set": 0},
            "previous_names": [],
        }
        with self._lock:
            self._channels[channel_id] = channel
            self._channel_team[channel_id] = team_id or self.team_id
        return dict(channel)

    # -- OAuth: many workspaces -----------------------------------------------

    def add_team(self, team_id: str, name: str) -> dict[str, str]:
        """Another workspace, with a bot user of its own (U<team id>BOT)."""
        bot_user = f"U{team_id[1:]}BOT"
        team = {"name": name, "bot_user_id": bot_user, "bot_id": f"B{team_id[1:]}BOT"}
        with self._lock:
            self.teams[team_id] = team
        self.add_user(
            bot_user,
            name="feedbackloop",
            real_name="Feedback Loop",
            is_bot=True,
            email="",
            team_id=team_id,
        )
        return team

    def add_enterprise(
        self, enterprise_id: str, name: str, teams: dict[str, str]
    ) -> dict[str, Any]:
        """An Enterprise Grid org with its workspaces (team id -> name). The app's bot
        user is the org's (U<org id>BOT), the same in each of them."""
        bot_user, bot_id = f"U{enterprise_id[1:]}BOT", f"B{enterprise_id[1:]}BOT"
        org = {"name": name, "teams": list(teams), "bot_user_id": bot_user, "bot_id": bot_id}
        with self._lock:
            self.enterprises[enterprise_id] = org
            for team_id, team_name in teams.items():
                self.teams[team_id] = {
                    "name": team_name,
                    "bot_user_id": bot_user,
                    "bot_id": bot_id,
                    "enterprise_id": enterprise_id,
                }
        self.add_user(
            bot_user,
            name="feedbackloop",
            real_name="Feedback Loop",
            is_bot=True,
            email="",
            team_id=next(iter(teams)),
        )
        return org

    def consent(self, team_id: str, user_id: str) -> str:
        """The installer said yes on Slack's consent page: the code Slack puts in the
        redirect back to the app. With an org's id (an org admin installing the app
        org-wide), oauth.v2.access answers with Slack's org-wide install: `team` null,
        `enterprise`, `is_enterprise_install`, and a token valid in every workspace of
        the org."""
        code = f"{team_id}.{secrets.token_hex(8)}"
        with self._lock:
            self._codes[code] = (team_id, user_id)
        return code

    def team_of_token(self, token: str | None) -> str | None:
        """The workspace a token acts in (the single-workspace token: the first one); an
        org-wide token's: the org's id."""
        if token == self.token:
            return self.team_id
        with self._lock:
            held = self._oauth_tokens.get(token or "")
        return str(held["team"]) if held else None

    def revoke_team(self, team_id: str) -> None:
        """The workspace (or the org, by its id) uninstalled the app: every token of it
        stops working."""
        with self._lock:
            for held in self._oauth_tokens.values():
                if held["team"] == team_id:
                    held["revoked"] = True
            for refresh, team in list(self._refresh_tokens.items()):
                if team == team_id:
                    del self._refresh_tokens[refresh]

    def _now(self) -> float:
        return self._ts_clock() if self._ts_clock is not None else time.time()

    def _issue_token(self, team_id: str) -> tuple[str, str]:
        access = f"xoxe.xoxb-1-{team_id}-{secrets.token_hex(12)}"
        refresh = f"xoxe-1-{team_id}-{secrets.token_hex(12)}"
        self._oauth_tokens[access] = {
            "team": team_id,
            "expires_at": self._now() + self.token_lifetime,
            "revoked": False,
        }
        self._refresh_tokens[refresh] = team_id
        return access, refresh

    def _oauth_v2_access(self, body: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
        client_id, client_secret = body.get("client_id"), body.get("client_secret")
        basic = headers.get("authorization", "")
        if basic.lower().startswith("basic "):
            decoded = base64.b64decode(basic[6:].strip()).decode("utf-8", "replace")
            client_id, _, client_secret = decoded.partition(":")
        if client_id != self.client_id:
            raise _ApiError("invalid_client_id")
        if client_secret != self.client_secret:
            raise _ApiError("bad_client_secret")
        if body.get("grant_type") == "refresh_token":
            team_id = self._refresh_tokens.pop(str(body.get("refresh_token") or ""), None)
            if team_id is None:
                raise _ApiError("invalid_refresh_token")
            installer = None
        else:
            found = self._codes.pop(str(body.get("code") or ""), None)
            if found is None:
                raise _ApiError("invalid_code")
            team_id, installer = found
        if team_id in self.enterprises:
            return self._org_install(team_id, installer)
        team = self.teams[team_id]
        access, refresh = self._issue_token(team_id)
        answer: dict[str, Any] = {
            "ok": True,
            "app_id": self.app_id,
            "access_token": access,
            "token_type": "bot",
            "scope": self.scopes,
            "bot_user_id": team["bot_user_id"],
            "refresh_token": refresh,
            "expires_in": self.token_lifetime,
            "team": {"id": team_id, "name": team["name"]},
            "enterprise": None,
            "is_enterprise_install": False,
        }
        if installer is not None:
            answer["authed_user"] = {"id": installer}
        return answer

    def _org_install(self, enterprise_id: str, installer: str | None) -> dict[str, Any]:
        """oauth.v2.access for an org-wide install (Slack's shape: no team)."""
        org = self.enterprises[enterprise_id]
        access, refresh = self._issue_token(enterprise_id)
        answer: dict[str, Any] = {
            "ok": True,
            "app_id": self.app_id,
            "access_token": access,
            "token_type": "bot",
            "scope": self.scopes,
            "bot_user_id": org["bot_user_id"],
            "refresh_token": refresh,
            "expires_in": self.token_lifetime,
            "team": None,
            "enterprise": {"id": enterprise_id, "name": org["name"]},
            "is_enterprise_install": True,
        }
        if installer is not None:
            answer["authed_user"] = {"id": installer}
        return answer

    def _acts_in(self, team_id: str) -> bool:
        return team_id == self._acting_team or team_id in self._acting_org

    def _same_team(self, *, user: str | None = None, channel: str | None = None) -> bool:
        if user is not None:
            return self._acts_in(self._user_team.get(user, self.team_id))
        if channel is not None:
            dm_user = self._channels.get(channel, {}).get("user")
            if dm_user:
                return self._acts_in(self._user_team.get(str(dm_user), self.team_id))
            return self._acts_in(self._channel_team.get(channel, self.team_id))
        return True

    def function_token(self, function_execution_id: str) -> str:
        """A bot_access_token for one step execution (what Slack puts in the
        function_executed event); functions.completeSuccess/completeError accept it for
        that execution only, as other methods accept it like the bot token."""
        token = f"xwfp-{secrets.token_hex(8)}-{function_execution_id}"
        with self._lock:
            self._function_tokens[token] = function_execution_id
        return token

    def set_dnd(
        self,
        user_id: str,
        *,
        snooze_enabled: bool = False,
        snooze_endtime: int | None = None,
        next_dnd_start_ts: int | None = None,
        next_dnd_end_ts: int | None = None,
        dnd_enabled: bool = True,
    ) -> None:
        """Override a user's Do Not Disturb state; unset parts keep the 22:00-08:00 default."""
        if snooze_enabled and snooze_endtime is None:
            snooze_endtime = int(time.time()) + 3600
        with self._lock:
            self._dnd[user_id] = {
                "dnd_enabled": dnd_enabled,
                "snooze_enabled": snooze_enabled,
                "snooze_endtime": snooze_endtime,
                "next_dnd_start_ts": next_dnd_start_ts,
                "next_dnd_end_ts": next_dnd_end_ts,
            }

    def follow_clock(self, now: Callable[[], float] | None) -> None:
        """Stamp new messages' ts from `now()` (Unix seconds), still unique and rising.

        Slack's ts is its wall clock, and a reader that asks conversations.history for
        messages since a moment (`oldest`) relies on that. By default ts count up from
        `ts_base` instead, which keeps them stable from run to run."""
        with self._lock:
            self._ts_clock = now

    def post_as_user(
        self, user_id: str, channel: str, text: str, *, thread_ts: str | None = None
    ) -> str:
        """A person's own message in a channel or their DM with the bot (no event is
        sent), in a thread when `thread_ts` is given; returns its ts. For history reads
        that must look past other messages, and for reactions to a person's reply."""
        with self._lock:
            channel_id = self._resolve_channel(channel, allow_user=True)
            ts = self._next_ts()
            message = {
                "user": user_id,
                "type": "message",
                "ts": ts,
                "client_msg_id": secrets.token_hex(16),
                "text": text,
                "team": self.team_id,
            }
            if thread_ts is not None:
                message["thread_ts"] = thread_ts
                message["parent_user_id"] = self.bot_user_id
            self._messages[(channel_id, ts)] = message
            return ts

    def close_edit_window(self, channel: str, ts: str) -> None:
        """From now on chat.update on this message answers `edit_window_closed`, as Slack
        does once a workspace's edit window has passed (a test of a message that can no
        longer change, without queueing a failure for whichever update comes next)."""
        with self._lock:
            self._edit_closed.add((self._resolve_channel(channel, allow_user=True), ts))

    def dm_channel_id(self, user_id: str) -> str:
        """The DM channel Slack would give the bot for this user (stable per user)."""
        return "D" + user_id[1:]

    def dm_channel(self, user_id: str) -> str:
        """Alias of dm_channel_id."""
        return self.dm_channel_id(user_id)

    def messages(self, channel: str | None = None) -> list[dict[str, Any]]:
        """Messages as they stand now (after updates and deletes), oldest first."""
        with self._lock:
            items = [
                dict(m)
                for (ch, _ts), m in self._messages.items()
                if channel is None or ch == channel
            ]
        return sorted(items, key=lambda m: m["ts"])

    def views(self) -> list[dict[str, Any]]:
        """Every modal and Home tab view as last opened, updated or published."""
        with self._lock:
            return [dict(v) for v in self._views.values()]

    # -- recording ----------------------------------------------------------

    def calls_to(self, method: str, *, ok: bool | None = None) -> list[RecordedCall]:
        with self._lock:
            return [c for c in self.calls if c.method == method and (ok is None or c.ok == ok)]

    def wait_for(
        self, method: str, count: int = 1, timeout: float = 5.0, *, ok: bool | None = None
    ) -> list[RecordedCall]:
        """Block until at least `count` calls of `method` were recorded; returns them."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = self.calls_to(method, ok=ok)
                if len(found) >= count:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = Counter(c.method for c in self.calls)
                    listing = ", ".join(f"{m} x{n}" for m, n in seen.items()) or "nothing"
                    raise AssertionError(
                        f"expected {count} call(s) to {method}"
                        f"{'' if ok is None else f' with ok={ok}'} within {timeout}s, "
                        f"got {len(found)}; recorded: {listing}"
                    )
                self._cond.wait(left)

    def reset_calls(self) -> None:
        """Forget recorded calls and block errors (state and injected faults stay)."""
        with self._lock:
            self.calls.clear()
            self.block_errors.clear()
            self.server_errors.clear()

    # -- fault injection ----------------------------------------------------

    def fail_next(
        self,
        method: str,
        *,
        status: int = 200,
        error: str | None = None,
        retry_after: int | None = None,
        times: int = 1,
        after_processing: bool = False,
    ) -> None:
        """Answer the next `times` calls of `method` with a failure; queued in order.

        429 → "ratelimited" with Retry-After (default 1); 5xx → internal_error JSON
        (503: plain text, as Slack's edge sends); 200 + error → {"ok":false,"error":...}.
        With after_processing the call takes effect first (a message is stored), as when
        Slack posted but the answer was lost: the case a sender cannot safely retry.
        For "response_url" the failure is a plain-text body (404 when only an error is
        given), like Slack's response_url errors."""
        if status == 200 and error is None:
            raise ValueError("fail_next with status 200 needs an error")
        if status == 429 and retry_after is None:
            retry_after = 1
        with self._lock:
            self._faults.setdefault(method, deque()).append(
                _Fault(
                    status=status,
                    error=error,
                    retry_after=retry_after,
                    times=times,
                    after_processing=after_processing,
                )
            )

    def fail_connection_next(
        self, method: str, times: int = 1, *, after_processing: bool = False
    ) -> None:
        """Drop the next `times` connections for `method` with a TCP reset, no response.

        slack_sdk's default ConnectionErrorRetryHandler (sync and async) retries once, so
        a single reset is invisible to a client with default settings. With
        after_processing the call takes effect before the reset, so such a retry posts
        twice."""
        with self._lock:
            self._faults.setdefault(method, deque()).append(
                _Fault(reset=True, times=times, after_processing=after_processing)
            )

    def set_rate_limit(self, method: str, per_second: float | None, *, burst: int = 1) -> None:
        """Token bucket for `method`; beyond it → 429 with an integer Retry-After >= 1."""
        with self._lock:
            if per_second is None:
                self._buckets.pop(method, None)
                return
            if per_second <= 0 or burst < 1:
                raise ValueError("per_second must be > 0 and burst >= 1")
            self._buckets[method] = _Bucket(
                rate=per_second, burst=burst, tokens=float(burst), updated=time.monotonic()
            )

    def set_delay(self, method: str, seconds: float | None) -> None:
        """Answer every call of `method` `seconds` late (None: on time again), as Slack
        does on a slow day. The call is recorded before the wait."""
        with self._lock:
            if seconds is None:
                self._delays.pop(method, None)
            else:
                self._delays[method] = seconds

    def clear_faults(self) -> None:
        """Drop queued failures and rate limits."""
        with self._lock:
            self._faults.clear()
            self._buckets.clear()

    def _take_fault(self, method: str) -> _Fault | None:
        queue = self._faults.get(method)
        if not queue:
            return None
        fault = queue[0]
        fault.times -= 1
        if fault.times <= 0:
            queue.popleft()
        return fault

    def _rate_limited(self, method: str) -> int | None:
        bucket = self._buckets.get(method)
        if bucket is None:
            return None
        now = time.monotonic()
        bucket.tokens = min(bucket.burst, bucket.tokens + (now - bucket.updated) * bucket.rate)
        bucket.updated = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return None
        return max(1, math.ceil((1 - bucket.tokens) / bucket.rate))

    # -- request handling ---------------------------------------------------

    def _handle(self, handler: _Handler) -> None:
        url = urlsplit(handler.path)
        raw = _read_body(handler)
        headers = {k.lower(): v for k, v in handler.headers.items()}
        body = _parse_body(raw, url.query)
        path = url.path
        if path.startswith("/upload/v1/"):
            # files_upload_v2's second step: the raw bytes to the URL Slack handed out.
            method = UPLOAD_METHOD
            body = {"file_id": path.rsplit("/", 1)[-1], "_bytes": raw}
        elif path.startswith("/api/"):
            method = path[len("/api/") :]
        elif path.startswith(("/commands/", "/actions/")):
            method = "response_url"
        else:
            method = path

        try:
            with self._lock:
                reply = self._reply_for(method, path, body, headers)
        except Exception:
            tb = traceback.format_exc()
            log.error("slack stand-in failed on %s:\n%s", method, tb)
            with self._lock:
                self.server_errors.append(f"{method}: {tb}")
            reply = _Reply(500, {"ok": False, "error": "internal_error"})

        if reply.payload is not None:
            response: dict[str, Any] = reply.payload
        elif reply.text is not None:
            response = {"raw": reply.text}
        else:
            response = {}
        call = RecordedCall(
            method=method,
            body=body,
            headers=headers,
            status=0 if reply.reset else reply.status,
            response=response,
            path=path,
        )
        # Record before answering, so a test that got its response can already see the call.
        with self._cond:
            self.calls.append(call)
            self._cond.notify_all()
        hook = self.on_call
        if hook is not None:
            try:
                hook(call)
            except Exception:
                log.exception("on_call hook failed")

        delay = self._delays.get(method)
        if delay:
            time.sleep(delay)
        if reply.reset:
            _reset_connection(handler)
            return
        if reply.payload is not None:
            data = json.dumps(reply.payload).encode()
            ctype = "application/json; charset=utf-8"
        else:
            data = (reply.text or "").encode()
            ctype = "text/plain; charset=utf-8"
        try:
            handler.send_response(reply.status)
            handler.send_header("Content-Type", ctype)
            handler.send_header("Content-Length", str(len(data)))
            for key, value in reply.headers.items():
                handler.send_header(key, value)
            handler.end_headers()
            handler.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            handler.close_connection = True

    def _reply_for(
        self, method: str, path: str, body: dict[str, Any], headers: dict[str, str]
    ) -> _Reply:
        fault = self._take_fault(method)
        if fault is not None and not fault.after_processing:
            return self._fault_reply(method, fault)
        reply = self._normal_reply(method, path, body, headers)
        if fault is not None:
            return self._fault_reply(method, fault)
        return reply

    def _normal_reply(
        self, method: str, path: str, body: dict[str, Any], headers: dict[str, str]
    ) -> _Reply:
        retry_after = self._rate_limited(method)
        if retry_after is not None:
            return _Reply(
                429,
                {"ok": False, "error": "ratelimited"},
                headers={"Retry-After": str(retry_after)},
            )

        if method == "response_url":
            return _Reply(200, text="ok")
        if method == UPLOAD_METHOD:
            return self._upload_bytes(body)
        if not path.startswith("/api/"):
            return _Reply(404, text="Not Found")

        if method in ("oauth.v2.access", "oauth.v2.exchange"):
            try:
                return _Reply(200, self._oauth_v2_access(body, headers))
            except _ApiError as e:
                return _Reply(200, {"ok": False, "error": e.error})
        handler = self._methods().get(method)
        if handler is None:
            return _Reply(200, {"ok": False, "error": "unknown_method"})
        # Lower-case like Slack's own responses: bolt reads headers.get("x-oauth-scopes") from
        # the sync client's plain dict, so the spelling matters.
        api_headers = {"x-oauth-scopes": self.scopes, "x-accepted-oauth-scopes": ""}
        token = _bearer(headers) or body.get("token")
        self._acting_team = self.team_id
        self._acting_org = frozenset()
        held = self._oauth_tokens.get(str(token or ""))
        if held is not None:
            # A workspace's own rotating token: it acts in that workspace only.
            if held["revoked"]:
                return _Reply(200, {"ok": False, "error": "token_revoked"}, headers=api_headers)
            if held["expires_at"] <= self._now():
                return _Reply(200, {"ok": False, "error": "token_expired"}, headers=api_headers)
            self._acting_team = str(held["team"])
            org = self.enterprises.get(self._acting_team)
            if org is not None:
                # An org-wide token: every workspace of the org, none outside it.
                self._acting_team = org["teams"][0]
                self._acting_org = frozenset(org["teams"])
            try:
                payload = handler(body)
            except _ApiError as e:
                payload = {"ok": False, "error": e.error, **e.extra}
            return _Reply(200, payload, headers=api_headers)
        if not token:
            return _Reply(200, {"ok": False, "error": "not_authed"}, headers=api_headers)
        # apps.connections.open takes the app-level token and only it; every other
        # method refuses it (Slack's answer for either token in the wrong place).
        wants_app_token = method == "apps.connections.open"
        if token in (self.token, self.app_token) and (token == self.app_token) != wants_app_token:
            error = {"ok": False, "error": "not_allowed_token_type"}
            return _Reply(200, error, headers=api_headers)
        # A workflow step's own token (xwfp-) works like the bot token.
        allowed = self.app_token if wants_app_token else self.token
        if token != allowed and (wants_app_token or token not in self._function_tokens):
            return _Reply(200, {"ok": False, "error": "invalid_auth"}, headers=api_headers)
        if method.startswith("functions.") and self._function_tokens.get(token) != body.get(
            "function_execution_id"
        ):
            # Only the execution's own token completes it (the bot token does not).
            return _Reply(200, {"ok": False, "error": "invalid_auth"}, headers=api_headers)
        try:
            payload = handler(body)
        except _ApiError as e:
            payload = {"ok": False, "error": e.error, **e.extra}
        return _Reply(200, payload, headers=api_headers)

    def _fault_reply(self, method: str, fault: _Fault) -> _Reply:
        if fault.reset:
            return _Reply(0, reset=True)
        if method == "response_url":
            # response_url errors come back as short plain-text bodies, not JSON.
            status = fault.status if fault.status != 200 else 404
            return _Reply(status, text=fault.error or "internal_error")
        if fault.status == 429:
            return _Reply(
                429,
                {"ok": False, "error": fault.error or "ratelimited"},
                headers={"Retry-After": str(fault.retry_after)},
            )
        if fault.status == 503 and fault.error is None:
            return _Reply(503, text="Service Unavailable")
        if fault.status >= 500:
            return _Reply(fault.status, {"ok": False, "error": fault.error or "internal_error"})
        if fault.status != 200:
            return _Reply(fault.status, {"ok": False, "error": fault.error or "invalid_request"})
        return _Reply(200, {"ok": False, "error": fault.error})

    def _methods(self) -> dict[str, Callable[[dict[str, Any]], dict[str, Any]]]:
        return {
            "apps.connections.open": self._apps_connections_open,
            "auth.test": self._auth_test,
            "chat.delete": self._chat_delete,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "chat.postMessage": self._chat_post_message,
            "chat.update": self._chat_update,
            "conversations.history": self._conversations_history,
            "chat.getPermalink": self._chat_get_permalink,
            "conversations.info": self._conversations_info,
            "conversations.join": self._conversations_join,
            "conversations.list": self._conversations_list,
            "conversations.open": self._conversations_open,
            "reactions.add": self._reactions_add,
            "dnd.info": self._dnd_info,
            "files.completeUploadExternal": self._files_complete_upload_external,
            "files.getUploadURLExternal": self._files_get_upload_url_external,
            "functions.completeError": self._functions_complete_error,
            "functions.completeSuccess": self._functions_complete_success,
            "team.info": self._team_info,
            "users.info": self._users_info,
            "users.lookupByEmail": self._users_lookup_by_email,
            "views.open": self._views_open,
            "views.publish": self._views_publish,
            "views.push": self._views_push,
            "views.update": self._views_update,
        }

    # -- helpers for the methods --------------------------------------------

    def _next_ts(self) -> str:
        self._seq += 1
        if self._ts_clock is not None:
            # Slack's ts are microsecond-precise and never repeat in a channel.
            now = max(round(self._ts_clock(), 6), round(self._last_ts + 0.000001, 6))
            self._last_ts = now
            return f"{now:.6f}"
        micros = self._seq * 100
        return f"{self._ts_base + micros // 1_000_000}.{micros % 1_000_000:06d}"

    def _user_object(self, spec: dict[str, Any], *, include_locale: bool) -> dict[str, Any]:
        real_name = spec["real_name"]
        first, _, last = real_name.partition(" ")
        profile: dict[str, Any] = {
            "title": "",
            "phone": "",
            "skype": "",
            "real_name": real_name,
            "real_name_normalized": real_name,
            "display_name": spec["name"],
            "display_name_normalized": spec["name"],
            "fields": None,
            "status_text": "",
            "status_emoji": "",
            "status_expiration": 0,
            "avatar_hash": hashlib.md5(spec["id"].encode()).hexdigest()[:12],
            "first_name": first,
            "last_name": last,
            "image_24": f"https://avatars.slack-edge.com/{spec['id']}_24.png",
            "image_48": f"https://avatars.slack-edge.com/{spec['id']}_48.png",
            "image_72": f"https://avatars.slack-edge.com/{spec['id']}_72.png",
            "team": self.team_id,
        }
        if spec["email"]:
            profile["email"] = spec["email"]
        if spec["is_bot"]:
            profile["bot_id"] = self.bot_id if spec["id"] == self.bot_user_id else "B" + spec["id"]
            profile["api_app_id"] = self.app_id if spec["id"] == self.bot_user_id else ""
        if spec["deleted"]:
            # Slack strips deactivated accounts down to this; no tz, no admin flags.
            return {
                "id": spec["id"],
                "team_id": self.team_id,
                "name": spec["name"],
                "deleted": True,
                "profile": profile,
                "is_bot": spec["is_bot"],
                "is_app_user": False,
                "updated": spec["updated"],
            }
        zone = ZoneInfo(spec["tz"])
        now = datetime.now(zone)
        offset = now.utcoffset() or timedelta(0)
        abbrev = now.tzname() or ""
        user: dict[str, Any] = {
            "id": spec["id"],
            "team_id": self.team_id,
            "name": spec["name"],
            "deleted": False,
            "color": "9f69e7",
            "real_name": real_name,
            "tz": spec["tz"],
            "tz_label": _TZ_LABELS.get(abbrev, abbrev),
            "tz_offset": int(offset.total_seconds()),
            "profile": profile,
            "is_admin": spec["is_admin"],
            "is_owner": spec["is_owner"],
            "is_primary_owner": False,
            "is_restricted": False,
            "is_ultra_restricted": False,
            "is_bot": spec["is_bot"],
            "is_app_user": False,
            "updated": spec["updated"],
            "is_email_confirmed": bool(spec["email"]),
            "who_can_share_contact_card": "EVERYONE",
            "has_2fa": False,
        }
        if include_locale:
            user["locale"] = spec["locale"]
        return user

    def _user_for_dm(self, channel_id: str) -> str | None:
        for prefix in ("U", "W"):
            candidate = prefix + channel_id[1:]
            if candidate in self._users:
                return candidate
        return None

    def _ensure_dm(self, user_id: str) -> str:
        dm = self.dm_channel_id(user_id)
        if dm not in self._channels:
            created = int(time.time())
            self._channels[dm] = {
                "id": dm,
                "created": created,
                "is_archived": False,
                "is_im": True,
                "is_org_shared": False,
                "context_team_id": self.team_id,
                "updated": created * 1000,
                "user": user_id,
                "is_user_deleted": bool(self._users[user_id]["deleted"]),
                "priority": 0,
            }
        return dm

    def _resolve_channel(self, channel: Any, *, allow_user: bool) -> str:
        """A channel id the bot may post to; a user id means that user's DM."""
        if not isinstance(channel, str) or not channel:
            raise _ApiError("channel_not_found")
        if channel[0] in "UW" and channel in self._users and not self._same_team(user=channel):
            raise _ApiError("channel_not_found")
        if channel in self._channels:
            if not self._same_team(channel=channel):
                raise _ApiError("channel_not_found")
            return channel
        if allow_user and channel[0] in "UW" and channel in self._users:
            return self._ensure_dm(channel)
        if channel[0] == "D":
            user = self._user_for_dm(channel)
            if user is not None:
                return self._ensure_dm(user)
        raise _ApiError("channel_not_found")

    def _check_postable(self, channel_id: str) -> None:
        channel = self._channels[channel_id]
        if channel.get("is_im"):
            if channel.get("is_user_deleted") or self._users[channel["user"]]["deleted"]:
                raise _ApiError("user_disabled")
            return
        if channel.get("is_archived"):
            raise _ApiError("is_archived")
        if not channel.get("is_member", True):
            raise _ApiError("not_in_channel")

    def _validate_message(self, body: dict[str, Any]) -> None:
        if not self.validate_blocks:
            return
        if isinstance(body.get("blocks"), str):
            problems = check_message_blocks(body["blocks"])
            self.block_errors.extend(problems)
            raise _ApiError("invalid_blocks_format", errors=problems)
        problems = check_message_blocks(body["blocks"]) if body.get("blocks") is not None else []
        if body.get("attachments") is not None:
            attachment_problems = check_attachments(body["attachments"])
            if isinstance(body["attachments"], list) and len(body["attachments"]) > MAX_ATTACHMENTS:
                self.block_errors.extend(attachment_problems)
                raise _ApiError("too_many_attachments", errors=attachment_problems)
            problems += attachment_problems
        if problems:
            self.block_errors.extend(problems)
            raise _ApiError(
                "invalid_blocks",
                errors=problems,
                response_metadata={"messages": [f"[ERROR] {p}" for p in problems]},
            )
        text_problems = check_message_text(body.get("text"))
        if text_problems:
            self.block_errors.extend(text_problems)
            raise _ApiError("msg_too_long", errors=text_problems)

    def _validate_view(self, view: dict[str, Any]) -> None:
        if not self.validate_blocks:
            return
        problems = check_view(view)
        if problems:
            self.block_errors.extend(problems)
            raise _ApiError(
                "invalid_arguments",
                errors=problems,
                response_metadata={"messages": [f"[ERROR] {p}" for p in problems]},
            )

    def _message_object(self, body: dict[str, Any], ts: str) -> dict[str, Any]:
        message: dict[str, Any] = {
            "user": self.bot_user_id,
            "type": "message",
            "ts": ts,
            "bot_id": self.bot_id,
            "app_id": self.app_id,
            "text": body.get("text") or "",
            "team": self.team_id,
            "bot_profile": {
                "id": self.bot_id,
                "deleted": False,
                "name": "Feedback Loop",
                "updated": self._ts_base,
                "app_id": self.app_id,
                "icons": {"image_36": "https://a.slack-edge.com/80588/img/plugins/app/bot_36.png"},
                "team_id": self.team_id,
            },
        }
        if body.get("blocks"):
            message["blocks"] = _with_block_ids(body["blocks"])
        if body.get("attachments"):
            message["attachments"] = [
                {"id": i + 1, **a} if isinstance(a, dict) else a
                for i, a in enumerate(body["attachments"])
            ]
        if body.get("thread_ts"):
            message["thread_ts"] = str(body["thread_ts"])
            message["parent_user_id"] = self.bot_user_id
        if body.get("metadata") and not _metadata_problem(body["metadata"]):
            message["metadata"] = body["metadata"]
        return message

    # -- Web API methods ------------------------------------------------------

    def _apps_connections_open(self, body: dict[str, Any]) -> dict[str, Any]:
        if self.socket_mode is None:
            # What Slack says when the app has Socket Mode turned off.
            raise _ApiError("invalid_auth")
        return {"ok": True, "url": self.socket_mode.new_url()}

    def _auth_test(self, body: dict[str, Any]) -> dict[str, Any]:
        for org_id, org in self.enterprises.items():
            if self._acting_org and self._acting_org == frozenset(org["teams"]):
                domain = "-".join(org["name"].lower().split()) or "org"
                return {
                    "ok": True,
                    "url": f"https://{domain}.enterprise.slack.com/",
                    "team": org["name"],
                    "user": "feedbackloop",
                    "team_id": org_id,
                    "user_id": org["bot_user_id"],
                    "bot_id": org["bot_id"],
                    "enterprise_id": org_id,
                    "is_enterprise_install": True,
                }
        team = self.teams.get(self._acting_team) or self.teams[self.team_id]
        domain = "-".join(team["name"].lower().split()) or "workspace"
        return {
            "ok": True,
            "url": f"https://{domain}.slack.com/",
            "team": team["name"],
            "user": "feedbackloop",
            "team_id": self._acting_team,
            "user_id": team["bot_user_id"],
            "bot_id": team["bot_id"],
            "is_enterprise_install": False,
        }

    def _chat_post_message(self, body: dict[str, Any]) -> dict[str, Any]:
        channel = self._resolve_channel(body.get("channel"), allow_user=True)
        self._check_postable(channel)
        if not (body.get("text") or body.get("blocks") or body.get("attachments")):
            raise _ApiError("no_text")
        self._validate_message(body)
        ts = self._next_ts()
        message = self._message_object(body, ts)
        self._messages[(channel, ts)] = message
        if self._channels[channel].get("is_im"):
            self._open_dms.add(channel)
        response: dict[str, Any] = {"ok": True, "channel": channel, "ts": ts, "message": message}
        if body.get("metadata") and _metadata_problem(body["metadata"]):
            # Slack posts the message, drops the metadata and says so in a warning.
            response["warning"] = "invalid_metadata_schema"
            response["response_metadata"] = {"warnings": ["invalid_metadata_schema"]}
        return response

    def _chat_post_ephemeral(self, body: dict[str, Any]) -> dict[str, Any]:
        user = body.get("user")
        if not isinstance(user, str) or user not in self._users:
            raise _ApiError("user_not_found")
        channel = self._resolve_channel(body.get("channel"), allow_user=True)
        self._check_postable(channel)
        if not (body.get("text") or body.get("blocks") or body.get("attachments")):
            raise _ApiError("no_text")
        self._validate_message(body)
        ts = self._next_ts()
        self._ephemeral.append({"channel": channel, "user": user, **self._message_object(body, ts)})
        return {"ok": True, "message_ts": ts}

    def _chat_update(self, body: dict[str, Any]) -> dict[str, Any]:
        # chat.update needs the real channel id; a user id is channel_not_found, as in Slack.
        channel = self._resolve_channel(body.get("channel"), allow_user=False)
        ts = str(body.get("ts") or "")
        message = self._messages.get((channel, ts))
        if message is None:
            raise _ApiError("message_not_found")
        if message.get("bot_id") != self.bot_id:
            raise _ApiError("cant_update_message")
        if (channel, ts) in self._edit_closed:
            raise _ApiError("edit_window_closed")
        if not (body.get("text") or body.get("blocks") or body.get("attachments")):
            raise _ApiError("no_text")
        self._validate_message(body)
        # Slack keeps blocks/attachments that the update leaves out; [] clears them.
        for key in ("blocks", "attachments"):
            if key in body and body[key] is not None:
                if body[key]:
                    message[key] = _with_block_ids(body[key]) if key == "blocks" else body[key]
                else:
                    message.pop(key, None)
        if "text" in body:
            message["text"] = body.get("text") or ""
        message["edited"] = {"user": self.bot_user_id, "ts": self._next_ts()}
        return {
            "ok": True,
            "channel": channel,
            "ts": ts,
            "text": message["text"],
            "message": {k: v for k, v in message.items() if k != "ts"},
        }

    def _chat_delete(self, body: dict[str, Any]) -> dict[str, Any]:
        channel = self._resolve_channel(body.get("channel"), allow_user=False)
        ts = str(body.get("ts") or "")
        message = self._messages.get((channel, ts))
        if message is None:
            raise _ApiError("message_not_found")
        if message.get("bot_id") != self.bot_id:
            raise _ApiError("cant_delete_message")
        del self._messages[(channel, ts)]
        return {"ok": True, "channel": channel, "ts": ts}

    def _files_get_upload_url_external(self, body: dict[str, Any]) -> dict[str, Any]:
        filename = body.get("filename")
        length = str(body.get("length") or "")
        if not isinstance(filename, str) or not filename.strip():
            raise _ApiError("invalid_arguments")
        if not length.isdigit() or int(length) <= 0:
            raise _ApiError("invalid_length")
        self._seq += 1
        file_id = f"F{self._seq:08d}UP"
        self._files[file_id] = {"id": file_id, "name": filename, "length": int(length)}
        return {
            "ok": True,
            "upload_url": f"{self.base_url}/upload/v1/{file_id}",
            "file_id": file_id,
        }

    def _upload_bytes(self, body: dict[str, Any]) -> _Reply:
        record = self._files.get(str(body.get("file_id")))
        data = body.get("_bytes") or b""
        if record is None:
            return _Reply(404, text="Not Found")
        # Slack answers the upload in plain text; the length was promised in step one.
        record["content"] = bytes(data)
        return _Reply(200, text=f"OK - {len(data)}")

    def _files_complete_upload_external(self, body: dict[str, Any]) -> dict[str, Any]:
        files = body.get("files")
        if not isinstance(files, list) or not files:
            raise _ApiError("invalid_arguments")
        records = []
        for entry in files:
            record = self._files.get(str(entry.get("id") if isinstance(entry, dict) else ""))
            if record is None or "content" not in record or record.get("completed"):
                raise _ApiError("file_not_found")
            records.append((record, entry))
        channel = None
        if body.get("channel_id"):
            channel = self._resolve_channel(body.get("channel_id"), allow_user=False)
            self._check_postable(channel)
        shown = []
        for record, entry in records:
            record["completed"] = True
            record["title"] = entry.get("title") or record["name"]
            record["channel"] = channel
            shown.append(
                {
                    "id": record["id"],
                    "name": record["name"],
                    "title": record["title"],
                    "size": len(record["content"]),
                    "mimetype": "text/csv" if record["name"].endswith(".csv") else "text/plain",
                }
            )
        if channel is not None:
            # Shared into the channel: a message from the bot carrying the files.
            ts = self._next_ts()
            message = self._message_object({"text": body.get("initial_comment") or ""}, ts)
            message["files"] = shown
            self._messages[(channel, ts)] = message
            if self._channels[channel].get("is_im"):
                self._open_dms.add(channel)
        return {"ok": True, "files": [{"id": f["id"], "title": f["title"]} for f in shown]}

    def uploaded_files(self, channel: str | None = None) -> list[dict[str, Any]]:
        """Files completed with files.completeUploadExternal (content as bytes)."""
        with self._lock:
            return [
                dict(f)
                for f in self._files.values()
                if f.get("completed") and (channel is None or f.get("channel") == channel)
            ]

    def _conversations_open(self, body: dict[str, Any]) -> dict[str, Any]:
        users_arg = body.get("users")
        if isinstance(users_arg, list):
            users = [str(u) for u in users_arg]
        elif isinstance(users_arg, str) and users_arg.strip():
            users = [u.strip() for u in users_arg.split(",") if u.strip()]
        else:
            users = []
        if not users:
            if body.get("channel"):
                channel = self._resolve_channel(body["channel"], allow_user=False)
                return {"ok": True, "channel": self._channel_view(channel, full=True)}
            raise _ApiError("users_list_not_supplied")
        for user in users:
            spec = self._users.get(user)
            if spec is None or not self._same_team(user=user):
                raise _ApiError("user_not_found")
            if spec["deleted"]:
                raise _ApiError("user_disabled")
        if len(users) > 8:
            raise _ApiError("too_many_users")
        if len(users) == 1:
            if self._users[users[0]]["is_bot"]:
                raise _ApiError("cannot_dm_bot")
            channel = self._ensure_dm(users[0])
        else:
            key = ",".join(sorted(set(users) | {self.bot_user_id}))
            channel = "G" + hashlib.sha1(key.encode()).hexdigest()[:10].upper()
            if channel not in self._channels:
                self._channels[channel] = {
                    "id": channel,
                    "name": "mpdm-" + "--".join(sorted(users)) + "-1",
                    "is_mpim": True,
                    "is_im": False,
                    "is_private": True,
                    "is_group": False,
                    "is_channel": False,
                    "is_archived": False,
                    "is_member": True,
                    "created": int(time.time()),
                    "members": sorted(set(users) | {self.bot_user_id}),
                }
        already = channel in self._open_dms
        self._open_dms.add(channel)
        full = _truthy(body.get("return_im"))
        response: dict[str, Any] = {"ok": True, "channel": self._channel_view(channel, full=full)}
        if already:
            response["no_op"] = True
            response["already_open"] = True
        return response

    def _conversations_history(self, body: dict[str, Any]) -> dict[str, Any]:
        """Top-level messages, newest first, between `oldest` and `latest` (exclusive
        unless `inclusive`), `limit` at a time with a cursor; metadata only with
        include_all_metadata. Shape: Slack's conversations.history reference."""
        channel = self._resolve_channel(body.get("channel"), allow_user=False)
        info = self._channels[channel]
        needed = (
            "im:history"
            if info.get("is_im")
            else "mpim:history"
            if info.get("is_mpim")
            else "groups:history"
            if info.get("is_private")
            else "channels:history"
        )
        if needed not in self.scopes.split(","):
            raise _ApiError("missing_scope", needed=needed, provided=self.scopes)
        if not info.get("is_im") and not info.get("is_member", True):
            raise _ApiError("not_in_channel")
        try:
            limit = int(body.get("limit") or 100)
            oldest = float(body.get("oldest") or 0)
            latest = float(body["latest"]) if body.get("latest") else math.inf
        except (TypeError, ValueError) as e:
            raise _ApiError("invalid_arguments") from e
        limit = max(1, min(limit, 999))
        inclusive = _truthy(body.get("inclusive"))
        cursor = str(body.get("cursor") or "")
        if cursor:
            try:
                latest = float(base64.b64decode(cursor).decode().removeprefix("next_ts:"))
            except ValueError as e:
                raise _ApiError("invalid_cursor") from e
            inclusive = False

        def within(ts: float) -> bool:
            if inclusive:
                return oldest <= ts <= latest
            return oldest < ts < latest

        found = sorted(
            (
                m
                for (ch, ts), m in self._messages.items()
                if ch == channel
                and within(float(ts))
                # Thread replies live in conversations.replies, not here.
                and m.get("thread_ts", ts) == ts
            ),
            key=lambda m: float(m["ts"]),
            reverse=True,
        )
        page, more = found[:limit], len(found) > limit
        with_metadata = _truthy(body.get("include_all_metadata"))
        messages = [{k: v for k, v in m.items() if with_metadata or k != "metadata"} for m in page]
        next_cursor = (
            base64.b64encode(f"next_ts:{page[-1]['ts']}".encode()).decode() if more else ""
        )
        return {
            "ok": True,
            "messages": messages,
            "has_more": more,
            "pin_count": 0,
            "channel_actions_ts": None,
            "channel_actions_count": 0,
            "response_metadata": {"next_cursor": next_cursor},
        }

    def _channel_view(self, channel: str, *, full: bool) -> dict[str, Any]:
        if not full:
            return {"id": channel}
        data = dict(self._channels[channel])
        if data.get("is_im"):
            data["is_open"] = channel in self._open_dms
            data["last_read"] = "0000000000.000000"
        return data

    def _conversations_info(self, body: dict[str, Any]) -> dict[str, Any]:
        channel = self._resolve_channel(body.get("channel"), allow_user=False)
        return {"ok": True, "channel": self._channel_view(channel, full=True)}

    def _conversations_join(self, body: dict[str, Any]) -> dict[str, Any]:
        """Slack's conversations.join: public channels only; joining again is ok with an
        `already_in_channel` warning."""
        self._need_scope("channels:join")
        channel = self._resolve_channel(body.get("channel"), allow_user=False)
        info = self._channels[channel]
        if info.get("is_im") or info.get("is_mpim") or info.get("is_private"):
            raise _ApiError("method_not_supported_for_channel_type")
        if info.get("is_archived"):
            raise _ApiError("is_archived")
        response: dict[str, Any] = {"ok": True}
        if info.get("is_member", True):
            response["warning"] = "already_in_channel"
            response["response_metadata"] = {"warnings": ["already_in_channel"]}
        info["is_member"] = True
        response["channel"] = self._channel_view(channel, full=True)
        return response

    def _conversations_list(self, body: dict[str, Any]) -> dict[str, Any]:
        """Channels (no DMs unless asked), `limit` a page with an opaque cursor."""
        wanted = set(str(body.get("types") or "public_channel").split(","))
        exclude_archived = _truthy(body.get("exclude_archived"))
        try:
            limit = max(1, min(int(body.get("limit") or 100), 1000))
            start = int(base64.b64decode(str(body.get("cursor") or "")).decode() or 0)
        except (TypeError, ValueError) as e:
            raise _ApiError("invalid_cursor") from e

        def kind(c: dict[str, Any]) -> str:
            if c.get("is_im"):
                return "im"
            if c.get("is_mpim"):
                return "mpim"
            return "private_channel" if c.get("is_private") else "public_channel"

        found = [
            dict(c)
            for _, c in sorted(self._channels.items())
            if kind(c) in wanted and not (exclude_archived and c.get("is_archived"))
        ]
        page = found[start : start + limit]
        more = start + limit < len(found)
        cursor = base64.b64encode(str(start + limit).encode()).decode() if more else ""
        return {"ok": True, "channels": page, "response_metadata": {"next_cursor": cursor}}

    def _message_in(self, body: dict[str, Any], ts_key: str) -> tuple[str, dict[str, Any]]:
        channel = self._resolve_channel(body.get("channel"), allow_user=False)
        message = self._messages.get((channel, str(body.get(ts_key) or "")))
        if message is None:
            raise _ApiError("message_not_found")
        return channel, message

    def _chat_get_permalink(self, body: dict[str, Any]) -> dict[str, Any]:
        """Shape: Slack's chat.getPermalink reference (a thread reply's link names its thread)."""
        channel, message = self._message_in(body, "message_ts")
        ts = message["ts"]
        link = f"https://{self.team_domain}.slack.com/archives/{channel}/p{ts.replace('.', '')}"
        thread_ts = message.get("thread_ts")
        if thread_ts and thread_ts != ts:
            link += f"?thread_ts={thread_ts}&cid={channel}"
        return {"ok": True, "channel": channel, "permalink": link}

    def _reactions_add(self, body: dict[str, Any]) -> dict[str, Any]:
        """reactions.add: one reaction per name per user; the bot must be in the channel."""
        self._need_scope("reactions:write")
        name = str(body.get("name") or "").strip(":")
        if not name:
            raise _ApiError("invalid_name")
        channel_id = self._resolve_channel(body.get("channel"), allow_user=False)
        info = self._channels[channel_id]
        if not info.get("is_im") and not info.get("is_member", True):
            raise _ApiError("not_in_channel")
        _, message = self._message_in({**body, "channel": channel_id}, "timestamp")
        reactions = message.setdefault("reactions", [])
        for reaction in reactions:
            if reaction["name"] == name:
                if self.bot_user_id in reaction["users"]:
                    raise _ApiError("already_reacted")
                reaction["users"].append(self.bot_user_id)
                reaction["count"] += 1
                return {"ok": True}
        reactions.append({"name": name, "users": [self.bot_user_id], "count": 1})
        return {"ok": True}

    def _need_scope(self, scope: str) -> None:
        if scope not in self.scopes.split(","):
            raise _ApiError("missing_scope", needed=scope, provided=self.scopes)

    def _users_info(self, body: dict[str, Any]) -> dict[str, Any]:
        spec = self._users.get(str(body.get("user") or ""))
        if spec is None or not self._same_team(user=spec["id"]):
            raise _ApiError("user_not_found")
        include_locale = _truthy(body.get("include_locale"))
        return {"ok": True, "user": self._user_object(spec, include_locale=include_locale)}

    def _users_lookup_by_email(self, body: dict[str, Any]) -> dict[str, Any]:
        email = str(body.get("email") or "").strip().lower()
        for spec in self._users.values():
            if email and spec["email"].lower() == email and self._same_team(user=spec["id"]):
                return {"ok": True, "user": self._user_object(spec, include_locale=False)}
        raise _ApiError("users_not_found")

    def _function_done(self, body: dict[str, Any], result: dict[str, Any]) -> dict[str, Any]:
        execution = str(body.get("function_execution_id") or "")
        if not execution:
            raise _ApiError("invalid_arguments")
        done = self.function_results.setdefault(execution, [])
        if done:
            raise _ApiError("function_execution_already_completed")
        done.append(result)
        return {"ok": True}

    def _functions_complete_success(self, body: dict[str, Any]) -> dict[str, Any]:
        outputs = body.get("outputs")
        if isinstance(outputs, str):
            outputs = json.loads(outputs)
        if not isinstance(outputs, dict):
            raise _ApiError("invalid_arguments")
        return self._function_done(body, {"ok": True, "outputs": outputs})

    def _functions_complete_error(self, body: dict[str, Any]) -> dict[str, Any]:
        if not body.get("error"):
            raise _ApiError("invalid_arguments")
        return self._function_done(body, {"ok": False, "error": str(body["error"])})

    def _dnd_info(self, body: dict[str, Any]) -> dict[str, Any]:
        user = str(body.get("user") or self.bot_user_id)
        spec = self._users.get(user)
        if spec is None:
            raise _ApiError("user_not_found")
        state = self._dnd.get(user, {})
        default_start, default_end = _default_dnd_window(spec["tz"])
        response: dict[str, Any] = {
            "ok": True,
            # Off unless a test turns it on: a wall-clock 22:00-08:00 window would make
            # tests (and the demo, and the benchmarks) depend on the time of day they run.
            "dnd_enabled": state.get("dnd_enabled", False),
            "next_dnd_start_ts": state.get("next_dnd_start_ts") or default_start,
            "next_dnd_end_ts": state.get("next_dnd_end_ts") or default_end,
            "snooze_enabled": bool(state.get("snooze_enabled")),
        }
        if response["snooze_enabled"]:
            endtime = int(state["snooze_endtime"])
            response["snooze_endtime"] = endtime
            response["snooze_remaining"] = max(0, endtime - int(time.time()))
        return response

    def _team_info(self, body: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "team": {
                "id": self.team_id,
                "name": self.team_name,
                "url": f"https://{self.team_domain}.slack.com/",
                "domain": self.team_domain,
                "email_domain": "",
                "icon": {
                    "image_default": True,
                    **{
                        f"image_{n}": f"https://a.slack-edge.com/80588/img/avatars-teams/ava_0001-{n}.png"
                        for n in (34, 44, 68, 88, 102, 132, 230)
                    },
                },
                "avatar_base_url": "https://ca.slack-edge.com/",
                "is_verified": False,
            },
        }

    def _new_view(self, view: dict[str, Any], *, view_id: str | None = None) -> dict[str, Any]:
        if view_id is None:
            self._seq += 1
            view_id = f"V{self._seq:08d}"
        defaults: dict[str, Any] = {
            "id": view_id,
            "team_id": self.team_id,
            "type": view.get("type"),
            "blocks": [],
            "private_metadata": "",
            "callback_id": "",
            "state": {"values": {}},
            "hash": f"{int(time.time())}.{secrets.token_urlsafe(6)}",
            "title": None,
            "clear_on_close": False,
            "notify_on_close": False,
            "close": None,
            "submit": None,
            "previous_view_id": None,
            "root_view_id": view_id,
            "app_id": self.app_id,
            "external_id": "",
            "app_installed_team_id": self.team_id,
            "bot_id": self.bot_id,
        }
        merged = {**defaults, **view}
        for key in ("id", "team_id", "hash", "app_id", "bot_id", "app_installed_team_id"):
            merged[key] = defaults[key]
        merged["state"] = {"values": {}}
        return merged

    def _view_arg(self, body: dict[str, Any]) -> dict[str, Any]:
        view = body.get("view")
        if not isinstance(view, dict):
            raise _ApiError(
                "invalid_arguments",
                response_metadata={"messages": ["[ERROR] missing required field: view"]},
            )
        return view

    def _expect_type(self, view: dict[str, Any], vtype: str) -> None:
        if view.get("type") != vtype:
            raise _ApiError(
                "invalid_arguments",
                response_metadata={
                    "messages": [f"[ERROR] view type must be {vtype} [json-pointer:/view/type]"]
                },
            )

    def _store_view(self, view: dict[str, Any]) -> dict[str, Any]:
        external_id = view.get("external_id") or ""
        if external_id:
            owner = self._external_ids.get(external_id)
            if owner is not None and owner != view["id"]:
                raise _ApiError("duplicate_external_id")
            self._external_ids[external_id] = view["id"]
        self._views[view["id"]] = view
        return {"ok": True, "view": view}

    def _views_open(self, body: dict[str, Any]) -> dict[str, Any]:
        if not body.get("trigger_id"):
            raise _ApiError("invalid_trigger_id")
        view = self._view_arg(body)
        self._expect_type(view, "modal")
        self._validate_view(view)
        return self._store_view(self._new_view(view))

    def _views_push(self, body: dict[str, Any]) -> dict[str, Any]:
        # Same checks as views.open; the stand-in does not model the three-deep modal stack.
        return self._views_open(body)

    def _views_update(self, body: dict[str, Any]) -> dict[str, Any]:
        view_id = body.get("view_id") or self._external_ids.get(str(body.get("external_id") or ""))
        if not view_id and not body.get("external_id"):
            raise _ApiError(
                "invalid_arguments",
                response_metadata={
                    "messages": ["[ERROR] either view_id or external_id is required"]
                },
            )
        current = self._views.get(str(view_id or ""))
        if current is None:
            raise _ApiError("not_found")
        if body.get("hash") and body["hash"] != current["hash"]:
            raise _ApiError("hash_conflict")
        view = self._view_arg(body)
        self._validate_view(view)
        updated = self._new_view(view, view_id=current["id"])
        updated["previous_view_id"] = current.get("previous_view_id")
        updated["root_view_id"] = current.get("root_view_id", current["id"])
        return self._store_view(updated)

    def _views_publish(self, body: dict[str, Any]) -> dict[str, Any]:
        user = str(body.get("user_id") or "")
        if user not in self._users:
            raise _ApiError("user_not_found")
        view = self._view_arg(body)
        self._expect_type(view, "home")
        home_id = self._home_ids.get(user)
        if (
            home_id is not None
            and body.get("hash")
            and body["hash"] != self._views[home_id]["hash"]
        ):
            raise _ApiError("hash_conflict")
        self._validate_view(view)
        published = self._new_view(view, view_id=home_id)
        self._home_ids[user] = published["id"]
        return self._store_view(published)


_EVENT_TYPE = re.compile(r"[A-Za-z0-9_-]+")


def _metadata_problem(metadata: Any) -> str | None:
    """Why Slack would drop this message metadata (None: it keeps it)."""
    if not isinstance(metadata, dict):
        return "metadata must be an object"
    event_type = metadata.get("event_type")
    if not isinstance(event_type, str) or not _EVENT_TYPE.fullmatch(event_type):
        return "event_type: letters, digits, underscores and hyphens only"
    if not isinstance(metadata.get("event_payload"), dict):
        return "event_payload must be an object"
    return None


def _with_block_ids(blocks: Any) -> Any:
    """Slack gives every stored block a block_id; listeners may read them back later."""
    if not isinstance(blocks, list):
        return blocks
    out = []
    for block in blocks:
        if isinstance(block, dict) and not block.get("block_id"):
            block = {**block, "block_id": secrets.token_urlsafe(3)}
        out.append(block)
    return out


def _default_dnd_window(tz: str) -> tuple[int, int]:
    """The next (or current) 22:00-08:00 window in the user's zone, as epoch seconds."""
    zone = ZoneInfo(tz)
    now = datetime.now(zone)
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    end_today = today.replace(hour=8)
    if now < end_today:
        start = (today - timedelta(days=1)).replace(hour=22)
        end = end_today
    else:
        start = today.replace(hour=22)
        end = (today + timedelta(days=1)).replace(hour=8)
    return int(start.timestamp()), int(end.timestamp())


def _bearer(headers: dict[str, str]) -> str | None:
    auth = headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[len("bearer ") :].strip() or None
    return None


def _read_body(handler: BaseHTTPRequestHandler) -> bytes:
    if handler.headers.get("Transfer-Encoding", "").lower() == "chunked":
        chunks: list[bytes] = []
        while True:
            size = int(handler.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                handler.rfile.readline()
                break
            chunks.append(handler.rfile.read(size))
            handler.rfile.readline()
        return b"".join(chunks)
    length = int(handler.headers.get("Content-Length") or 0)
    return handler.rfile.read(length) if length > 0 else b""


def _parse_body(raw: bytes, query: str) -> dict[str, Any]:
    """JSON when it looks like JSON, form-decoded otherwise (as bolt's own mock does)."""
    text = raw.decode("utf-8", errors="replace").strip()
    body: dict[str, Any] = {}
    if query:
        body.update(_form(query))
    if text.startswith("{"):
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = {"_raw": text}
        if isinstance(parsed, dict):
            body.update(parsed)
    elif text:
        body.update(_form(text))
    for key in _FORM_JSON_FIELDS:
        if isinstance(body.get(key), str):
            body[key] = _maybe_json(body[key])
    return body


def _form(text: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in parse_qsl(text, keep_blank_values=True):
        if key in out:
            prev = out[key]
            out[key] = [*prev, value] if isinstance(prev, list) else [prev, value]
        else:
            out[key] = value
    return out


def _reset_connection(handler: BaseHTTPRequestHandler) -> None:
    # SO_LINGER 0 makes close() send RST: the client sees "connection reset by peer".
    handler.close_connection = True
    conn = handler.connection
    with contextlib.suppress(OSError):
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        conn.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bot.devkit.standin", description="Run the local Slack Web API stand-in."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8111)
    parser.add_argument("--token", default="xoxb-standin")
    parser.add_argument("--team-id", default="T0001")
    parser.add_argument(
        "--user",
        action="append",
        default=[],
        metavar="ID[:EMAIL]",
        help="add a workspace member (repeatable)",
    )
    parser.add_argument(
        "--channel",
        action="append",
        default=[],
        metavar="ID:NAME",
        help="add a channel the bot is in (repeatable)",
    )
    parser.add_argument("--no-validate", action="store_true", help="skip Block Kit checks")
    args = parser.parse_args(argv)

    standin = SlackStandIn(
        host=args.host,
        port=args.port,
        token=args.token,
        team_id=args.team_id,
        validate_blocks=not args.no_validate,
    )
    # A bot run against this by hand uses the real clock: ts must follow it, or reading
    # a DM's history since a moment would find nothing.
    standin.follow_clock(time.time)
    for item in args.user:
        user_id, _, email = item.partition(":")
        standin.add_user(user_id, email=email or None)
    for item in args.channel:
        channel_id, _, name = item.partition(":")
        standin.add_channel(channel_id, name or channel_id.lower())

    def show(call: RecordedCall) -> None:
        error = "" if call.ok else f" error={call.response.get('error', call.response)}"
        print(f"{call.status} {call.method}{error}", flush=True)

    standin.on_call = show
    standin.start()
    print(
        f"Slack stand-in on {standin.api_url} (token {standin.token}); Ctrl-C stops it.", flush=True
    )
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        standin.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
