"""HTTP mode: Bolt's ASGI adapter under uvicorn, plus `/healthz` and a clean lifecycle.

`POST /slack/events` carries events, slash commands and interactivity alike; its
signature is checked on the raw bytes and its body parsed before Bolt sees it
(bot/inbound.py). `POST /crm/webhook` takes a CRM's signed deal the same way (its own
secret and headers, bot/crm/signing.py) and hands it to the handler the composition
root plugged into the runtime. `GET /healthz` answers whether the database is reachable,
`GET /readyz` also that its schema is current; `GET /metrics` is Prometheus's text format
(bot/metrics.py). Start-up asks Slack who we are; the dispatcher then runs as a child
process once the server listens (bot/nudges/process.py), or on this event loop
(`inline`), or elsewhere (`off`). Shutdown stops the dispatcher (it hands back what it
claimed) and finishes work already acked.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import socket
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

import uvicorn
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from sqlalchemy import text

from bot.crm import signing as crm_signing
from bot.inbound import (
    MAX_BODY_BYTES,
    RefusalLog,
    Refused,
    build_request,
    json_object,
    verify_signature,
)
from bot.metrics import request_kind
from bot.nudges.dispatcher import Dispatcher
from bot.nudges.process import DispatcherProcess
from bot.runtime import Runtime, close_http_session, share_http_session
from bot.slack.identity import identify
from storage import checkpoints, schema

log = logging.getLogger(__name__)

# OAuth mode: the "Add to Slack" page and the redirect Slack sends the installer back to.
OAUTH_PATHS = frozenset({"/slack/install", "/slack/oauth_redirect"})

# A CRM (and Slack, for the workflow step) gives up on an answer after about 3 s.
CRM_ANSWER_SECONDS = 2.5
_CRM_SIGNED_HEADERS = frozenset(
    h.encode("latin-1") for h in (crm_signing.TIMESTAMP_HEADER, crm_signing.SIGNATURE_HEADER)
)

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


_CRM_TEAM_PATH = re.compile(r"^/crm/webhook/(T[A-Z0-9]{2,31})$")


async def _send_bolt(send: Send, response: BoltResponse) -> None:
    """Bolt's answer (a Slack request's, or the OAuth flow's pages) as the ASGI response."""
    await send(
        {
            "type": "http.response.start",
            "status": response.status,
            "headers": [
                (k.encode("latin-1"), v.encode("latin-1"))
                for k, values in response.headers.items()
                for v in values
            ],
        }
    )
    await send({"type": "http.response.body", "body": response.body.encode("utf-8")})


def _crm_team(path: str) -> str | None:
    """The workspace a CRM webhook URL names (OAuth mode): `/crm/webhook/T0123ABCD`."""
    found = _CRM_TEAM_PATH.match(path)
    return found.group(1) if found else None


