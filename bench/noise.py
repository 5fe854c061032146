"""bench/noise.py: how many DMs does a rep get a day, without and with the noise budget?

Two simulated weeks (Monday 2026-11-02 to Sunday 2026-11-15) for a team of 20 reps and 4
managers in five time zones and three languages, on a fake clock, through the real app
(signed HTTP requests to the real Bolt app, served by uvicorn) and the local Slack
stand-in. The same seeded week is run twice: `NOISE_BUDGET=off`, then on (the default,
`DAILY_NUDGE_CAP` 3). Printed: DMs per rep per working day (median, mean, 90th
percentile, max), rep-days above 3 DMs, and how many DMs carried more than one nudge.

The deal flow is a B2B team's (per rep per week, drawn per rep from these rates):
about 1 win, 1.5 losses and 0.5 no-decisions posted in #deals by a CRM-like line,
2 concerns tracked (`/loop concern`), 1 tee-up (`/loop tee-up`) and a screen-out every
other week (`/loop screen-out`, reviewed a few days later); end-of-day reflections and
the Friday digest come from the bot's own planner. Reps answer about half of their
concern check-ins within the hour and never log a debrief, so the bot's reminders (and
the managers' notes) run their course.

    .venv/bin/python bench/noise.py              # both runs
    .venv/bin/python bench/noise.py --seed 7 --reps 20

A figure, not a test: nothing here asserts.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import secrets
import statistics
import sys
import tempfile
import threading
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session, select

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.app import build_app  # noqa: E402
from bot.clock import FakeClock  # noqa: E402
from bot.devkit.requests import (  # noqa: E402
    SlackRequests,
    datepicker_value,
    plain_text_value,
    radio_buttons_value,
)
from bot.devkit.standin import SlackStandIn  # noqa: E402
from bot.messages.bundle import section_of  # noqa: E402
from bot.nudges.dispatcher import drain  # noqa: E402
from bot.runtime import build_runtime  # noqa: E402
from bot.server import SlackASGI, bind_socket, make_server  # noqa: E402
from bot.settings import load_settings  # noqa: E402
from storage.models import Nudge  # noqa: E402

DEALS = "C0DEALS"
CRM = "U0CRMBOT"
ADMIN = "U0ADMIN"
START = datetime(2026, 11, 2, 0, 0, tzinfo=UTC)  # a Monday
DAYS = 14
STEP = timedelta(minutes=10)
ZONES = [
    ("America/New_York", "en-US"),
    ("America/Chicago", "en-US"),
    ("Europe/London", "en-GB"),
    ("Europe/Madrid", "es-ES"),
    ("Europe/Paris", "fr-FR"),
]
ACCOUNTS = [
    "Acme", "Globex", "Initech", "Hooli", "Umbrella", "Stark", "Wayne", "Wonka", "Soylent",
    "Cyberdyne", "Tyrell", "Aperture", "Massive Dynamic", "Vandelay", "Pied Piper", "Dunder",
]  # fmt: skip


OUTCOME_WORDS = {"won": "Closed Won", "lost": "Closed Lost", "no_decision": "Closed - No Decision"}


@dataclass(frozen=True)
class Event:
    at: datetime
    rep: str
    what: str  # won | lost | no_decision | concern | tee_up | screen_out
    account: str


def rep_ids(reps: int) -> list[str]:
    return [f"U0REP{i:03d}" for i in range(reps)]


def plan_events(reps: list[str], seed: int) -> list[Event]:
    """Each rep's fortnight: events on working days, in their working hours."""
    rng = random.Random(seed)
    rates = {
        "won": 1.0,
        "lost": 1.5,
        "no_decision": 0.5,
        "concern": 2.0,
        "tee_up": 1.0,
        "screen_out": 0.5,
    }
    events: list[Event] = []
    for i, rep in enumerate(reps):
        zone = ZoneInfo(ZONES[i % len(ZONES)][0])
        # Some reps close more than others: a per-rep factor around 1.
        pace = rng.uniform(0.6, 1.5)
        for week in range(DAYS // 7):
            for what, rate in rates.items():
                for _ in range(_poisson(rng, rate * pace)):
                    day = week * 7 + rng.randrange(5)
                    at = datetime(
                        2026, 11, 2 + day, rng.randrange(9, 17), rng.randrange(60), tzinfo=zone
                    ).astimezone(UTC)
                    events.append(Event(at, rep, what, rng.choice(ACCOUNTS)))
    return sorted(events, key=lambda e: e.at)


def _poisson(rng: random.Random, lam: float) -> int:
    n, p, limit = 0, 1.0, pow(2.718281828, -lam)
    while True:
        p *= rng.random()
        if p <= limit:
            return n
        n += 1


class Sim:
    """The real bot on a fake clock, served over HTTP, against the stand-in."""

    def __init__(self, tmp: Path, slack: SlackStandIn, clock: FakeClock, budget: bool) -> None:
        self.slack = slack
        self.clock = clock
        secret = secrets.token_hex(16)
        settings = load_settings(
            {
                "SLACK_BOT_TOKEN": slack.token,
                "SLACK_SIGNING_SECRET": secret,
                "SLACK_API_URL": slack.api_url,
                "DATABASE_URL": f"sqlite:///{tmp / 'noise.db'}",
                "DEALS_CHANNELS": DEALS,
                "LOG_LEVEL": "ERROR",
                "NOISE_BUDGET": "on" if budget else "off",
                "SEND_RATE": "20",
            },
            env_file=None,
        )
        self.rt = build_runtime(settings, clock=clock)
        self.asgi = SlackASGI(self.rt, build_app(self.rt), run_dispatcher=False)
        sock = bind_socket()
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}/slack/events"
        self.server = make_server(self.asgi, host="127.0.0.1", log_level="error")
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [sock]}, daemon=True
        )
        self.thread.start()
        if not self.asgi.started.wait(15):
            raise RuntimeError("the bot did not start")
        self.requests = SlackRequests(secret, response_url_base=slack.base_url)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.rt.engine.dispose()

    def post(self, request: Any) -> Any:
        result = request.post(self.url)
        self.rt.background.wait_idle(15)
        return result

    def tick(self) -> None:
        import asyncio

        assert self.asgi.loop is not None
        asyncio.run_coroutine_threadsafe(drain(self.rt), self.asgi.loop).result(120)
        self.rt.background.wait_idle(15)

    def command(self, user: str, text: str) -> Any:
        return self.post(self.requests.slash_command(text, user=user))

    def happen(self, event: Event, rng: random.Random) -> None:
        rep = event.rep
        if event.what in ("won", "lost", "no_decision"):
            words = {
                "won": "Closed Won",
                "lost": "Closed Lost",
                "no_decision": "Closed - No Decision",
            }
            line = f"{words[event.what]}: {event.account} <@{rep}>"
            self.post(
                self.requests.event_request(
                    self.requests.message_event(line, channel=DEALS, user=CRM)
                )
            )
        elif event.what == "concern":
            self.command(rep, f"concern {event.account} — worried about the rollout timeline")
        elif event.what == "tee_up":
            self.command(rep, f"tee-up {event.account}")
        elif event.what == "screen_out":
            self.screen_out(rep, event.account, rng)

    def screen_out(self, rep: str, account: str, rng: random.Random) -> None:
        before = len(self.slack.calls_to("views.open"))
        self.command(rep, f"screen-out {account}")
        opened = self.slack.calls_to("views.open")[before:]
        if not opened:
            return
        view = opened[-1].body["view"]
        view = json.loads(view) if isinstance(view, str) else view
        review = (self.clock.now() + timedelta(days=rng.randrange(2, 6))).date().isoformat()
        values = {
            "screen_out_potential": {"potential": radio_buttons_value("no")},
            "screen_out_review": {"review_date": datepicker_value(review)},
            "screen_out_notes": {"notes": plain_text_value(None)},
        }
        self.post(
            self.requests.view_submission(
                "screen_out_submit", values, user=rep, private_metadata=view["private_metadata"]
            )
        )

    def answer_checkins(self, rep: str, seen: set[tuple[str, str]], rng: random.Random) -> None:
        """About half of the check-ins a rep sees get an answer (satisfied)."""
        channel = self.slack.dm_channel(rep)
        for message in self.slack.messages(channel):
            for block in message.get("blocks") or []:
                if block.get("type") != "actions":
                    continue
                for element in block.get("elements", []):
                    if element.get("action_id") != "concern_satisfied":
                        continue
                    key = (str(message["ts"]), str(block.get("block_id")))
                    if key in seen:
                        continue
                    seen.add(key)
                    if rng.random() < 0.5:
                        self.post(
                            self.requests.block_action(
                                "concern_satisfied",
                                user=rep,
                                channel=channel,
                                message=message,
                                block_id=str(block.get("block_id")),
                                value=element.get("value"),
                            )
                        )


def setup_people(slack: SlackStandIn, reps: list[str], managers: list[str]) -> None:
    for i, rep in enumerate(reps):
        tz, locale = ZONES[i % len(ZONES)]
        slack.add_user(rep, name=f"rep{i}", real_name=f"Rep {i}", tz=tz, locale=locale)
    for j, manager in enumerate(managers):
        slack.add_user(manager, name=f"mgr{j}", real_name=f"Manager {j}", tz="America/New_York")
    slack.add_user(CRM, name="crm", real_name="CRM")
    slack.add_user(ADMIN, name="ada", real_name="Ada Admin", is_admin=True)
    slack.add_channel(DEALS, "deals")
    for user in [*reps, *managers, CRM, ADMIN]:
        # The stand-in's own Do Not Disturb hours follow the wall clock, not the fake one.
        slack.set_dnd(user, dnd_enabled=False)


def run(budget: bool, reps_n: int, seed: int) -> dict[str, Any]:
    reps = rep_ids(reps_n)
    managers = [f"U0MGR{j:02d}" for j in range(max(1, reps_n // 5))]
    events = plan_events(reps, seed)
    rng = random.Random(seed + 1)
    clock = FakeClock(START)
    with tempfile.TemporaryDirectory(prefix="noise-bench-") as tmp, SlackStandIn() as slack:
        slack.follow_clock(lambda: clock.now().timestamp())
        setup_people(slack, reps, managers)
        sim = Sim(Path(tmp), slack, clock, budget)
        try:
            for i, rep in enumerate(reps):
                sim.command(ADMIN, f"team <@{rep}> manager <@{managers[i % len(managers)]}>")
                # Every rep has used the bot: the evening reflections go to them.
                sim.command(rep, "help")
            seen: set[tuple[str, str]] = set()
            pending = list(events)
            end = START + timedelta(days=DAYS)
            while clock.now() < end:
                clock.advance(STEP)
                while pending and pending[0].at <= clock.now():
                    sim.happen(pending.pop(0), rng)
                sim.tick()
                if clock.now().minute == 0:
                    for rep in reps:
                        sim.answer_checkins(rep, seen, rng)
            with Session(sim.rt.engine) as session:
                rows = session.exec(select(Nudge.sent_ts, Nudge.kind).where(Nudge.state == "sent"))
                kinds: dict[str, set[str]] = {}
                for ts, kind in rows.all():
                    kinds.setdefault(str(ts), set()).add(kind)
            return count(slack, reps, kinds)
        finally:
            sim.stop()


# What the bot starts on its own: reminders, check-ins, reviews, the evening DMs. Deal DMs
# and answers to what a rep just did (a command, a click) are counted in "all DMs" only.
NUDGE_KINDS = {
    "debrief_reminder",
    "debrief_manager_note",
    "concern_checkin",
    "screen_out_review",
    "reflection",
    "weekly_digest",
    "manager_call_reminder",
    "loss_streak_offer",
}


def _stats(per_day: Counter[tuple[str, str]], working: list[tuple[str, str]]) -> dict[str, Any]:
    counts = sorted(per_day.get(key, 0) for key in working)
    return {
        "median": statistics.median(counts),
        "mean": statistics.mean(counts),
        "p90": counts[int(0.9 * (len(counts) - 1))],
        "max": max(counts) if counts else 0,
        "over3": sum(1 for c in counts if c > 3),
        "rep_days": len(counts),
        "total": sum(per_day.values()),
    }


def count(slack: SlackStandIn, reps: list[str], kinds: dict[str, set[str]]) -> dict[str, Any]:
    per_day: Counter[tuple[str, str]] = Counter()
    nudges: Counter[tuple[str, str]] = Counter()
    bundles = 0
    for i, rep in enumerate(reps):
        zone = ZoneInfo(ZONES[i % len(ZONES)][0])
        for message in slack.messages(slack.dm_channel(rep)):
            day = datetime.fromtimestamp(float(message["ts"]), UTC).astimezone(zone).date()
            per_day[(rep, day.isoformat())] += 1
            if kinds.get(str(message["ts"]), set()) & NUDGE_KINDS:
                nudges[(rep, day.isoformat())] += 1
            if (
                len(
                    {section_of(b.get("block_id")) for b in message.get("blocks") or []} - {None, 0}
                )
                > 1
            ):
                bundles += 1
    working = [
        (rep, (START + timedelta(days=d)).date().isoformat())
        for rep in reps
        for d in range(DAYS)
        if (START + timedelta(days=d)).weekday() < 5
    ]
    return {"all": _stats(per_day, working), "nudges": _stats(nudges, working), "bundles": bundles}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, default=20)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    rows = []
    for budget in (False, True):
        label = "after (budget on, cap 3)" if budget else "before (NOISE_BUDGET=off)"
        print(f"running {label} …", flush=True)
        rows.append((label, run(budget, args.reps, args.seed)))
    for what, title in (("nudges", "DMs the bot started on its own"), ("all", "all DMs")):
        print(
            f"\n{args.reps} reps, {DAYS} days, seed {args.seed}: {title}, per rep per working day"
        )
        print("| run | median | mean | p90 | max | rep-days > 3 | in all |")
        print("|---|---|---|---|---|---|---|")
        for label, r in rows:
            x = r[what]
            print(
                f"| {label} | {x['median']:g} | {x['mean']:.2f} | {x['p90']} | {x['max']} | "
                f"{x['over3']} of {x['rep_days']} | {x['total']} |"
            )
    print(
        "\nDMs holding more than one nudge: "
        + ", ".join(f"{lbl}: {r['bundles']}" for lbl, r in rows)
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
