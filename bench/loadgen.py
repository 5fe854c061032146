"""The load half of `bench/ack`: fires signed Slack requests at one server and measures.

    SLACK_SIGNING_SECRET=... python bench/loadgen.py --url http://127.0.0.1:3000/slack/events

Runs as its own process (bench/ack.py starts one per round) so the client never shares
a GIL with the server it measures. Prints one JSON object on stdout: the raw latencies
per request kind, error counts and CPU time, which bench/ack.py pools over rounds. Stops
by itself: every phase is bounded in time, and in count when --requests is given.

The workload is a mix of `/loop help` slash commands and `message` events in a channel
that is not a deals channel: the two requests the bot only has to acknowledge.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from bot.devkit.requests import SlackRequest, SlackRequests

KINDS = ("command", "event")
# Bolt rejects a signature whose timestamp is over five minutes old; staying well under
# that leaves room for the warm-up and for requests signed ahead of the timed phase.
MAX_PHASE_SECONDS = 120.0
MAX_REQUESTS = 500_000
REQUEST_TIMEOUT = 10.0
CHANNEL = "C0RANDOM"  # not in DEALS_CHANNELS, so the bot only acks its messages


def team_id(i: int) -> str:
    """The i-th of bench/oauth.py's workspaces, its bot user and its one member."""
    return f"T{i:06d}"


def bot_user_of(i: int) -> str:
    return f"U{i:06d}BOT"


def rep_of(i: int) -> str:
    return f"U{i:06d}R"


def member_of(j: int) -> str:
    """The j-th member of the one-workspace run (bench/oauth.py)."""
    return f"U{j:06d}M"


@dataclass
class Sample:
    kind: str
    latency: float
    end: float


@dataclass
class Phase:
    samples: list[Sample] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    started: float = 0.0
    ended: float = 0.0
    signed_late: int = 0


class Workload:
    """Signed requests, kinds in a seeded pseudo-random order (the same for each server)."""

    def __init__(
        self,
        secret: str,
        response_url_base: str,
        users: list[str],
        mix: float,
        seed: int,
        teams: int = 0,
        members: int = 1,
    ) -> None:
        self.slack = SlackRequests(secret, response_url_base=response_url_base)
        self.users = users
        self.mix = mix
        self.rng = random.Random(seed)
        # `teams` > 0 (OAuth mode, bench/oauth.py): each request comes from one of that
        # many workspaces, picked at random, by that workspace's own member.
        self.teams = [
            (
                SlackRequests(
                    secret,
                    team_id=team_id(i),
                    bot_user_id=bot_user_of(i),
                    bot_id="B" + bot_user_of(i)[1:],
                    response_url_base=response_url_base,
                ),
                rep_of(i),
            )
            for i in range(teams)
        ]
        if teams == 1 and members > 1:
            # One workspace, as many people as the many-workspace run has.
            self.teams = [(self.teams[0][0], member_of(j)) for j in range(members)]

    def next(self) -> tuple[str, SlackRequest]:
        # Each request gets its own timestamp, ids and signature, as Slack sends them.
        if self.teams:
            slack, user = self.rng.choice(self.teams)
        else:
            slack, user = self.slack, self.rng.choice(self.users)
        if self.rng.random() < self.mix:
            return "command", slack.slash_command("help", user=user, channel=CHANNEL)
        event = slack.message_event("lunch at noon?", channel=CHANNEL, user=user)
        return "event", slack.event_request(event)

    def batch(self, n: int) -> list[tuple[str, SlackRequest]]:
        return [self.next() for _ in range(n)]


async def send(
    session: aiohttp.ClientSession, url: str, kind: str, req: SlackRequest, phase: Phase
) -> None:
    start = time.perf_counter()
    error = None
    try:
        async with session.post(url, data=req.body, headers=req.headers) as resp:
            await resp.read()
            if resp.status != 200:
                error = f"HTTP {resp.status}"
    except (TimeoutError, aiohttp.ClientError) as e:
        error = type(e).__name__
    end = time.perf_counter()
    # Failed requests keep their latency: a timeout is part of what Slack would see.
    phase.samples.append(Sample(kind, end - start, end))
    if error is not None:
        key = f"{kind}: {error}"
        phase.errors[key] = phase.errors.get(key, 0) + 1