class SlackASGI:
    def __init__(
        self,
        rt: Runtime,
        app: AsyncApp,
        *,
        run_dispatcher: bool = True,
        dispatcher: str = "inline",
    ) -> None:
        """`dispatcher`: "inline", "process" or "off" (Settings.dispatcher);
        `run_dispatcher=False` means "off" (the tests and the demo tick by hand)."""
        self.rt = rt
        self.app = app
        self.refusals = RefusalLog()
        self._counted: dict[tuple[str, int], tuple[Any, Any]] = {}
        mode = dispatcher if run_dispatcher else "off"
        self.dispatcher = Dispatcher(rt) if mode == "inline" else None
        self.dispatcher_process = DispatcherProcess() if mode == "process" else None
        # A nudge due now (a CRM's deal) wakes whichever dispatcher this server runs.
        if self.dispatcher is not None:
            rt.dispatcher_wake = self.dispatcher.wake
        elif self.dispatcher_process is not None:
            rt.dispatcher_wake = self.dispatcher_process.wake
        # The loop the app runs on, and a flag set once start-up finished: the demo and
        # the tests run the server in a thread and need both.
        self.loop: asyncio.AbstractEventLoop | None = None
        self.started = threading.Event()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] != "http":
            return
        elif scope["path"] == "/healthz":
            await self._healthz(send)
        elif scope["path"] == "/readyz":
            await self._readyz(send)
        elif scope["path"] == "/metrics" and scope["method"] == "GET":
            await self._metrics(send)
        elif scope["path"] == "/slack/events" and scope["method"] == "POST":
            await self._slack(scope, receive, send)
        elif scope["path"] == "/crm/webhook" and scope["method"] == "POST":
            await self._crm(scope, receive, send, None)
        elif (team := _crm_team(scope["path"])) is not None and scope["method"] == "POST":
            await self._crm(scope, receive, send, team)
        elif scope["path"] in OAUTH_PATHS and scope["method"] == "GET":
            await self._oauth(scope, send)
        else:
            await _respond(send, 404, b"Not Found")

    async def _slack(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        try:
            raw = await _read_body(scope, receive)
            headers = {
                k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]
            }
            request = build_request(
                self.rt.settings.slack_signing_secret or "",
                raw,
                headers,
                scope.get("query_string", b"").decode("latin-1"),
            )
        except Refused as e:
            self.refusals.refused(e.status, e.reason)
            await _respond(send, e.status, b"")
            self._count("refused", e.status, started)
            return
        response: BoltResponse = await self.app.async_dispatch(request)
        kind = request_kind(request.body) if isinstance(request.body, dict) else "other"
        await _send_bolt(send, response)
        self._count(kind, response.status, started)

    def _count(self, kind: str, status: int, started: float) -> None:
        counted = self._counted.get((kind, status))
        if counted is None:  # each label set looked up once: it runs for every request
            metrics = self.rt.metrics
            counted = metrics.requests.labels(kind, str(status)), metrics.ack_seconds.labels(kind)
            self._counted[(kind, status)] = counted
        counted[0].inc()
        counted[1].observe(time.perf_counter() - started)

    async def _metrics(self, send: Send) -> None:
        # Off the loop: the scrape reads the nudge table.
        body, content_type = await self.rt.db(self.rt.metrics.exposition)
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", content_type.encode("latin-1")),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    def _crm_secret(self, team: str | None) -> str:
        """CRM_WEBHOOK_SECRET for the one workspace (`/crm/webhook`); in OAuth mode each
        workspace's URL (`/crm/webhook/T…`) takes that workspace's own secret, derived
        from it (bot/crm/signing.py), so no workspace can announce another's deals."""
        secret = self.rt.settings.crm_webhook_secret or ""
        if not secret or team is None:
            return secret
        return crm_signing.team_secret(secret, team)

    async def _crm(self, scope: Scope, receive: Receive, send: Send, team: str | None) -> None:
        """A CRM's signed deal: 401 (nothing read) unless signed with the URL's secret
        within 5 minutes, 400 for a body that is not a JSON object, else what the intake
        made of it. Answered within CRM_ANSWER_SECONDS whatever happens."""
        handler = self.rt.crm_webhook
        started = time.perf_counter()
        oauth = self.rt.tokens is not None
        if oauth != (team is not None):
            # Each mode has one URL: say which, before reading anything.
            where = "/crm/webhook/<workspace id, T…>" if oauth else "/crm/webhook"
            await _json(send, 404, {"ok": False, "error": f"post CRM webhooks to {where}"})
            self._count("refused", 404, started)
            return
        try:
            raw = await _read_body(scope, receive)
            # Only the signature's two (ASGI header names are lower-case already).
            headers = {
                k.decode("latin-1"): v.decode("latin-1")
                for k, v in scope["headers"]
                if k in _CRM_SIGNED_HEADERS
            }
            verify_signature(
                self._crm_secret(team),
                raw,
                headers,
                timestamp_header=crm_signing.TIMESTAMP_HEADER,
                signature_header=crm_signing.SIGNATURE_HEADER,
            )
            try:
                payload = json_object(raw.decode("utf-8"))
            except UnicodeDecodeError:
                raise Refused(400, "body is not UTF-8") from None
        except Refused as e:
            self.refusals.refused(e.status, e.reason)
            await _json(send, e.status, {"ok": False, "error": e.reason})
            self._count("refused", e.status, started)
            return
        if handler is None:
            await _json(send, 404, {"ok": False, "error": "no CRM webhook in this app"})
            return
        # The work goes on after a late answer (shielded, tracked): the deal is never
        # half-taken, and the CRM's retry then finds it.
        task = self.rt.spawn(handler(payload, team), name="crm-webhook")
        try:
            async with asyncio.timeout(CRM_ANSWER_SECONDS):
                status, body = await asyncio.shield(task)
        except TimeoutError:
            status, body = 202, {"ok": True, "status": "accepted", "note": "still working"}
        except Exception:  # noqa: BLE001 - the sender gets a 500 and retries; logged by spawn
            status, body = 500, {"ok": False, "error": "internal error; try again", "retry": True}
        await _json(send, status, body)
        self._count("crm_webhook", status, started)

    async def _oauth(self, scope: Scope, send: Send) -> None:
        """OAuth mode's install page and Slack's redirect back (Bolt's OAuth flow)."""
        started = time.perf_counter()
        flow = self.app.oauth_flow
        if flow is None:
            await _respond(send, 404, b"Not Found")
            return
        headers: dict[str, str] = {
            k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]
        }
        request = AsyncBoltRequest(
            body="",
            query=scope.get("query_string", b"").decode("latin-1"),
            headers=dict(headers.items()),
        )
        if scope["path"] == flow.install_path:
            response = await flow.handle_installation(request)
        else:
            response = await flow.handle_callback(request)
        await _send_bolt(send, response)
        self._count("oauth", response.status, started)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.startup()
                except Exception as e:
                    log.error("start-up failed: %s", e)
                    await send({"type": "lifespan.startup.failed", "message": str(e)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def startup(self) -> None:
        self.loop = asyncio.get_running_loop()
        await share_http_session(self.rt.client)
        await identify(self.rt)
        if self.dispatcher is not None:
            self.dispatcher.start()
        if (checkpointer := checkpoints.checkpointer_of(self.rt.engine)) is not None:
            checkpointer.start()
        self.started.set()

    def listening(self) -> None:
        """The server takes requests now (make_server calls this). The child starts
        only now, so a server that cannot bind its port never leaves one running."""
        if self.dispatcher_process is not None:
            self.dispatcher_process.start()

    async def shutdown(self) -> None:
        if self.dispatcher is not None:
            self.dispatcher.shutdown()
        if self.dispatcher_process is not None:
            self.dispatcher_process.shutdown()
            await self.dispatcher_process.stopped()
        await self.rt.background.drain(timeout=20)
        await close_http_session(self.rt.client)
        if (checkpointer := checkpoints.checkpointer_of(self.rt.engine)) is not None:
            await asyncio.to_thread(checkpointer.stop)

    async def _healthz(self, send: Send) -> None:
        """Live: the process answers and its database does."""
        await self._probe(send, check_schema=False)

    async def _readyz(self, send: Send) -> None:
        """Ready for traffic: the database answers and its schema is this release's
        (a replica started before `feedback-loop migrate` ran is not ready)."""
        await self._probe(send, check_schema=True)

    async def _probe(self, send: Send, *, check_schema: bool) -> None:
        def ping() -> str | None:
            with self.rt.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            if check_schema and not schema.is_current(self.rt.engine):
                return "schema_out_of_date"
            return None

        body: dict[str, Any]
        try:
            problem = await asyncio.wait_for(self.rt.db(ping), timeout=2)
            status, body = (
                (200, {"ok": True}) if problem is None else (503, {"ok": False, "error": problem})
            )
        except Exception as e:  # noqa: BLE001 - any failure means unhealthy
            status, body = 503, {"ok": False, "error": type(e).__name__}
        payload = json.dumps(body).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(payload)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})


