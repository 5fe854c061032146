"""`bench/ack`: how fast does the bot acknowledge Slack, next to a Bolt app that only acks?

Starts a local Slack stand-in, then the real bot (`python -m bot.cli run --http`) and a
bare Bolt app (bench/bare_app.py: same client, options and uvicorn configuration), each
in its own process on 127.0.0.1, and fires the same workload at each from a third process
(bench/loadgen.py): signed `/loop help` commands and `message` events in a channel that
is not a deals channel, over C keep-alive connections. Prints requests/s, p50 and p99 per
server and per kind, the ratios, and PASS/FAIL against the targets:

    p99 ours / bare        <= 1.3
    throughput ours / bare >= 0.75

    bench/ack                              # 3 rounds x 5 s per server, 64 connections
    bench/ack --seconds 10 --concurrency 32
    bench/ack --requests 20000 --only ours

The servers take turns (ours, bare, ours, bare, ...) and each one's rounds are pooled, so
a burst of other work on the machine lands on both rather than on whichever ran second.
The environment is passed on to both servers, so an alternative stack can be tried without
code changes (uvicorn uses uvloop and httptools when they are installed).

    bench/ack --dispatcher-busy            # does a busy dispatcher slow the acks down?

`--dispatcher-busy` compares the bot with itself instead: two copies of the same server
on two copies of one database (1,000 people, 100,000 nudges, mostly history, with a
reflection falling due every few hundred milliseconds), one ticking every second
(`on`), one whose only tick is the catch-up at start-up (`off`, TICK_SECONDS=3600).
The `on` one really sends to the stand-in between and during its rounds. The server
whose turn it is not is stopped (SIGSTOP), so its work never lands on the other's
rounds. Target: `/loop help` p99 with ticks on within 1.3x of off.

Both run the bot's default arrangement, the dispatcher in a child process of the server
(DISPATCHER=process; it is in the server's process group, so SIGSTOP pauses it too).
`DISPATCHER=inline bench/ack --dispatcher-busy` measures the one-process arrangement.
The server CPU printed is the HTTP process's own, not its dispatcher child's.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from bot.devkit.standin import SlackStandIn
from storage.db import create_db_and_tables, make_engine
from storage.models import Nudge, Person

BENCH = Path(__file__).resolve().parent
KINDS = ("command", "event")
# The people typing `/loop help`: real workspace members (so the bot can look up their
# language once and then answer from memory, as in production), in three languages.
USERS = {
    "U0REP1": ("America/New_York", "en-US"),
    "U0REP2": ("Europe/Paris", "fr-FR"),
    "U0REP3": ("Europe/Madrid", "es-ES"),
    "U0REP4": ("America/Chicago", "en-US"),
}
P99_TARGET = 1.3
# --dispatcher-busy: the data set. History rows are spread over these kinds and states.
BUSY_HISTORY_KINDS = ("reflection", "weekly_digest", "deal_dm")
BUSY_HISTORY_STATES = ("sent", "sent", "sent", "skipped")
# The first reflection falls due this long after seeding: after both servers started,
# so the `off` one's only tick (at start-up) finds nothing due.
BUSY_LEAD_SECONDS = 15.0
BUSY_ZONES = ("America/New_York", "Europe/Paris", "Europe/Madrid", "America/Chicago", "UTC")
THROUGHPUT_TARGET = 0.75
BUSY_ENOUGH = 0.85
START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
# Requests are signed before each round; Bolt refuses signatures over 5 minutes old.
MAX_ROUND_SECONDS = 120.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def server_env(standin: SlackStandIn, secret: str, db_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "SLACK_BOT_TOKEN": standin.token,
            "SLACK_SIGNING_SECRET": secret,
            "SLACK_API_URL": standin.api_url,
            "DATABASE_URL": f"sqlite:///{db_dir / 'bench.db'}",
            "DEALS_CHANNELS": "C0DEALS",
            "LOG_LEVEL": "WARNING",
            # A developer's own settings must not leak in: an app token would switch off
            # signature checks, and script overrides would change the help text.
            "SLACK_APP_TOKEN": "",
            "SCRIPTS_DIR": "",
        }
    )
    # Debug hooks would slow one server more than the other and skew the ratio.
    env.pop("PYTHONDEVMODE", None)
    env.pop("PYTHONTRACEMALLOC", None)
    return env


def busy_person(i: int) -> str:
    return f"U0P{i:05}"


def seed_busy(
    url: str, team_id: str, people: int, total: int, schedule: Callable[[], list[datetime]]
) -> list[datetime]:
    """1,000 people as the bot knows them (fresh profiles, so no users.info), each with
    one pending reflection and one pending weekly digest, the way the planner leaves
    them. The first people's reflections fall due at the instants `schedule()` gives
    (asked once the history is in, so slow seeding does not eat the lead), so the
    dispatcher sends throughout the run and the planner then plans their next one. The
    rest of the `total` rows are history: sent or skipped nudges of past days.
    Returns the due instants."""
    engine = make_engine(url)
    create_db_and_tables(engine)
    now = datetime.now(UTC)
    persons = [
        {
            "team_id": team_id,
            "slack_id": busy_person(i),
            "tz": BUSY_ZONES[i % len(BUSY_ZONES)],
            "locale": "en-US",
            "is_admin": False,
            "is_bot": False,
            "deleted": False,
            "paused": False,
            "reflections_off": False,
            "refreshed_at": now,
            "created_at": now,
        }
        for i in range(people)
    ]
    rows: list[dict[str, Any]] = []

    def row(
        i: int, kind: str, due: datetime, key: str, state: str, payload: dict[str, Any]
    ) -> None:
        rows.append(
            {
                "team_id": team_id,
                "user_slack_id": busy_person(i),
                "kind": kind,
                "payload": payload,
                "due_at": due,
                "idempotency_key": key,
                "state": state,
                "attempts": 1 if state != "pending" else 0,
                "sent_channel": f"D{busy_person(i)}" if state == "sent" else None,
                "sent_ts": f"{1_700_000_000 + len(rows)}.000100" if state == "sent" else None,
                "created_at": due - timedelta(days=1),
                "updated_at": due,
            }
        )

    for n in range(max(0, total - 2 * people)):
        kind = BUSY_HISTORY_KINDS[n % len(BUSY_HISTORY_KINDS)]
        state = BUSY_HISTORY_STATES[n % len(BUSY_HISTORY_STATES)]
        due = now - timedelta(days=1 + n // people, seconds=n % people)
        row(n % people, kind, due, f"history:{n}", state, {})
    with engine.begin() as conn:
        conn.execute(insert(Person), persons)
        for start in range(0, len(rows), 5000):
            conn.execute(insert(Nudge), rows[start : start + 5000])
    rows.clear()
    due_at = schedule()
    tomorrow = (now + timedelta(days=1)).date()
    monday = tomorrow + timedelta(days=7 - tomorrow.weekday())
    for i in range(people):
        due = due_at[i] if i < len(due_at) else now + timedelta(days=1, seconds=i)
        day = due.date().isoformat() if i < len(due_at) else tomorrow.isoformat()
        key = f"reflect:{team_id}:{busy_person(i)}:{day}"
        row(i, "reflection", due, key, "pending", {"local_date": day})
        week = f"{monday.isocalendar()[0]}-W{monday.isocalendar()[1]:02d}"
        sunday = monday + timedelta(days=6)
        payload = {"monday": monday.isoformat(), "sunday": sunday.isoformat()}
        due = now + timedelta(days=7, seconds=i)
        row(
            i, "weekly_digest", due, f"digest:{team_id}:{busy_person(i)}:{week}", "pending", payload
        )
    with engine.begin() as conn:
        conn.execute(insert(Nudge), rows)
    engine.dispose()
    return due_at


class Server:
    """One app server in its own process and session, so Ctrl-C reaches only us and we
    stop it in order (uvicorn finishes in-flight requests on SIGTERM)."""

    def __init__(
        self, name: str, argv: list[str], port: int, env: dict[str, str], cwd: Path
    ) -> None:
        self.name = name
        self.port = port
        self.url = f"http://127.0.0.1:{port}/slack/events"
        # The servers' output goes to a file, not between the progress lines; it is
        # shown when a server fails to start or a round has errors.
        self.log_path = cwd / f"{name}.log"
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                argv, env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(f"  {self.name}| {line}" for line in text.splitlines()[-lines:])

    def wait_healthy(self, timeout: float = START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        # No proxies: one from the environment would swallow requests to 127.0.0.1.
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with status {self.proc.returncode}:\n{self.log_tail()}"
                )
            try:
                url = f"http://127.0.0.1:{self.port}/healthz"
                with opener.open(url, timeout=2) as resp:
                    if resp.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.1)
        raise RuntimeError(
            f"{self.name} did not answer /healthz within {timeout:.0f} s:\n{self.log_tail()}"
        )

    def pause(self) -> None:
        """SIGSTOP: its dispatcher must not compete for the CPU with the other's rounds."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGSTOP)

    def resume(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGCONT)

    def stop(self) -> None:
        if self.proc.poll() is not None:
            return
        # A stopped process would hold SIGTERM until continued.
        self.resume()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(STOP_TIMEOUT)


