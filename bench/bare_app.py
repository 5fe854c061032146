"""The yardstick for `bench/ack`: a Bolt app that does nothing but ack, served like ours.

Same settings (read from the same environment), the same Web API client, the same
`AsyncApp` options and the same uvicorn configuration (`bot.server.make_server`), so the
only difference from the real bot is what the listeners do before the response.

    python bench/bare_app.py --port 3101
"""

from __future__ import annotations

import argparse
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.adapter.asgi.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.cli import configure_logging
from bot.runtime import make_client
from bot.server import make_server
from bot.settings import load_settings

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

HEALTHY = json.dumps({"ok": True}).encode()


def build_bare_app() -> AsyncApp:
    settings = load_settings(env_file=None)
    app = AsyncApp(
        client=make_client(settings),
        signing_secret=settings.slack_signing_secret or "",
        # The options bot/app.py uses, so Bolt does the same work per request here.
        process_before_response=True,
        request_verification_enabled=True,
        logger=logging.getLogger("slack_bolt"),
    )

    @app.command("/loop")
    async def loop_command(ack: AsyncAck) -> None:
        await ack(text="ok", response_type="ephemeral")

    # Bolt acks events itself (auto-acknowledgement), exactly as for the bot's own
    # "ignore other messages" listener, so there is nothing left to do here.
    @app.event("message")
    async def any_message(event: dict[str, Any]) -> None:
        return None

    return app


class BareASGI:
    """Routes like bot.server.SlackASGI (`/healthz`, else Bolt), minus the database."""

    def __init__(self, app: AsyncApp) -> None:
        self.slack = AsyncSlackRequestHandler(app, path="/slack/events")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/healthz":
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(HEALTHY)).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": HEALTHY})
        else:
            # Bolt's adapter answers the lifespan messages itself.
            await self.slack(scope, receive, send)


def main() -> int:
    parser = argparse.ArgumentParser(description="A Bolt app that only acks (bench baseline).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    configure_logging(load_settings(env_file=None).log_level)
    app = build_bare_app()
    # make_server is typed for SlackASGI, but it only hands the callable to uvicorn; using
    # it keeps the server configuration identical to the bot's by construction.
    server = make_server(
        BareASGI(app),  # type: ignore[arg-type]
        host=args.host,
        port=args.port,
        log_level=logging.getLevelName(logging.getLogger().level),
    )
    server.run()
    return 0 if server.started else 1


if __name__ == "__main__":
    raise SystemExit(main())
