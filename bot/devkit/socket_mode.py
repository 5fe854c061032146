"""Slack's Socket Mode, served locally: the other end of the WebSocket that
`apps.connections.open` hands out.

Speaks what Slack speaks (per api.slack.com/apis/socket-mode): on connect a `hello`
with `num_connections`, `debug_info` and `connection_info`; then envelopes
`{"envelope_id", "type": "events_api" | "slash_commands" | "interactive", "payload",
"accepts_response_payload", "retry_attempt", "retry_reason"}`, each answered by the app
with `{"envelope_id", "payload"?}`; and `{"type": "disconnect", "reason":
"refresh_requested" | "warning" | "link_disabled"}`, after which the app opens a new
connection (a fresh `apps.connections.open`). Pings are answered with pongs (aiohttp
does it), as Slack's edge does.

It runs its own event loop in a thread, so a test (or the stand-in's HTTP side) talks
to it with plain blocking calls: `deliver` sends an envelope and waits for its ack."""

from __future__ import annotations

import asyncio
import json
import secrets
import threading
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

APP_ID = "A0FEEDBACK"


@dataclass
class Ack:
    """What the app answered to one envelope (None: no answer within the wait)."""

    envelope_id: str
    payload: dict[str, Any] | None


@dataclass
class _State:
    sockets: list[web.WebSocketResponse] = field(default_factory=list)
    acks: dict[str, asyncio.Future[dict[str, Any]]] = field(default_factory=dict)
    tickets: set[str] = field(default_factory=set)
    connections: int = 0
    hellos: int = 0