def start(name: str, env: dict[str, str], cwd: Path) -> Server:
    port = free_port()
    if name in BUSY_NAMES:
        argv = [sys.executable, "-m", "bot.cli", "run", "--http"]
        env = {**env, **BUSY_NAMES[name], "DATABASE_URL": f"sqlite:///{cwd / (name + '.db')}"}
    elif name == "ours":
        argv = [sys.executable, "-m", "bot.cli", "run", "--http"]
    else:
        argv = [sys.executable, str(BENCH / "bare_app.py")]
    return Server(name, [*argv, "--host", "127.0.0.1", "--port", str(port)], port, env, cwd)


@contextlib.contextmanager
def servers(names: list[str], env: dict[str, str], cwd: Path) -> Iterator[dict[str, Server]]:
    running: dict[str, Server] = {}
    try:
        for name in names:
            running[name] = start(name, env, cwd)
        for server in running.values():
            server.wait_healthy()
        yield running
    finally:
        for server in running.values():
            server.stop()


# --dispatcher-busy: the same server, ticking every second or (as good as) never.
BUSY_NAMES = {"on": {"TICK_SECONDS": "1"}, "off": {"TICK_SECONDS": "3600"}}


@dataclass
class Pooled:
    """One server's rounds, pooled."""

    elapsed: float = 0.0
    latencies_us: dict[str, list[int]] = field(default_factory=lambda: {k: [] for k in KINDS})
    errors: dict[str, int] = field(default_factory=dict)
    warmup_errors: dict[str, int] = field(default_factory=dict)
    warmup_requests: int = 0
    signed_late: int = 0
    server_cpu: float | None = 0.0
    client_cpu: float = 0.0
    round_rps: list[float] = field(default_factory=list)
    round_command_p99_ms: list[float] = field(default_factory=list)

    def add(self, r: dict[str, Any]) -> None:
        self.elapsed += r["elapsed"]
        for kind in KINDS:
            self.latencies_us[kind] += r["latencies_us"][kind]
        for mine, theirs in ((self.errors, r["errors"]), (self.warmup_errors, r["warmup_errors"])):
            for key, count in theirs.items():
                mine[key] = mine.get(key, 0) + count
        self.warmup_requests += r["warmup_requests"]
        self.signed_late += r["signed_late"]
        cpu = r["server_cpu_seconds"]
        self.server_cpu = None if cpu is None or self.server_cpu is None else self.server_cpu + cpu
        self.client_cpu += r["client_cpu_seconds"]
        done = sum(len(v) for v in r["latencies_us"].values())
        self.round_rps.append(done / r["elapsed"] if r["elapsed"] > 0 else math.nan)
        self.round_command_p99_ms.append(
            percentile(sorted(r["latencies_us"]["command"]), 99) / 1000
        )

    def requests_per_cpu_second(self) -> float | None:
        """Work per unit of the server's own CPU time: unlike requests/s, this barely
        moves when other processes compete for the machine's cores."""
        if not self.server_cpu:
            return None
        return sum(len(v) for v in self.latencies_us.values()) / self.server_cpu

    def stats(self, kind: str) -> dict[str, float]:
        """requests, errors, rps, p50/p99/max in ms, for one kind or "all"."""
        kinds = KINDS if kind == "all" else (kind,)
        latencies = sorted(v for k in kinds for v in self.latencies_us[k])
        errors = sum(n for key, n in self.errors.items() if key.split(":")[0] in kinds)
        return {
            "requests": len(latencies),
            "errors": errors,
            "rps": len(latencies) / self.elapsed if self.elapsed > 0 else math.nan,
            "p50_ms": percentile(latencies, 50) / 1000,
            "p99_ms": percentile(latencies, 99) / 1000,
            "max_ms": latencies[-1] / 1000 if latencies else math.nan,
        }