async def _json(send: Send, status: int, body: dict[str, Any]) -> None:
    payload = json.dumps(body, default=str).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


async def _read_body(scope: Scope, receive: Receive) -> bytes:
    """The whole body, refused (413) past MAX_BODY_BYTES without reading the rest."""
    for name, value in scope.get("headers", []):
        if name.lower() == b"content-length":
            if not value.isdigit():
                raise Refused(400, "malformed content-length")
            if int(value) > MAX_BODY_BYTES:
                raise Refused(413, "body too large")
    chunks = bytearray()
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise Refused(400, "client went away")
        chunks.extend(message.get("body", b""))
        if len(chunks) > MAX_BODY_BYTES:
            raise Refused(413, "body too large")
        if not message.get("more_body", False):
            return bytes(chunks)


async def _respond(send: Send, status: int, body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class _Server(uvicorn.Server):
    """uvicorn, telling the app once it listens (start-up runs before the bind)."""

    def __init__(self, config: uvicorn.Config, asgi: SlackASGI) -> None:
        super().__init__(config)
        self.asgi = asgi

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        # Any ASGI app may be served (the tests' harness serves one that mounts bots).
        listening = getattr(self.asgi, "listening", None)
        if self.started and callable(listening):
            listening()


def make_server(
    asgi: SlackASGI, *, host: str = "0.0.0.0", port: int = 3000, log_level: str = "info"
) -> uvicorn.Server:
    config = uvicorn.Config(
        asgi,
        host=host,
        port=port,
        log_level=log_level.lower(),
        access_log=False,
        lifespan="on",
        # Slack keeps connections alive between deliveries.
        timeout_keep_alive=30,
    )
    return _Server(config, asgi)


def bind_socket(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    """A listening socket, so tests and the demo can use port 0 and read the port back."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock
