"""The reflection planner looks at a bounded window of people per dispatcher tick and
still plans everyone.

It runs on every tick next to the event loop that acks Slack; over a whole workspace
each second it took the CPU acks needed. Each tick now plans the next PLAN_WINDOW people
by id and wraps round. Driven through the running bot's dispatcher ticks; what is
checked is what is stored: one pending reflection and digest per rep."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlmodel import Session, select

from handlers.reflection import PLAN_WINDOW
from storage.access import REP, grant
from storage.db import unit_of_work
from storage.models import Nudge, Person
from tests.conftest import RunningBot

TEAM = "T0001"


def _add_people(bot: RunningBot, ids: list[str]) -> None:
    """People listed as reps on the team (reflections go to reps only)."""
    now = datetime.now(UTC)
    with unit_of_work(bot.rt.engine) as s:
        for slack_id in ids:
            s.add(Person(team_id=TEAM, slack_id=slack_id, tz="Europe/Madrid"))
            grant(session=s, team_id=TEAM, slack_id=slack_id, role=REP, by=None, now=now)


def _planned(bot: RunningBot, kind: str) -> list[str]:
    with Session(bot.rt.engine) as s:
        rows = s.exec(select(Nudge).where(Nudge.kind == kind, Nudge.state == "pending")).all()
        return sorted(n.user_slack_id for n in rows)


def test_each_tick_plans_one_window_of_people_and_all_are_planned(bot: RunningBot) -> None:
    people = [f"U{i:05d}" for i in range(2 * PLAN_WINDOW + 100)]
    _add_people(bot, people)

    counts = []
    for _ in range(3):
        bot.tick()
        counts.append((len(_planned(bot, "reflection")), len(_planned(bot, "weekly_digest"))))

    assert counts == [
        (PLAN_WINDOW, PLAN_WINDOW),
        (2 * PLAN_WINDOW, 2 * PLAN_WINDOW),
        (len(people), len(people)),
    ]
    assert _planned(bot, "reflection") == people == _planned(bot, "weekly_digest")

    # The cursor went round to the start: someone met now (the highest id) waits for
    # the window to come round to them, within ceil(people / window) ticks, and nobody
    # gets a second slot meanwhile.
    _add_people(bot, ["U0LATE"])
    bot.tick()
    bot.tick()
    assert "U0LATE" not in _planned(bot, "reflection")
    bot.tick()
    assert _planned(bot, "reflection") == sorted([*people, "U0LATE"])
    assert _planned(bot, "weekly_digest") == sorted([*people, "U0LATE"])