def percentile(sorted_values: list[int], p: float) -> float:
    """Nearest rank: always a latency that was actually observed."""
    if not sorted_values:
        return math.nan
    return float(sorted_values[max(1, math.ceil(p / 100 * len(sorted_values))) - 1])


def load_round(
    server: Server, args: argparse.Namespace, secret: str, standin_url: str
) -> dict[str, Any]:
    seconds = args.seconds / args.rounds
    requests = math.ceil(args.requests / args.rounds) if args.requests else 0
    argv = [
        sys.executable,
        str(BENCH / "loadgen.py"),
        *("--url", server.url, "--response-url-base", standin_url),
        *("--seconds", str(seconds), "--requests", str(requests)),
        *("--warmup", str(args.warmup), "--concurrency", str(args.concurrency)),
        *("--mix", str(args.mix), "--server-pid", str(server.proc.pid)),
        *("--users", ",".join(USERS)),
    ]
    env = {**os.environ, "SLACK_SIGNING_SECRET": secret}
    # The load generator bounds itself; this is the backstop if it hangs.
    budget = args.warmup + (MAX_ROUND_SECONDS if requests else seconds) + 60
    proc = subprocess.Popen(
        argv, env=env, stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        out, _ = proc.communicate(timeout=budget)
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"the load generator did not finish against {server.name}") from None
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(STOP_TIMEOUT)
    if proc.returncode != 0:
        raise RuntimeError(f"the load generator failed against {server.name}")
    return dict(json.loads(out))


