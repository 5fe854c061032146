"""`feedback-loop demo`: the real app against a local Slack stand-in, no tokens needed.

It serves the real bot over HTTP, posts a closed-lost deal into a deals channel as a
signed Slack event, and prints what the rep receives."""

from __future__ import annotations

import logging
import secrets
import tempfile
import textwrap
import threading
from pathlib import Path
from typing import Any

from bot.messages.blocks import Block

WIDTH = 72


def render_blocks(blocks: list[Block]) -> str:
    """Block Kit as a person would roughly see it, in a terminal."""
    out: list[str] = []
    for block in blocks:
        kind = block.get("type")
        if kind == "header":
            title = block["text"]["text"]
            out += ["", title.upper(), "=" * min(len(title), WIDTH)]
        elif kind == "section":
            text = (block.get("text") or {}).get("text", "")
            for para in text.split("\n"):
                out += textwrap.wrap(para, WIDTH) or [""]
            for f in block.get("fields") or []:
                out += textwrap.wrap(f["text"].replace("\n", ": "), WIDTH)
            out.append("")
        elif kind == "context":
            for el in block.get("elements", []):
                out += ["  " + line for line in textwrap.wrap(el.get("text", ""), WIDTH - 2)]
            out.append("")
        elif kind == "actions":
            labels = [
                f"[ {el['text']['text']} ]"
                for el in block.get("elements", [])
                if el.get("type") == "button"
            ]
            out += textwrap.wrap("  ".join(labels), WIDTH) + [""]
        elif kind == "divider":
            out.append("-" * WIDTH)
    return "\n".join(out).rstrip()


def _print_dm(title: str, body: dict[str, Any]) -> None:
    print(f"\n+{'-' * (WIDTH + 2)}+")
    print(f"| {title:<{WIDTH}} |")
    print(f"+{'-' * (WIDTH + 2)}+")
    print(textwrap.indent(render_blocks(body.get("blocks") or []), "  "))
    print(f"\n  (notification text: {body.get('text')!r})")


def run_demo(*, verbose: bool = False) -> int:
    from bot.app import build_app
    from bot.devkit.requests import SlackRequests
    from bot.devkit.standin import SlackStandIn
    from bot.runtime import build_runtime
    from bot.server import SlackASGI, bind_socket, make_server
    from bot.settings import load_settings

    logging.basicConfig(level=logging.INFO if verbose else logging.ERROR)
    secret = secrets.token_hex(16)
    with tempfile.TemporaryDirectory(prefix="feedback-loop-demo-") as tmp, SlackStandIn() as slack:
        slack.add_user(
            "U0RITA",
            name="rita",
            real_name="Rita Reyes",
            email="rita@acme.test",
            tz="America/New_York",
            locale="en-US",
        )
        slack.add_user(
            "U0MAYA",
            name="maya",
            real_name="Maya Manager",
            email="maya@acme.test",
            tz="America/New_York",
            locale="en-US",
        )
        slack.add_channel("C0DEALS", "deals")
        # The stand-in's default Do Not Disturb hours are 22:00-08:00 in New York, and
        # the bot holds nudges during them: off, so the demo shows the DM at any hour.
        for user in ("U0RITA", "U0MAYA"):
            slack.set_dnd(user, dnd_enabled=False)
        settings = load_settings(
            {
                "SLACK_BOT_TOKEN": slack.token,
                "SLACK_SIGNING_SECRET": secret,
                "SLACK_API_URL": slack.api_url,
                "DATABASE_URL": f"sqlite:///{Path(tmp) / 'demo.db'}",
                "DEALS_CHANNELS": "C0DEALS",
                "LOG_LEVEL": "INFO" if verbose else "ERROR",
            },
            env_file=None,
        )
        rt = build_runtime(settings)
        asgi = SlackASGI(rt, build_app(rt), run_dispatcher=False)
        sock = bind_socket()
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/slack/events"
        server = make_server(asgi, host="127.0.0.1", log_level="error")
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        if not asgi.started.wait(15):
            print("demo: the bot did not start (run with --verbose to see why)")
            return 1
        try:
            requests = SlackRequests(secret, response_url_base=slack.base_url)
            text = "Closed Lost: Globex ($48,000) — owner <@U0RITA>"
            print("Feedback Loop demo: the real bot, talking to a local Slack stand-in.\n")
            print(f"1. Maya posts in #deals:  {text}")
            result = requests.event_request(
                requests.message_event(text, channel="C0DEALS", user="U0MAYA")
            ).post(url)
            print(f"   Slack event delivered, signed; the bot answered HTTP {result.status}.")
            rt.background.wait_idle(15)
            posts = [c for c in slack.calls_to("chat.postMessage") if c.response.get("ok")]
            if not posts:
                print("demo: no DM was sent (run with --verbose to see why)")
                return 1
            print("2. Rita, the rep, gets this direct message from Feedback Loop:")
            _print_dm("Feedback Loop -> @rita (DM)", posts[0].body)
            dm = posts[0]
            message = {**dm.response.get("message", {}), "blocks": dm.body.get("blocks")}
            before = len(slack.calls)
            requests.block_action(
                "loss_mode_helped",
                user="U0RITA",
                channel=str(dm.response.get("channel")),
                message=message,
                response_url=slack.response_url("actions"),
            ).post(url)
            rt.background.wait_idle(15)
            replies = [
                c
                for c in slack.calls[before:]
                if c.method in ("chat.postMessage", "chat.update", "response_url")
                and c.body.get("blocks")
            ]
            if replies:
                print("\n3. Rita clicks [ Helped ] and the debrief goes straight to the plan:")
                for reply in replies:
                    _print_dm("Feedback Loop -> @rita (DM)", reply.body)
            help_resp = requests.slash_command("help", user="U0RITA").post(url)
            print("\n4. Rita types `/loop help` and sees (only she can see this):")
            _print_dm("/loop help (ephemeral)", help_resp.json())
            print(
                "\nWeb API calls the bot made:", ", ".join(sorted({c.method for c in slack.calls}))
            )
            print("Connect it to your workspace: see README.md, 'Install in Slack'.")
            return 0
        finally:
            server.should_exit = True
            thread.join(10)
            sock.close()
            rt.engine.dispose()
