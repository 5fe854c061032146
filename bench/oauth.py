"""`bench/oauth.py`: what serving many workspaces (OAuth mode) costs.

1. Ack throughput with 100 installed workspaces versus one: the real server
   (`feedback-loop run --http`, OAuth mode, DISPATCHER=off) under bench/ack's load
   generator, signed `/loop help` commands and channel messages, each from a workspace
   picked at random; the two servers take turns, round by round, as in bench/ack.
   Target: 100 workspaces within 10 % of one (requests/s, and per server CPU-second).
2. Dispatcher throughput across 100 workspaces: NUDGES nudges spread over them, all due,
   sent to the local Slack stand-in at SEND_RATE per workspace (each workspace paced on
   its own), every send with its own workspace's token (the stand-in refuses a token on
   another workspace's user).

    python bench/oauth.py                       # 3 rounds x 5 s per server; 2,000 nudges
    python bench/oauth.py --seconds 30 --nudges 5000
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import math
import os
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from slack_sdk.oauth.installation_store.models.installation import Installation  # noqa: E402
from sqlalchemy import insert  # noqa: E402

from bot.devkit.standin import SlackStandIn  # noqa: E402
from bot.nudges.delivery import Message, register_kind  # noqa: E402
from bot.nudges.dispatcher import dispatch_state, drain  # noqa: E402
from bot.nudges.registry import KindPolicy  # noqa: E402
from bot.runtime import Runtime, build_runtime  # noqa: E402
from bot.settings import load_settings  # noqa: E402
from storage.db import create_db_and_tables, make_engine  # noqa: E402
from storage.installations import InstallationStore  # noqa: E402
from storage.models import Nudge, Person  # noqa: E402

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
from ack import Pooled, Server, free_port  # noqa: E402
from loadgen import member_of, rep_of, team_id  # noqa: E402

SECRET = "bench-signing-secret-0123456789"
STATE_SECRET = "bench-state-secret-0123456789"


def oauth_env(standin: SlackStandIn, url: str) -> dict[str, str]:
    return {
        "SLACK_BOT_TOKEN": "",
        "SLACK_APP_TOKEN": "",
        "SCRIPTS_DIR": "",
        "SLACK_CLIENT_ID": standin.client_id,
        "SLACK_CLIENT_SECRET": standin.client_secret,
        "SLACK_STATE_SECRET": STATE_SECRET,
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": standin.api_url,
        "DATABASE_URL": url,
        "LOG_LEVEL": "WARNING",
    }


def install_all(standin: SlackStandIn, url: str, teams: int, members: int = 1) -> None:
    """`teams` workspaces installed (through the stand-in's code exchange, as the flow
    does), each with one member (or, for one workspace, `members`); the database made
    first. Both runs have the same number of people, so only the workspaces differ."""
    engine = make_engine(url)
    create_db_and_tables(engine)
    store = InstallationStore(standin.client_id, engine)
    for i in range(teams):
        team = team_id(i)
        if team not in standin.teams:
            standin.add_team(team, f"Workspace {i}")
            standin.add_user(rep_of(i), team_id=team)
            standin.set_dnd(rep_of(i), dnd_enabled=False)
        if teams == 1:
            for j in range(members):
                standin.add_user(member_of(j), team_id=team)
        resp = _exchange(standin, standin.consent(team, rep_of(i)))
        store.save(
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
    engine.dispose()


def _exchange(standin: SlackStandIn, code: str) -> dict[str, str]:
    from slack_sdk import WebClient

    client = WebClient(base_url=standin.api_url)
    resp = client.oauth_v2_access(
        client_id=standin.client_id, client_secret=standin.client_secret, code=code
    )
    return dict(resp.data)  # type: ignore[arg-type]


def load_round(server: Server, teams: int, args: argparse.Namespace, standin_url: str) -> dict:
    argv = [
        sys.executable,
        str(BENCH / "loadgen.py"),
        *("--url", server.url, "--response-url-base", standin_url),
        *("--seconds", str(args.seconds / args.rounds), "--warmup", "1"),
        *("--concurrency", str(args.concurrency), "--server-pid", str(server.proc.pid)),
        *("--teams", str(teams), "--members", str(args.workspaces)),
    ]
    env = {**os.environ, "SLACK_SIGNING_SECRET": SECRET}
    out = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300, check=True)
    return dict(json.loads(out.stdout))


def ack_rounds(standin: SlackStandIn, tmp: Path, args: argparse.Namespace) -> bool:
    sizes = (1, args.workspaces)
    pooled = {n: Pooled() for n in sizes}
    running: dict[int, Server] = {}
    try:
        for n in sizes:
            url = f"sqlite:///{tmp / f'acks-{n}.db'}"
            install_all(standin, url, n, members=args.workspaces)
            env = {**os.environ, **oauth_env(standin, url), "DISPATCHER": "off"}
            env.pop("PYTHONDEVMODE", None)
            running[n] = start_server(f"ws{n}", env, tmp)
        for server in running.values():
            server.wait_healthy()
        for server in running.values():
            server.pause()
        for r in range(args.rounds):
            for n in sizes:
                running[n].resume()
                pooled[n].add(load_round(running[n], n, args, standin.base_url))
                running[n].pause()
                rps = pooled[n].round_rps[-1]
                print(f"  round {r + 1}: {n:3d} workspace(s) {rps:7.0f} req/s", flush=True)
    finally:
        for server in running.values():
            server.stop()
    one, many = pooled[1].stats("all"), pooled[args.workspaces].stats("all")
    for n, st in ((1, one), (args.workspaces, many)):
        per_cpu = pooled[n].requests_per_cpu_second()
        cpu = f"{per_cpu:,.0f} req per server CPU-s" if per_cpu else "server CPU n/a"
        print(
            f"acks, {n:3d} workspace(s): {st['rps']:7.0f} req/s, p50 {st['p50_ms']:.1f} ms, "
            f"p99 {st['p99_ms']:.1f} ms, {st['errors']} errors; {cpu}"
        )
    ratio = many["rps"] / one["rps"]
    cpu_one = pooled[1].requests_per_cpu_second()
    cpu_many = pooled[args.workspaces].requests_per_cpu_second()
    cpu_ratio = cpu_many / cpu_one if cpu_one and cpu_many else math.nan
    ok = ratio >= 0.9 and not many["errors"]
    print(
        f"throughput {args.workspaces} / 1: {ratio:.2f} (per CPU-second {cpu_ratio:.2f}): "
        f"{'PASS' if ok else 'FAIL'} (target >= 0.90)"
    )
    return ok


def start_server(name: str, env: dict[str, str], cwd: Path) -> Server:
    port = free_port()
    argv = [sys.executable, "-m", "bot.cli", "run", "--http", "--host", "127.0.0.1"]
    return Server(name, [*argv, "--port", str(port)], port, env, cwd)


def runtime(standin: SlackStandIn, db: Path, teams: int) -> Runtime:
    url = f"sqlite:///{db}"
    install_all(standin, url, teams)
    settings = dataclasses.replace(
        load_settings(oauth_env(standin, url), env_file=None), send_rate_per_second=5.0
    )
    return build_runtime(settings)


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
    parser.add_argument("--seconds", type=float, default=15.0, help="per server, all rounds")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--nudges", type=int, default=2000)
    parser.add_argument("--workspaces", type=int, default=100)
    args = parser.parse_args(argv)
    with SlackStandIn(validate_blocks=False) as standin, tempfile.TemporaryDirectory() as tmp:
        ok = ack_rounds(standin, Path(tmp), args)
        rt = runtime(standin, Path(tmp) / "dispatch.db", args.workspaces)
        rate, sent = asyncio.run(dispatch(rt, standin, args.workspaces, args.nudges))
        rt.engine.dispose()
        print(
            f"dispatcher, {args.workspaces} workspaces at 5/s each: {sent} sent, {rate:.0f} /s, "
            "every post with its own workspace's token"
        )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
