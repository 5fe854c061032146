"""`bench/oauth.py`: what serving many workspaces (OAuth mode) costs.

1. Ack throughput with 100 installed workspaces versus one: signed `/loop help`
   commands, each from a workspace picked at random, through the Bolt app's own
   dispatch (in this process, no HTTP: the part OAuth mode changes is the authorize
   step and the team-aware client). Target: 100 workspaces within 10 % of one.
2. Dispatcher throughput across 100 workspaces: NUDGES nudges spread over them, all due,
   sent to the local Slack stand-in at SEND_RATE per workspace (each workspace paced on
   its own), every send with its own workspace's token (the stand-in refuses a token on
   another workspace's user).

    python bench/oauth.py                       # 3 rounds of 3,000 commands; 2,000 nudges
    python bench/oauth.py --commands 5000 --nudges 5000
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from slack_bolt.request.async_request import AsyncBoltRequest  # noqa: E402
from slack_sdk.oauth.installation_store.models.installation import Installation  # noqa: E402
from sqlalchemy import insert  # noqa: E402

from bot.app import build_app  # noqa: E402
from bot.devkit.requests import SlackRequests  # noqa: E402
from bot.devkit.standin import SlackStandIn  # noqa: E402
from bot.nudges.delivery import Message, register_kind  # noqa: E402
from bot.nudges.dispatcher import dispatch_state, drain  # noqa: E402
from bot.nudges.registry import KindPolicy  # noqa: E402
from bot.runtime import Runtime, build_runtime  # noqa: E402
from bot.settings import load_settings  # noqa: E402
from storage.db import create_db_and_tables, make_engine  # noqa: E402
from storage.models import Nudge, Person  # noqa: E402

SECRET = "bench-signing-secret-0123456789"


def team_id(i: int) -> str:
    return f"T{i:06d}"


def rep_of(i: int) -> str:
    return f"U{i:06d}R"


def runtime(standin: SlackStandIn, db: Path, teams: int) -> Runtime:
    url = f"sqlite:///{db}"
    engine = make_engine(url)
    create_db_and_tables(engine)
    env = {
        "SLACK_CLIENT_ID": standin.client_id,
        "SLACK_CLIENT_SECRET": standin.client_secret,
        "SLACK_STATE_SECRET": "bench-state-secret-0123456789",
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": standin.api_url,
        "DATABASE_URL": url,
        "LOG_LEVEL": "WARNING",
    }
    settings = dataclasses.replace(load_settings(env, env_file=None), send_rate_per_second=5.0)
    rt = build_runtime(settings, engine=engine)
    assert rt.tokens is not None
    for i in range(teams):
        team = team_id(i)
        if team not in standin.teams:
            standin.add_team(team, f"Workspace {i}")
            standin.add_user(rep_of(i), team_id=team)
            standin.set_dnd(rep_of(i), dnd_enabled=False)
        code = standin.consent(team, rep_of(i))
        resp = _exchange(standin, code)
        rt.tokens.store.save(
            Installation(
                app_id=standin.app_id,
                team_id=team,
                team_name=f"Workspace {i}",
                bot_token=resp["access_token"],
                bot_refresh_token=resp["refresh_token"],
                bot_token_expires_at=int(time.time()) + int(resp["expires_in"]),
                bot_id=standin.teams[team]["bot_id"],
                bot_user_id=standin.teams[team]["bot_user_id"],
                bot_scopes=resp["scope"],
                user_id=rep_of(i),
                installed_at=time.time(),
            )
        )
    return rt


def _exchange(standin: SlackStandIn, code: str) -> dict[str, str]:
    from slack_sdk import WebClient

    client = WebClient(base_url=standin.api_url)
    resp = client.oauth_v2_access(
        client_id=standin.client_id, client_secret=standin.client_secret, code=code
    )
    return dict(resp.data)  # type: ignore[arg-type]


async def acks(rt: Runtime, teams: int, commands: int) -> float:
    app = build_app(rt)
    makers = [
        SlackRequests(
            SECRET,
            team_id=team_id(i),
            bot_user_id=f"U{team_id(i)[1:]}BOT",
        )
        for i in range(teams)
    ]
    rng = random.Random(7)
    requests = []
    for _ in range(commands):
        i = rng.randrange(teams)
        req = makers[i].slash_command("help", user=rep_of(i))
        requests.append(req)
    # Warm the caches (first look-up per workspace) as a running server would be.
    for i in range(teams):
        await app.async_dispatch(_bolt(makers[i].slash_command("help", user=rep_of(i))))
    started = time.perf_counter()
    for req in requests:
        resp = await app.async_dispatch(_bolt(req))
        assert resp.status == 200, resp.body
    return commands / (time.perf_counter() - started)


def _bolt(req: object) -> AsyncBoltRequest:
    body = req.body  # type: ignore[attr-defined]
    headers = req.headers  # type: ignore[attr-defined]
    text = body.decode() if isinstance(body, bytes) else str(body)
    return AsyncBoltRequest(body=text, headers={k.lower(): v for k, v in headers.items()})


async def dispatch(
    rt: Runtime, standin: SlackStandIn, teams: int, nudges: int
) -> tuple[float, int]:
    async def render(rt: Runtime, nudge: Nudge, person: Person) -> Message:
        return Message(text="bench " + nudge.idempotency_key)

    register_kind(rt, "bench", render, policy=KindPolicy(respects_quiet=False))
    now = datetime.now(UTC)
    people = [
        {
            "team_id": team_id(i),
            "slack_id": rep_of(i),
            "tz": "UTC",
            "locale": "en-US",
            "refreshed_at": now,
            "created_at": now,
        }
        for i in range(teams)
    ]
    rows = [
        {
            "team_id": team_id(n % teams),
            "user_slack_id": rep_of(n % teams),
            "kind": "bench",
            "payload": {},
            "due_at": now,
            "idempotency_key": f"bench:{uuid.uuid4().hex}",
            "state": "pending",
            "created_at": now,
            "updated_at": now,
        }
        for n in range(nudges)
    ]
    with rt.engine.begin() as conn:
        conn.execute(insert(Person), people)
        conn.execute(insert(Nudge), rows)
    standin.reset_calls()
    started = time.perf_counter()
    await drain(rt)
    seconds = time.perf_counter() - started
    sent = dispatch_state(rt).sent
    posts = standin.calls_to("chat.postMessage")
    refused = [c for c in posts if not c.ok]
    assert not refused, refused[:3]
    return sent / seconds, sent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--commands", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--nudges", type=int, default=2000)
    parser.add_argument("--workspaces", type=int, default=100)
    args = parser.parse_args(argv)
    with SlackStandIn(validate_blocks=False) as standin, tempfile.TemporaryDirectory() as tmp:
        standin.on_call = None
        figures: dict[int, list[float]] = {1: [], args.workspaces: []}
        for r in range(args.rounds):
            for n in (1, args.workspaces):
                rt = runtime(standin, Path(tmp) / f"acks-{n}-{r}.db", n)
                figures[n].append(asyncio.run(acks(rt, n, args.commands)))
                rt.engine.dispose()
        one = statistics.median(figures[1])
        many = statistics.median(figures[args.workspaces])
        print(f"acks, 1 workspace:    {one:8.0f} /s  (rounds: {[round(x) for x in figures[1]]})")
        print(
            f"acks, {args.workspaces} workspaces: {many:8.0f} /s  "
            f"(rounds: {[round(x) for x in figures[args.workspaces]]})"
        )
        ratio = many / one
        print(f"ratio {ratio:.2f}: {'PASS' if ratio >= 0.9 else 'FAIL'} (target >= 0.90)")

        rt = runtime(standin, Path(tmp) / "dispatch.db", args.workspaces)
        rate, sent = asyncio.run(dispatch(rt, standin, args.workspaces, args.nudges))
        rt.engine.dispose()
        print(
            f"dispatcher, {args.workspaces} workspaces at 5/s each: {sent} sent, {rate:.0f} /s, "
            "every post with its own workspace's token"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