def fmt(value: float | None, spec: str) -> str:
    if value is None or math.isnan(value):
        return "-"
    return format(value, spec)


def print_table(results: dict[str, Pooled], args: argparse.Namespace) -> None:
    print()
    header = (
        f"{'server':<6} {'kind':<8} {'requests':>9} {'errors':>7} {'req/s':>8}"
        f" {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}"
    )
    print(header)
    print("-" * len(header))
    for name, pooled in results.items():
        for kind in ("all", *KINDS):
            s = pooled.stats(kind)
            print(
                f"{name:<6} {kind:<8} {s['requests']:>9} {s['errors']:>7}"
                f" {fmt(s['rps'], '.0f'):>8} {fmt(s['p50_ms'], '.2f'):>8}"
                f" {fmt(s['p99_ms'], '.2f'):>8} {fmt(s['max_ms'], '.2f'):>8}"
            )
    print()
    for name, p in results.items():
        server_cpu = None if p.server_cpu is None else p.server_cpu / p.elapsed
        rounds = " ".join(fmt(r, ".0f") for r in p.round_rps)
        print(
            f"{name}: {p.elapsed:.1f} s measured in {len(p.round_rps)} rounds (req/s {rounds}),"
            f" {p.warmup_requests} warm-up requests; server CPU {fmt(server_cpu, '.0%')}"
            f" ({fmt(p.requests_per_cpu_second(), '.0f')} requests per CPU-second),"
            f" load generator CPU {fmt(p.client_cpu / p.elapsed, '.0%')}"
        )
        p99s = " ".join(fmt(r, ".1f") for r in p.round_command_p99_ms)
        print(f"  /loop help p99 per round (ms): {p99s}")
        if server_cpu is not None and server_cpu < BUSY_ENOUGH:
            # A saturated single-process server sits near 100%; well below that it was
            # waiting for a CPU, i.e. something else on the machine was running.
            print(f"  {name} was not CPU-bound: other load on the machine makes this run noisy")
        if p.signed_late:
            print(f"  {p.signed_late} requests signed on the fly (the pre-signed pool ran out)")
        for key, count in sorted(p.errors.items()):
            print(f"  error {key}: {count}")
        for key, count in sorted(p.warmup_errors.items()):
            print(f"  warm-up error {key}: {count}")


def verdict(ours: Pooled, bare: Pooled) -> bool:
    print()
    for kind in ("all", *KINDS):
        o, b = ours.stats(kind), bare.stats(kind)
        print(
            f"{kind:<8} p99 ours / bare = {fmt(o['p99_ms'] / b['p99_ms'], '.2f')}   "
            f"throughput ours / bare = {fmt(o['rps'] / b['rps'], '.2f')}"
        )
    o_eff, b_eff = ours.requests_per_cpu_second(), bare.requests_per_cpu_second()
    if o_eff and b_eff:
        print(f"requests per server CPU-second, ours / bare = {o_eff / b_eff:.2f}")
    o, b = ours.stats("all"), bare.stats("all")
    p99, tput = o["p99_ms"] / b["p99_ms"], o["rps"] / b["rps"]
    ok_p99, ok_tput = p99 <= P99_TARGET, tput >= THROUGHPUT_TARGET
    ok_errors = o["errors"] == 0 and b["errors"] == 0
    passed = ok_p99 and ok_tput and ok_errors
    print(
        f"\n{'PASS' if passed else 'FAIL'}: p99 ratio {fmt(p99, '.2f')}"
        f" {'<=' if ok_p99 else '>'} {P99_TARGET}, throughput ratio {fmt(tput, '.2f')}"
        f" {'>=' if ok_tput else '<'} {THROUGHPUT_TARGET}, "
        + ("no errors" if ok_errors else f"{o['errors'] + b['errors']} errors")
    )
    return passed


