"""Inbound requests built and signed the way Slack sends them.

Events are JSON envelopes; slash commands are form posts; interactivity is a form post
with one `payload` field holding URL-encoded JSON. Every request is signed with v0
HMAC-SHA256 over `v0:{timestamp}:{raw body}`, so the bot's real signature check runs.

    slack = SlackRequests("signing-secret")
    slack.slash_command("deal 42").post("http://127.0.0.1:3000/slack/events")

Builders return plain dicts (`message_event`, `envelope`) so tests can tweak them before
signing with `event_request`.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import secrets
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

__all__ = [
    "HttpResult",
    "SlackRequest",
    "SlackRequests",
    "checkboxes_value",
    "datepicker_value",
    "multi_static_select_value",
    "number_value",
    "plain_text_value",
    "radio_buttons_value",
    "static_select_value",
    "users_select_value",
]

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
USER_AGENT = "Slackbot 1.0 (+https://api.slack.com/robots)"

# Shared by every factory in the process: two factories in one test run must never hand
# out the same event_id or ts, or the bot's de-duplication would swallow the second.
_counter = itertools.count(1)
_counter_lock = threading.Lock()
_RUN_TAG = secrets.token_hex(2).upper()


def _next() -> int:
    with _counter_lock:
        return next(_counter)


@dataclass
class HttpResult:
    status: int
    headers: dict[str, str]
    body: str

    def json(self) -> Any:
        return json.loads(self.body) if self.body.strip() else None


@dataclass
class SlackRequest:
    """A signed request: the exact bytes and headers Slack would send."""

    body: bytes
    headers: dict[str, str]

    @property
    def text(self) -> str:
        return self.body.decode()

    def bolt_headers(self) -> dict[str, list[str]]:
        """Headers in the shape `BoltRequest(headers=...)` takes, for in-process dispatch."""
        return {k.lower(): [v] for k, v in self.headers.items()}

    def post(self, url: str, timeout: float = 10.0) -> HttpResult:
        """POST to the bot; 4xx/5xx come back as results, not exceptions."""
        request = urllib.request.Request(url, data=self.body, headers=self.headers, method="POST")
        # No proxies: a proxy from the environment would swallow requests to 127.0.0.1.
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with opener.open(request, timeout=timeout) as resp:
                return HttpResult(
                    status=resp.status,
                    headers=dict(resp.headers.items()),
                    body=resp.read().decode("utf-8", errors="replace"),
                )
        except urllib.error.HTTPError as e:
            return HttpResult(
                status=e.code,
                headers=dict(e.headers.items()) if e.headers else {},
                body=e.read().decode("utf-8", errors="replace"),
            )


# -- element state helpers for view_submission ---------------------------------


def _plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text, "emoji": True}


def _option(item: str | tuple[str, str] | dict[str, Any]) -> dict[str, Any]:
    if isinstance(item, dict):
        return item
    if isinstance(item, tuple):
        value, text = item
        return {"text": _plain(text), "value": value}
    return {"text": _plain(item), "value": item}


def plain_text_value(value: str | None) -> dict[str, Any]:
    """A plain_text_input; None is what Slack sends for an untouched optional field."""
    return {"type": "plain_text_input", "value": value}


def static_select_value(value: str | None, text: str | None = None) -> dict[str, Any]:
    selected = None if value is None else {"text": _plain(text or value), "value": value}
    return {"type": "static_select", "selected_option": selected}


def multi_static_select_value(
    options: Sequence[str | tuple[str, str] | dict[str, Any]],
) -> dict[str, Any]:
    return {"type": "multi_static_select", "selected_options": [_option(o) for o in options]}


def radio_buttons_value(value: str | None, text: str | None = None) -> dict[str, Any]:
    selected = None if value is None else {"text": _plain(text or value), "value": value}
    return {"type": "radio_buttons", "selected_option": selected}


def datepicker_value(date: str | None) -> dict[str, Any]:
    """`date` as Slack sends it: "YYYY-MM-DD"."""
    return {"type": "datepicker", "selected_date": date}


def checkboxes_value(
    options: Sequence[str | tuple[str, str] | dict[str, Any]],
) -> dict[str, Any]:
    """Values, (value, text) pairs or whole option dicts; an empty list means none ticked."""
    return {"type": "checkboxes", "selected_options": [_option(o) for o in options]}


def users_select_value(user: str | None) -> dict[str, Any]:
    return {"type": "users_select", "selected_user": user}


def number_value(value: str | int | float | None, *, decimal: bool = False) -> dict[str, Any]:
    # number_input values arrive as strings, exactly as typed.
    return {
        "type": "number_input",
        "value": None if value is None else str(value),
        "is_decimal_allowed": decimal,
    }


# -- the factory --------------------------------------------------------------


class SlackRequests:
    """Builds signed Events API, slash command and interactivity requests.

    Enterprise Grid: with `enterprise_id` the requests come from a workspace of that org
    (payloads carry the org as Slack's do); with `org_install` too, the app is installed
    org-wide (`is_enterprise_install`, and the events' authorization names no workspace)."""

    def __init__(
        self,
        signing_secret: str,
        *,
        team_id: str = "T0001",
        team_domain: str = "acme-sales",
        api_app_id: str = "A0FEEDLOOP",
        bot_user_id: str = "U0FEEDBOT",
        response_url_base: str = "https://hooks.slack.com",
        now: Callable[[], float] = time.time,
        bot_id: str = "B0FEEDBOT",
        verification_token: str = "vtok0FeedLoop0000000000",
        enterprise_id: str | None = None,
        enterprise_name: str = "",
        org_install: bool = False,
    ) -> None:
        self.signing_secret = signing_secret
        self.enterprise_id = enterprise_id
        self.enterprise_name = enterprise_name
        self.org_install = bool(enterprise_id) and org_install
        self.team_id = team_id
        self.team_domain = team_domain
        self.api_app_id = api_app_id
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.response_url_base = response_url_base.rstrip("/")
        self.verification_token = verification_token
        self.now = now

    # -- signing ----------------------------------------------------------

    def sign(
        self,
        body: bytes,
        *,
        content_type: str,
        timestamp: int | None = None,
        secret: str | None = None,
    ) -> dict[str, str]:
        """Headers for `body`: v0 HMAC-SHA256 over `v0:{timestamp}:{raw body}`."""
        ts = str(int(self.now()) if timestamp is None else timestamp)
        key = (self.signing_secret if secret is None else secret).encode()
        digest = hmac.new(key, b"v0:" + ts.encode() + b":" + body, hashlib.sha256).hexdigest()
        return {
            "Content-Type": content_type,
            "User-Agent": USER_AGENT,
            "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": f"v0={digest}",
        }

    def _signed(
        self,
        body: bytes,
        content_type: str,
        *,
        timestamp: int | None = None,
        secret: str | None = None,
    ) -> SlackRequest:
        headers = self.sign(body, content_type=content_type, timestamp=timestamp, secret=secret)
        return SlackRequest(body=body, headers=headers)

    def _interactive(
        self, payload: dict[str, Any], *, timestamp: int | None, secret: str | None = None
    ) -> SlackRequest:
        body = urlencode({"payload": json.dumps(payload, separators=(",", ":"))}).encode()
        return self._signed(body, FORM, timestamp=timestamp, secret=secret)

    # -- ids --------------------------------------------------------------

    def new_ts(self) -> str:
        """A message ts no other request in this process has used."""
        return f"{int(self.now())}.{_next() % 1_000_000:06d}"

    def new_trigger_id(self) -> str:
        first = f"{int(self.now() * 1000)}{_next() % 1000:03d}"
        return f"{first}.{_numeric(self.team_id)}.{uuid.uuid4().hex}"

    def new_response_url(self, kind: str = "commands") -> str:
        return (
            f"{self.response_url_base}/{kind}/{self.team_id}/{_next()}/{secrets.token_urlsafe(18)}"
        )

    def _user(self, user: str, name: str | None = None) -> dict[str, Any]:
        name = name or user.lower()
        return {"id": user, "username": name, "name": name, "team_id": self.team_id}

    def _team(self) -> dict[str, Any]:
        team: dict[str, Any] = {"id": self.team_id, "domain": self.team_domain}
        if self.enterprise_id:
            team["enterprise_id"] = self.enterprise_id
            team["enterprise_name"] = self.enterprise_name
        return team

    def _enterprise(self) -> dict[str, Any] | None:
        if not self.enterprise_id:
            return None
        return {"id": self.enterprise_id, "name": self.enterprise_name}

    # -- Events API ---------------------------------------------------------

    def message_event(
        self,
        text: str = "",
        *,
        channel: str,
        user: str | None = "U0REP1",
        bot_id: str | None = None,
        subtype: str | None = None,
        attachments: list[Any] | None = None,
        blocks: list[Any] | None = None,
        ts: str | None = None,
        channel_type: str | None = None,
        username: str | None = None,
        bot_profile: dict[str, Any] | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        """The inner `message` event. People get a client_msg_id and rich_text blocks that
        mirror the text; bots get neither (pass user=None for `bot_message` posts).
        channel_type follows the channel id unless given: D… → "im", else "channel"
        (pass "group" or "mpim" for private channels and group DMs).
        `extra` lands in the event as given (thread_ts, app_id, icons, ...)."""
        ts = ts or self.new_ts()
        event: dict[str, Any] = {}
        is_person = bot_id is None and subtype is None and user is not None
        if is_person:
            event["client_msg_id"] = str(uuid.uuid4())
        event["type"] = "message"
        if subtype is not None:
            event["subtype"] = subtype
        event["text"] = text
        if user is not None:
            event["user"] = user
        if username is not None:
            event["username"] = username
        if bot_id is not None:
            event["bot_id"] = bot_id
        if bot_profile is not None:
            event["bot_profile"] = bot_profile
        event["ts"] = ts
        if blocks is None and is_person and text:
            blocks = [_rich_text(text)]
        if blocks is not None:
            event["blocks"] = blocks
        if attachments is not None:
            event["attachments"] = attachments
        if user is not None:
            event["team"] = self.team_id
        event["channel"] = channel
        event["event_ts"] = ts
        event["channel_type"] = channel_type or ("im" if channel.startswith("D") else "channel")
        event.update(extra)
        return event

    def envelope(
        self,
        event: dict[str, Any],
        *,
        event_id: str | None = None,
        event_time: int | None = None,
    ) -> dict[str, Any]:
        """The `event_callback` envelope around an inner event."""
        n = _next()
        org = {"enterprise_id": self.enterprise_id} if self.enterprise_id else {}
        return {
            "token": self.verification_token,
            "team_id": self.team_id,
            **org,
            "context_team_id": self.team_id,
            "context_enterprise_id": self.enterprise_id,
            "api_app_id": self.api_app_id,
            "event": event,
            "type": "event_callback",
            "event_id": event_id or f"Ev{_RUN_TAG}{n:07d}",
            "event_time": int(self.now()) if event_time is None else event_time,
            "authorizations": [
                {
                    "enterprise_id": self.enterprise_id,
                    # An org-wide install is the org's, not a workspace's.
                    "team_id": None if self.org_install else self.team_id,
                    "user_id": self.bot_user_id,
                    "is_bot": True,
                    "is_enterprise_install": self.org_install,
                }
            ],
            "is_ext_shared_channel": False,
            "event_context": f"4-{secrets.token_urlsafe(24)}",
        }

    def event_request(
        self,
        envelope_or_event: dict[str, Any],
        *,
        retry_num: int | None = None,
        retry_reason: str = "http_timeout",
        timestamp: int | None = None,
        secret: str | None = None,
    ) -> SlackRequest:
        """Sign an envelope (an inner event is wrapped first). A retry is the same body
        under a new signature, with X-Slack-Retry-Num/Reason."""
        if envelope_or_event.get("type") in (
            "event_callback",
            "url_verification",
            "app_rate_limited",
        ):
            envelope = envelope_or_event
        else:
            envelope = self.envelope(envelope_or_event)
        body = json.dumps(envelope, separators=(",", ":")).encode()
        request = self._signed(body, JSON, timestamp=timestamp, secret=secret)
        if retry_num is not None:
            request.headers["X-Slack-Retry-Num"] = str(retry_num)
            request.headers["X-Slack-Retry-Reason"] = retry_reason
        return request

    def url_verification(self, challenge: str = "abc") -> SlackRequest:
        payload = {
            "token": self.verification_token,
            "challenge": challenge,
            "type": "url_verification",
        }
        return self._signed(json.dumps(payload, separators=(",", ":")).encode(), JSON)

    # -- slash commands -------------------------------------------------------

    def slash_command(
        self,
        text: str,
        *,
        user: str = "U0REP1",
        user_name: str = "rep",
        channel: str = "D0REP1",
        channel_name: str = "directmessage",
        command: str = "/loop",
        trigger_id: str | None = None,
        response_url: str | None = None,
        timestamp: int | None = None,
        secret: str | None = None,
    ) -> SlackRequest:
        """Form-encoded in Slack's field order (`command=%2Floop`, spaces as `+`)."""
        fields = [
            ("token", self.verification_token),
            ("team_id", self.team_id),
            ("team_domain", self.team_domain),
            *(
                [("enterprise_id", self.enterprise_id), ("enterprise_name", self.enterprise_name)]
                if self.enterprise_id
                else []
            ),
            ("channel_id", channel),
            ("channel_name", channel_name),
            ("user_id", user),
            ("user_name", user_name),
            ("command", command),
            ("text", text),
            ("api_app_id", self.api_app_id),
            ("is_enterprise_install", "true" if self.org_install else "false"),
            ("response_url", response_url or self.new_response_url("commands")),
            ("trigger_id", trigger_id or self.new_trigger_id()),
        ]
        return self._signed(urlencode(fields).encode(), FORM, timestamp=timestamp, secret=secret)

    # -- interactivity ---------------------------------------------------------

    def block_action(
        self,
        action_id: str,
        *,
        value: str | None = None,
        user: str = "U0REP1",
        block_id: str = "b",
        channel: str | None = "D0REP1",
        message: dict[str, Any] | None = None,
        view: dict[str, Any] | None = None,
        trigger_id: str | None = None,
        response_url: str | None = None,
        action_type: str = "button",
        selected_option: dict[str, Any] | None = None,
        timestamp: int | None = None,
        user_name: str | None = None,
        is_ephemeral: bool = False,
        secret: str | None = None,
    ) -> SlackRequest:
        """A `block_actions` payload. From a message unless `view` is given; then the
        container is the view and there is no channel, message or response_url.

        When the clicked element is found in the message/view blocks, its text, value
        and block_id are taken from there, as Slack would."""
        action_ts = self.new_ts()
        surface_blocks = (view or message or {}).get("blocks") or []
        found_block_id, element = _find_element(surface_blocks, action_id)
        action: dict[str, Any] = {
            "action_id": action_id,
            "block_id": found_block_id if found_block_id and block_id == "b" else block_id,
        }
        if action_type in ("button", "workflow_button"):
            text = (element or {}).get("text") or _plain(action_id)
            action["text"] = text
            val = value if value is not None else (element or {}).get("value")
            if val is not None:
                action["value"] = val
            if element and element.get("style"):
                action["style"] = element["style"]
        else:
            if selected_option is not None:
                action["selected_option"] = selected_option
            elif value is not None:
                action["selected_option"] = {"text": _plain(value), "value": value}
            if element and element.get("placeholder"):
                action["placeholder"] = element["placeholder"]
        action["type"] = action_type
        action["action_ts"] = action_ts

        payload: dict[str, Any] = {
            "type": "block_actions",
            "user": self._user(user, user_name),
            "api_app_id": self.api_app_id,
            "token": self.verification_token,
        }
        if view is not None:
            view = {"id": view.get("id") or f"V{_RUN_TAG}{_next():06d}", **view}
            payload["container"] = {"type": "view", "view_id": view["id"]}
        else:
            if message is None:
                message = {
                    "user": self.bot_user_id,
                    "type": "message",
                    "ts": self.new_ts(),
                    "bot_id": self.bot_id,
                    "app_id": self.api_app_id,
                    "text": "",
                    "team": self.team_id,
                    "blocks": [],
                }
            container: dict[str, Any] = {"type": "message", "message_ts": message.get("ts")}
            if channel is not None:
                container["channel_id"] = channel
            container["is_ephemeral"] = is_ephemeral
            payload["container"] = container
        payload["trigger_id"] = trigger_id or self.new_trigger_id()
        payload["team"] = self._team()
        payload["enterprise"] = self._enterprise()
        payload["is_enterprise_install"] = self.org_install
        if view is None:
            if channel is not None:
                payload["channel"] = {"id": channel, "name": _channel_name(channel)}
            payload["message"] = message
            payload["state"] = {"values": {}}
            payload["response_url"] = response_url or self.new_response_url("actions")
        else:
            payload["view"] = view
            payload["state"] = view.get("state") or {"values": {}}
        payload["actions"] = [action]
        return self._interactive(payload, timestamp=timestamp, secret=secret)

    def view_submission(
        self,
        callback_id: str,
        values: dict[str, dict[str, dict[str, Any]]],
        *,
        user: str = "U0REP1",
        private_metadata: str = "",
        view_id: str | None = None,
        blocks: list[Any] | None = None,
        timestamp: int | None = None,
        title: str = "Feedback Loop",
        external_id: str = "",
        user_name: str | None = None,
        secret: str | None = None,
    ) -> SlackRequest:
        """A `view_submission`; `values` is state.values: block_id → action_id → state
        (build those with plain_text_value, static_select_value, ...)."""
        view_id = view_id or f"V{_RUN_TAG}{_next():06d}"
        payload = {
            "type": "view_submission",
            "team": self._team(),
            "user": self._user(user, user_name),
            "api_app_id": self.api_app_id,
            "token": self.verification_token,
            "trigger_id": self.new_trigger_id(),
            "view": {
                "id": view_id,
                "team_id": self.team_id,
                "type": "modal",
                "blocks": blocks or [],
                "private_metadata": private_metadata,
                "callback_id": callback_id,
                "state": {"values": values},
                "hash": f"{int(self.now())}.{secrets.token_urlsafe(6)}",
                "title": _plain(title),
                "clear_on_close": False,
                "notify_on_close": False,
                "close": _plain("Cancel"),
                "submit": _plain("Submit"),
                "previous_view_id": None,
                "root_view_id": view_id,
                "app_id": self.api_app_id,
                "external_id": external_id,
                "app_installed_team_id": self.team_id,
                "bot_id": self.bot_id,
            },
            "response_urls": [],
            "is_enterprise_install": self.org_install,
            "enterprise": self._enterprise(),
        }
        return self._interactive(payload, timestamp=timestamp, secret=secret)

    def message_shortcut(
        self,
        callback_id: str,
        message: dict[str, Any],
        *,
        user: str = "U0REP1",
        channel: str = "C0DEALS",
        trigger_id: str | None = None,
        timestamp: int | None = None,
        response_url: str | None = None,
        channel_name: str | None = None,
        user_name: str | None = None,
        secret: str | None = None,
    ) -> SlackRequest:
        """A `message_action` on `message` (a message event dict works as is)."""
        name = user_name or user.lower()
        payload = {
            "type": "message_action",
            "token": self.verification_token,
            "action_ts": self.new_ts(),
            "team": self._team(),
            "user": {"id": user, "name": name, "username": name, "team_id": self.team_id},
            "channel": {"id": channel, "name": channel_name or _channel_name(channel)},
            "is_enterprise_install": self.org_install,
            "enterprise": self._enterprise(),
            "callback_id": callback_id,
            "trigger_id": trigger_id or self.new_trigger_id(),
            "response_url": response_url or self.new_response_url("actions"),
            "message_ts": message.get("ts"),
            "message": message,
        }
        return self._interactive(payload, timestamp=timestamp, secret=secret)

    def global_shortcut(
        self,
        callback_id: str,
        *,
        user: str = "U0REP1",
        trigger_id: str | None = None,
        timestamp: int | None = None,
        user_name: str | None = None,
        secret: str | None = None,
    ) -> SlackRequest:
        """A global `shortcut` (from the composer's shortcuts menu or search): no
        channel and no message, per Slack's shortcut payload reference."""
        name = user_name or user.lower()
        payload = {
            "type": "shortcut",
            "token": self.verification_token,
            "action_ts": self.new_ts(),
            "team": self._team(),
            "user": {"id": user, "username": name, "team_id": self.team_id},
            "is_enterprise_install": self.org_install,
            "enterprise": self._enterprise(),
            "callback_id": callback_id,
            "trigger_id": trigger_id or self.new_trigger_id(),
        }
        return self._interactive(payload, timestamp=timestamp, secret=secret)

    def function_executed(
        self,
        callback_id: str,
        inputs: dict[str, Any],
        *,
        bot_access_token: str,
        function_execution_id: str | None = None,
        title: str = "Start a deal debrief",
    ) -> dict[str, Any]:
        """The `function_executed` event a Workflow Builder step sends its app (wrap it
        with event_request): the step's `function`, its `inputs`, the execution ids and
        a short-lived `bot_access_token` (xwfp-) for completing it."""
        n = _next()
        return {
            "type": "function_executed",
            "function": {
                "id": f"Fn{_RUN_TAG}{n:06d}",
                "callback_id": callback_id,
                "title": title,
                "description": "",
                "type": "app",
                "input_parameters": [],
                "output_parameters": [],
                "app_id": self.api_app_id,
                "date_created": int(self.now()) - 86400,
                "date_updated": int(self.now()) - 86400,
                "date_deleted": 0,
            },
            "inputs": inputs,
            "function_execution_id": function_execution_id or f"Fx{_RUN_TAG}{n:06d}",
            "workflow_execution_id": f"Wx{_RUN_TAG}{n:06d}",
            "event_ts": self.new_ts(),
            "bot_access_token": bot_access_token,
        }


def _rich_text(text: str) -> dict[str, Any]:
    return {
        "type": "rich_text",
        "block_id": secrets.token_urlsafe(3),
        "elements": [{"type": "rich_text_section", "elements": [{"type": "text", "text": text}]}],
    }


def _numeric(team_id: str) -> str:
    # Trigger ids carry a numeric workspace part; any stable digits will do.
    return str(int(hashlib.sha1(team_id.encode()).hexdigest()[:10], 16))


def _channel_name(channel: str) -> str:
    if channel.startswith("D"):
        return "directmessage"
    if channel.startswith("G"):
        return "privategroup"
    return channel.lower()


def _find_element(blocks: list[Any], action_id: str) -> tuple[str | None, dict[str, Any] | None]:
    for block in blocks:
        if not isinstance(block, dict):
            continue
        candidates: list[Any] = list(block.get("elements") or [])
        for key in ("accessory", "element"):
            if isinstance(block.get(key), dict):
                candidates.append(block[key])
        for element in candidates:
            if isinstance(element, dict) and element.get("action_id") == action_id:
                return block.get("block_id"), element
    return None, None