class SocketModeStandIn:
    def __init__(self, *, app_id: str = APP_ID) -> None:
        self.app_id = app_id
        self._state = _State()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._connected = threading.Condition()
        self.port = 0
        # Every envelope sent and every ack received, in order, for the tests to read.
        self.sent: list[dict[str, Any]] = []
        self.received: list[dict[str, Any]] = []

    # -- lifecycle --------------------------------------------------------------

    def start(self) -> SocketModeStandIn:
        ready = threading.Event()

        def serve() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            loop.run_until_complete(self._start_server())
            ready.set()
            loop.run_forever()

        self._thread = threading.Thread(target=serve, name="socket-mode-standin", daemon=True)
        self._thread.start()
        ready.wait(10)
        return self

    def stop(self) -> None:
        if self._loop is None:
            return
        asyncio.run_coroutine_threadsafe(self._stop_server(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)
        self._loop = None

    async def _start_server(self) -> None:
        app = web.Application()
        app.router.add_get("/link/", self._link)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server  # noqa: SLF001 - the only way to read the bound port back
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]

    async def _stop_server(self) -> None:
        for ws in list(self._state.sockets):
            await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    # -- what apps.connections.open hands out ------------------------------------

    def new_url(self) -> str:
        """A one-time WebSocket URL, as `apps.connections.open` returns (`wss://` at
        Slack; plain `ws://` on 127.0.0.1)."""
        ticket = secrets.token_hex(8)
        self._state.tickets.add(ticket)
        return f"ws://127.0.0.1:{self.port}/link/?ticket={ticket}&app_id={self.app_id}"

    async def _link(self, request: web.Request) -> web.StreamResponse:
        ticket = request.query.get("ticket", "")
        if ticket not in self._state.tickets:
            return web.Response(status=401, text="invalid ticket")
        self._state.tickets.discard(ticket)  # a URL works once, as Slack's do
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self._state.sockets.append(ws)
        self._state.connections += 1
        await ws.send_str(json.dumps(self._hello()))
        with self._connected:
            self._state.hellos += 1
            self._connected.notify_all()
        try:
            async for message in ws:
                if message.type == WSMsgType.TEXT:
                    self._on_ack(message.data)
        finally:
            if ws in self._state.sockets:
                self._state.sockets.remove(ws)
        return ws

    def _hello(self) -> dict[str, Any]:
        return {
            "type": "hello",
            "num_connections": len(self._state.sockets),
            "debug_info": {
                "host": "applink-standin",
                "build_number": 1,
                "approximate_connection_time": 18060,
            },
            "connection_info": {"app_id": self.app_id},
        }

    def _on_ack(self, data: str) -> None:
        try:
            ack = json.loads(data)
        except json.JSONDecodeError:
            return
        self.received.append(ack)
        future = self._state.acks.pop(str(ack.get("envelope_id")), None)
        if future is not None and not future.done():
            future.set_result(ack)

    # -- what a test does ---------------------------------------------------------

    @property
    def open_connections(self) -> int:
        return len(self._state.sockets)

    @property
    def hellos(self) -> int:
        return self._state.hellos

    def wait_connected(self, *, hellos: int = 1, timeout: float = 15.0) -> None:
        """Until the app has received `hellos` hellos in all (1: it connected once)."""
        with self._connected:
            if not self._connected.wait_for(lambda: self._state.hellos >= hellos, timeout):
                raise TimeoutError(f"the app did not connect ({self._state.hellos} hellos)")

    def deliver(
        self,
        kind: str,
        payload: dict[str, Any],
        *,
        accepts_response_payload: bool | None = None,
        timeout: float = 10.0,
    ) -> Ack:
        """Send one envelope on the newest connection and wait for its ack."""
        if self._loop is None:
            raise RuntimeError("the Socket Mode stand-in is not running")
        if accepts_response_payload is None:
            # Slack lets the app answer slash commands and interactivity in the ack;
            # events are acked empty.
            accepts_response_payload = kind != "events_api"
        envelope = {
            "envelope_id": secrets.token_hex(16),
            "type": kind,
            "payload": payload,
            "accepts_response_payload": accepts_response_payload,
            "retry_attempt": 0,
            "retry_reason": "",
        }
        self.sent.append(envelope)
        future = asyncio.run_coroutine_threadsafe(self._send(envelope, timeout), self._loop)
        return future.result(timeout + 5)

    async def _send(self, envelope: dict[str, Any], timeout: float) -> Ack:
        if not self._state.sockets:
            raise RuntimeError("no app is connected")
        waiter: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._state.acks[envelope["envelope_id"]] = waiter
        await self._state.sockets[-1].send_str(json.dumps(envelope))
        try:
            ack = await asyncio.wait_for(waiter, timeout)
        except TimeoutError:
            self._state.acks.pop(envelope["envelope_id"], None)
            return Ack(envelope["envelope_id"], None)
        payload = ack.get("payload")
        return Ack(envelope["envelope_id"], payload if isinstance(payload, dict) else {})

    def disconnect(self, reason: str = "refresh_requested") -> None:
        """Ask the app to reconnect, as Slack does every few hours."""
        if self._loop is None:
            raise RuntimeError("the Socket Mode stand-in is not running")
        message = {
            "type": "disconnect",
            "reason": reason,
            "debug_info": {"host": "applink-standin"},
        }

        async def send() -> None:
            for ws in list(self._state.sockets):
                await ws.send_str(json.dumps(message))

        asyncio.run_coroutine_threadsafe(send(), self._loop).result(10)


def envelope_for(body: bytes, content_type: str) -> tuple[str, dict[str, Any]]:
    """The Socket Mode envelope type and payload Slack sends for what it would have
    POSTed over HTTP: an event's JSON body as is; a slash command's form fields as a
    dict of strings; an interaction's `payload` field, parsed."""
    from urllib.parse import parse_qs

    if content_type.startswith("application/json"):
        payload = json.loads(body)
        if payload.get("type") == "url_verification":
            raise ValueError("url_verification is HTTP-only; Socket Mode has no request URL")
        return "events_api", payload
    fields = {k: v[0] for k, v in parse_qs(body.decode(), keep_blank_values=True).items()}
    if "payload" in fields:
        return "interactive", json.loads(fields["payload"])
    if "command" in fields:
        return "slash_commands", fields
    raise ValueError("not a Slack request body")