def busy_verdict(on: Pooled, off: Pooled, sent: int) -> bool:
    """Ticks on against ticks off: `/loop help` p99 and requests/s."""
    print()
    for kind in ("all", *KINDS):
        a, b = on.stats(kind), off.stats(kind)
        print(
            f"{kind:<8} p99 on / off = {fmt(a['p99_ms'] / b['p99_ms'], '.2f')}   "
            f"throughput on / off = {fmt(a['rps'] / b['rps'], '.2f')}"
        )
    a, b = on.stats("command"), off.stats("command")
    ratio = a["p99_ms"] / b["p99_ms"]
    ok_p99 = ratio <= P99_TARGET
    ok_errors = on.stats("all")["errors"] == 0 and off.stats("all")["errors"] == 0
    print(f"the ticking server sent {sent} DMs to the stand-in during the run")
    passed = ok_p99 and ok_errors and sent > 0
    print(
        f"\n{'PASS' if passed else 'FAIL'}: /loop help p99 with ticks on"
        f" {fmt(a['p99_ms'], '.1f')} ms, off {fmt(b['p99_ms'], '.1f')} ms:"
        f" ratio {fmt(ratio, '.2f')}"
        f" {'<=' if ok_p99 else '>'} {P99_TARGET}; req/s {fmt(a['rps'], '.0f')} vs"
        f" {fmt(b['rps'], '.0f')}; "
        + (
            "no errors"
            if ok_errors
            else f"{on.stats('all')['errors'] + off.stats('all')['errors']} errors"
        )
        + ("" if sent else "; the dispatcher sent nothing (not busy)")
    )
    return passed


def busy_schedule(args: argparse.Namespace) -> list[datetime]:
    """When the seeded reflections fall due: every 1/--due-per-second seconds from
    BUSY_LEAD_SECONDS from now (the servers' start-up) until past the run's expected
    end, one person each."""
    per_round = args.seconds / args.rounds + args.warmup + 2.0  # + the load generator's start
    span = 2 * args.rounds * per_round * 1.5 + 10
    count = min(args.people, int(span * args.due_per_second))
    start = datetime.now(UTC) + timedelta(seconds=BUSY_LEAD_SECONDS)
    return [start + timedelta(seconds=i / args.due_per_second) for i in range(count)]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/ack",
        description="Ack throughput and latency of the bot next to a bare Bolt app.",
    )
    parser.add_argument(
        "--seconds", type=float, default=15.0, help="measured seconds per server (default 15)"
    )
    parser.add_argument(
        "--requests", type=int, default=0, help="measure N requests per server instead of time"
    )
    parser.add_argument(
        "--concurrency", type=int, default=64, help="keep-alive connections (default 64)"
    )
    parser.add_argument(
        "--rounds", type=int, default=3, help="turns per server, alternating (default 3)"
    )
    parser.add_argument(
        "--warmup", type=float, default=1.5, help="unmeasured seconds before each round"
    )
    parser.add_argument(
        "--mix", type=float, default=0.5, help="share of /loop help commands (default 0.5)"
    )
    parser.add_argument("--only", choices=("ours", "bare"), help="load one server only")
    busy = parser.add_argument_group("dispatcher busy (the bot with ticks on against off)")
    busy.add_argument(
        "--dispatcher-busy",
        action="store_true",
        help="compare the bot ticking every second with the bot not ticking",
    )
    busy.add_argument("--people", type=int, default=1000, help="people (default 1000)")
    busy.add_argument(
        "--nudges", type=int, default=100_000, help="nudge rows in all (default 100000)"
    )
    busy.add_argument(
        "--due-per-second",
        type=float,
        default=5.0,
        help="reflections falling due per second (default 5)",
    )
    busy.add_argument(
        "--send-rate", type=float, default=10.0, help="SEND_RATE for both (default 10)"
    )
    args = parser.parse_args(argv)
    if args.dispatcher_busy and args.only:
        parser.error("--dispatcher-busy runs its own two servers; --only does not apply")
    if not 1 <= args.rounds <= 20:
        parser.error("--rounds must be in 1..20")
    if not 0 < args.seconds / args.rounds <= MAX_ROUND_SECONDS:
        parser.error(f"--seconds / --rounds must be in (0, {MAX_ROUND_SECONDS:.0f}]")
    if not 0 <= args.requests <= 1_000_000:
        parser.error("--requests must be in 0..1000000")
    if not 1 <= args.concurrency <= 1024:
        parser.error("--concurrency must be in 1..1024")
    if not 0 <= args.warmup <= 30:
        parser.error("--warmup must be in 0..30")
    if not 0 <= args.mix <= 1:
        parser.error("--mix must be between 0 and 1")
    if not 1 <= args.people <= 100_000 or not 0 <= args.nudges <= 5_000_000:
        parser.error("--people must be in 1..100000 and --nudges in 0..5000000")
    if not 0 < args.due_per_second <= 100 or not 0.05 <= args.send_rate <= 100:
        parser.error("--due-per-second must be in (0, 100] and --send-rate in [0.05, 100]")
    return args


