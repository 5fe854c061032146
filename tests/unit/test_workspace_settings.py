"""The workspace settings: merging the environment's values with what an admin saved, and
saving a change in one unit of work (on SQLite and on PostgreSQL alike)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from bot.settings import load_settings
from bot.workspace_settings import (
    CONCERN_DELAY_HOURS,
    DEALS_CHANNELS,
    END_OF_DAY,
    LOSS_STREAK,
    WORKING_DAYS,
    defaults,
    encode,
    merge,
)
from storage import nudges
from storage.access import ADMIN, grant, has_grant
from storage.db import create_db_and_tables, make_engine, unit_of_work
from storage.models import Nudge, Workspace
from storage.workspace_settings import (
    SettingsChange,
    granted_admins,
    save_settings,
    stored_by_team,
)

NOW = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)
ENV = load_settings({"DEALS_CHANNELS": "#deals", "LOSS_STREAK": "4"}, env_file=None)


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    eng = make_engine(db_url)
    create_db_and_tables(eng)
    yield eng
    eng.dispose()


def test_without_rows_the_environment_decides() -> None:
    assert merge(ENV, {}) == defaults(ENV)
    assert merge(ENV, {}).deals_channel_names == frozenset({"deals"})
    assert merge(ENV, {}).loss_streak == 4


def test_stored_values_win_and_say_so() -> None:
    stored = {
        DEALS_CHANNELS: encode(DEALS_CHANNELS, ["C0WINS"]),
        END_OF_DAY: encode(END_OF_DAY, time(16, 0)),
        WORKING_DAYS: encode(WORKING_DAYS, (5, 0, 1)),
        LOSS_STREAK: encode(LOSS_STREAK, 2),
        CONCERN_DELAY_HOURS: encode(CONCERN_DELAY_HOURS, 24.5),
    }
    eff = merge(ENV, stored)
    assert eff.deals_channel_ids == frozenset({"C0WINS"}) and not eff.deals_channel_names
    assert (eff.end_of_day, eff.working_days) == (time(16, 0), (0, 1, 5))
    assert (eff.loss_streak, eff.concern_delay_hours) == (2, 24.5)
    assert eff.from_slack == frozenset(stored)


@pytest.mark.parametrize(
    "bad",
    [
        {LOSS_STREAK: {"value": 1}},
        {LOSS_STREAK: {"value": "3"}},
        {LOSS_STREAK: {"value": True}},
        {END_OF_DAY: {"value": "25:00"}},
        {WORKING_DAYS: {"value": []}},
        {WORKING_DAYS: {"value": [0, 9]}},
        {DEALS_CHANNELS: {"channels": ["not a channel"]}},
        {DEALS_CHANNELS: "C0WINS"},
    ],
)
def test_a_row_that_cannot_be_a_value_is_ignored(bad: dict) -> None:  # type: ignore[type-arg]
    assert merge(ENV, bad) == defaults(ENV)


def _pending_evening(s: object, key: str, kind: str = "reflection") -> None:
    nudges.schedule(
        session=s,  # type: ignore[arg-type]
        team_id="T1",
        user_slack_id="U1",
        kind=kind,
        due_at=NOW,
        idempotency_key=key,
        now=NOW,
    )


def test_a_save_stores_values_roles_and_holidays_and_replans_the_evenings(engine: Engine) -> None:
    with unit_of_work(engine) as s:
        s.add(Workspace(team_id="T1", holidays=["2026-01-01", "2026-12-24"]))
        grant(session=s, team_id="T1", slack_id="U0OLD", role=ADMIN, by=None, now=NOW)
        _pending_evening(s, "reflect:T1:U1:2026-11-23")
        _pending_evening(s, "digest:T1:U1:2026-W48", kind="weekly_digest")
        _pending_evening(s, "other:T1:U1", kind="concern_checkin")
    change = SettingsChange(
        values={END_OF_DAY: encode(END_OF_DAY, time(16, 0)), LOSS_STREAK: None},
        holidays=["2026-12-25"],
        admins_added=["U0NEW"],
        admins_removed=["U0OLD"],
        replan_evenings=True,
    )
    with unit_of_work(engine) as s:
        dropped = save_settings(
            session=s, team_id="T1", change=change, by="U0ADMIN", now=NOW, today=date(2026, 11, 23)
        )
    assert dropped == 2
    with unit_of_work(engine) as s:
        assert stored_by_team(session=s, keys=[END_OF_DAY, LOSS_STREAK]) == {
            "T1": {END_OF_DAY: {"value": "16:00"}}
        }
        assert stored_by_team(session=s, keys=[END_OF_DAY], team_ids=["T2"]) == {}
        # Past holidays stay; the upcoming ones are the form's.
        assert s.get(Workspace, "T1").holidays == ["2026-01-01", "2026-12-25"]  # type: ignore[union-attr]
        assert granted_admins(session=s, team_id="T1") == ["U0NEW"]
        assert not has_grant(session=s, team_id="T1", slack_id="U0OLD", role=ADMIN)
        kinds = sorted(n.kind for n in s.exec(select(Nudge)).all())
        assert kinds == ["concern_checkin"]