async def run_phase(
    session: aiohttp.ClientSession,
    url: str,
    concurrency: int,
    *,
    seconds: float,
    workload: Workload,
    pool: list[tuple[str, SlackRequest]] | None = None,
    top_up: bool = True,
) -> Phase:
    """C workers, each with one request in flight at a time (a closed loop, like Slack's
    connections), until the deadline; with `top_up=False`, also until the pre-signed pool
    runs out (a count-bounded run). Without a pool (the warm-up) requests are signed on
    the fly: the warm-up's latencies are thrown away anyway."""
    phase = Phase()
    it = iter(pool) if pool is not None else None
    deadline = time.perf_counter() + min(seconds, MAX_PHASE_SECONDS)

    async def worker() -> None:
        while time.perf_counter() < deadline:
            item = next(it, None) if it is not None else None
            if item is None:
                if it is not None and not top_up:
                    return
                if it is not None:
                    # The server outran the pool: keep going, signing on the fly, and
                    # say so in the report rather than cut the measured time short.
                    phase.signed_late += 1
                item = workload.next()
            await send(session, url, item[0], item[1], phase)

    phase.started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    phase.ended = time.perf_counter()
    return phase


def steady_rate(phase: Phase) -> float:
    """Requests/s over the second half of a phase, once connections are open and warm."""
    middle = (phase.started + phase.ended) / 2
    done = sum(1 for s in phase.samples if s.end >= middle)
    return done / max(phase.ended - middle, 1e-6)


def _stat(pid: int | str) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            # The command name may hold spaces and parentheses; fields follow the last ")".
            return f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a server and its child processes (uvicorn --workers
    serves from children), from /proc (Linux); None elsewhere."""
    own = _stat(pid)
    if own is None:
        return None
    try:
        ticks = int(own[11]) + int(own[12])
        for entry in os.listdir("/proc"):
            child = _stat(entry) if entry.isdigit() else None
            if child is not None and child[1] == str(pid):
                ticks += int(child[11]) + int(child[12])
    except (OSError, IndexError, ValueError):
        return None
    return ticks / os.sysconf("SC_CLK_TCK")


async def measure(args: argparse.Namespace) -> dict[str, Any]:
    secret = os.environ["SLACK_SIGNING_SECRET"]
    users = [u for u in args.users.split(",") if u]
    workload = Workload(
        secret, args.response_url_base, users, args.mix, args.seed, args.teams, args.members
    )
    connector = aiohttp.TCPConnector(limit=args.concurrency, keepalive_timeout=60)
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        # One request on its own first: Bolt calls auth.test on the first request it
        # authorizes and caches the answer, but C requests at once would each make that
        # call, and that stampede on the stand-in is start-up noise, not ack speed.
        warm = Phase()
        kind, req = workload.next()
        await send(session, args.url, kind, req, warm)
        rest = await run_phase(
            session, args.url, args.concurrency, seconds=args.warmup, workload=workload
        )
        warm.errors.update(rest.errors)
        if args.requests:
            n = min(args.requests, MAX_REQUESTS)
        else:
            # Sign ahead so signing does not compete with sending for the client's CPU;
            # twice the warm-up's rate leaves room for a server that speeds up.
            rate = steady_rate(rest)
            n = min(MAX_REQUESTS, int(rate * args.seconds * 2) + 4 * args.concurrency)
        pool = workload.batch(n)

        server_cpu0 = cpu_seconds(args.server_pid) if args.server_pid else None
        client_cpu0 = time.process_time()
        timed = await run_phase(
            session,
            args.url,
            args.concurrency,
            seconds=MAX_PHASE_SECONDS if args.requests else args.seconds,
            workload=workload,
            pool=pool,
            top_up=not args.requests,
        )
        client_cpu = time.process_time() - client_cpu0
        server_cpu1 = cpu_seconds(args.server_pid) if args.server_pid else None

    return {
        "elapsed": timed.ended - timed.started,
        "warmup_requests": len(rest.samples) + 1,
        "signed_late": timed.signed_late,
        # Whole microseconds, raw, so bench/ack.py can pool rounds before taking
        # percentiles (an average of per-round p99s is not a p99).
        "latencies_us": {
            kind: [round(s.latency * 1e6) for s in timed.samples if s.kind == kind]
            for kind in KINDS
        },
        "errors": timed.errors,
        "warmup_errors": warm.errors,
        "client_cpu_seconds": client_cpu,
        "server_cpu_seconds": (
            None if server_cpu0 is None or server_cpu1 is None else server_cpu1 - server_cpu0
        ),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description="Load one Slack app server (see bench/ack.py).")
    parser.add_argument("--url", required=True, help="the server's /slack/events URL")
    # Where the requests' response_url points; `/loop help` never posts to it, and the
    # default (loopback, discard port) keeps any stray post on this machine.
    parser.add_argument("--response-url-base", default="http://127.0.0.1:9")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--requests", type=int, default=0)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--mix", type=float, default=0.5, help="share of slash commands")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--users", default="U0REP1", help="comma-separated Slack user ids")
    parser.add_argument("--server-pid", type=int, default=0)
    parser.add_argument(
        "--teams", type=int, default=0, help="OAuth mode: requests from this many workspaces"
    )
    parser.add_argument(
        "--members", type=int, default=1, help="with --teams 1: that many people in it"
    )
    args = parser.parse_args()
    json.dump(asyncio.run(measure(args)), sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