def _interrupt(signum: int, frame: object) -> None:
    # A SIGTERM (a CI timeout, `kill`) takes the same clean-up path as Ctrl-C.
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)
    secret = secrets.token_hex(16)
    if args.dispatcher_busy:
        names = list(BUSY_NAMES)
    else:
        names = [args.only] if args.only else ["ours", "bare"]
    results = {name: Pooled() for name in names}
    print(
        f"bench/ack: {os.cpu_count()} CPUs, Python {sys.version.split()[0]},"
        f" load average {os.getloadavg()[0]:.2f}; {args.rounds} rounds per server,"
        f" {args.concurrency} connections",
        flush=True,
    )
    if args.dispatcher_busy:
        print(f"dispatcher: {os.environ.get('DISPATCHER') or 'process'}", flush=True)
    slack = SlackStandIn()
    for user_id, (tz, locale) in USERS.items():
        slack.add_user(user_id, tz=tz, locale=locale)
    slack.add_channel("C0DEALS", "deals")
    slack.add_channel("C0RANDOM", "random")
    due_at: list[datetime] = []
    if args.dispatcher_busy:
        for i in range(args.people):
            slack.add_user(busy_person(i), tz=BUSY_ZONES[i % len(BUSY_ZONES)])
    try:
        with contextlib.ExitStack() as stack:
            tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-ack-"))
            stack.enter_context(slack)
            env = server_env(slack, secret, Path(tmp))
            if args.dispatcher_busy:
                print(f"seeding {args.people:,} people and {args.nudges:,} nudges ...", flush=True)
                due_at = seed_busy(
                    f"sqlite:///{Path(tmp) / 'seed.db'}",
                    slack.team_id,
                    args.people,
                    args.nudges,
                    lambda: busy_schedule(args),
                )
                for name in names:
                    shutil.copy(Path(tmp) / "seed.db", Path(tmp) / f"{name}.db")
                env["SEND_RATE"] = str(args.send_rate)
            running = stack.enter_context(servers(names, env, Path(tmp)))
            if due_at:
                # Round 1 starts when the first reflection falls due, not before.
                lead = (due_at[0] - datetime.now(UTC)).total_seconds()
                if lead < 1:
                    print(
                        "  the servers took longer to start than the lead: the `off` one"
                        " may have sent too; its figures are not ticks-off figures"
                    )
                time.sleep(max(0.0, lead))
                slack.reset_calls()
            for n in range(args.rounds):
                for name in names:
                    if args.dispatcher_busy:
                        running[name].resume()
                        for other in names:
                            if other != name:
                                running[other].pause()
                    print(f"round {n + 1}/{args.rounds}: {name} ({running[name].url})", flush=True)
                    results[name].add(load_round(running[name], args, secret, slack.base_url))
            sent = len(slack.calls_to("chat.postMessage", ok=True))
            for name in names:
                if results[name].errors or results[name].warmup_errors:
                    print(f"{name}'s log, last lines:\n{running[name].log_tail()}")
    except KeyboardInterrupt:
        print("\nbench/ack: interrupted; servers stopped", file=sys.stderr)
        return 130
    except RuntimeError as e:
        print(f"bench/ack: {e}", file=sys.stderr)
        return 1
    print_table(results, args)
    if args.dispatcher_busy:
        return 0 if busy_verdict(results["on"], results["off"], sent) else 3
    if args.only:
        return 0
    return 0 if verdict(results["ours"], results["bare"]) else 3


if __name__ == "__main__":
    raise SystemExit(main())
