"""The concern's, the screen-out's and the tee-up's run data are typed models
(storage/run_data.py): rows stored before them read unchanged, a write through the
ritual's one writer keeps the stored JSON's shape (and keys the model does not name),
and what cannot be right is refused before it is stored."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy.engine import Engine

from storage import concerns, screen_outs, tee_ups
from storage.db import create_db_and_tables, make_engine, unit_of_work
from storage.kinds import ConcernState, Ritual, ScreenOutState, TeeUpState
from storage.models import Nudge, RitualRun
from storage.run_data import (
    concern_data,
    screen_out_data,
    tee_up_data,
    write_tee_up,
)

NOW = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)
# The shapes these rows had before the models, as storage/concerns.py, screen_outs.py
# and tee_ups.py wrote them key by key, each with a key no model names.
CONCERN: dict[str, Any] = {
    "concern": "Worried about the migration",
    "asks": [{"n": 1, "answer": "not_yet", "at": "2026-11-20T09:00:00+00:00"}],
    "from_call": True,
}
SCREEN_OUT: dict[str, Any] = {
    "potential": "high",
    "review_date": "2027-01-15",
    "notes": "Budget frozen until Q1",
    "previous_run": None,
    "review_channel": "D0REP",
    "review_ts": "1700000000.000300",
    "imported": "crm",
}
TEE_UP: dict[str, Any] = {"agreed": True, "nudge_id": 12, "source": "command", "imported": "crm"}


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    eng = make_engine(db_url)
    create_db_and_tables(eng)
    yield eng
    eng.dispose()


def _run(engine: Engine, ritual: str, state: str, data: Mapping[str, object]) -> int:
    with unit_of_work(engine) as s:
        run = RitualRun(
            team_id="T1",
            ritual=ritual,
            user_slack_id="U0REP",
            account="Acme",
            state=state,
            data=dict(data),
            due_at=NOW,
        )
        s.add(run)
        s.flush()
        assert run.id is not None
        return run.id


def _stored(engine: Engine, run_id: int) -> tuple[str, dict[str, object]]:
    with unit_of_work(engine, immediate=False) as s:
        run = s.get(RitualRun, run_id)
        assert run is not None
        return run.state, dict(run.data)


def test_an_existing_concern_reads_as_typed_data(engine: Engine) -> None:
    run_id = _run(engine, "concern", "open", CONCERN)
    with unit_of_work(engine, immediate=False) as s:
        run = concerns.get_loop(session=s, run_id=run_id)
        assert run is not None
        data = concern_data(run)
    assert data.concern == "Worried about the migration"
    assert [(a.n, a.answer) for a in data.asks] == [(1, "not_yet")]
    assert data.model_extra == {"from_call": True}


def test_answering_a_concern_keeps_the_stored_shape(engine: Engine) -> None:
    run_id = _run(engine, "concern", "open", CONCERN)
    with unit_of_work(engine) as s:
        run = concerns.answer(
            session=s,
            run_id=run_id,
            user_slack_id="U0REP",
            reply=concerns.SATISFIED,
            now=NOW,
            next_due=NOW + timedelta(days=3),
            n=2,
        )
        assert run is not None
    state, data = _stored(engine, run_id)
    assert state == ConcernState.CLOSED == "closed"
    assert data == {
        **CONCERN,
        "asks": [*CONCERN["asks"], {"n": 2, "answer": "satisfied", "at": NOW.isoformat()}],
    }


def test_an_existing_screen_out_reads_as_typed_data(engine: Engine) -> None:
    run_id = _run(engine, "screen_out", "review_sent", SCREEN_OUT)
    with unit_of_work(engine, immediate=False) as s:
        run = screen_outs.get_screen_out(session=s, run_id=run_id)
        assert run is not None
        data = screen_out_data(run)
    assert (data.potential, data.review_date, data.notes) == (
        "high",
        "2027-01-15",
        "Budget frozen until Q1",
    )
    assert data.previous_run is None and data.review_ts == "1700000000.000300"
    assert data.model_extra == {"imported": "crm"}


def test_marking_a_review_sent_keeps_the_stored_shape(engine: Engine) -> None:
    before = {k: v for k, v in SCREEN_OUT.items() if not k.startswith("review_")}
    before["review_date"] = SCREEN_OUT["review_date"]
    run_id = _run(engine, "screen_out", "scheduled", before)
    with unit_of_work(engine) as s:
        screen_outs.mark_review_sent(session=s, run_id=run_id, channel="D0REP", ts="1.2", now=NOW)
    state, data = _stored(engine, run_id)
    assert state == ScreenOutState.REVIEW_SENT
    assert data == {**before, "review_channel": "D0REP", "review_ts": "1.2"}


def test_an_existing_tee_up_reads_as_typed_data(engine: Engine) -> None:
    run_id = _run(engine, Ritual.TEE_UP, TeeUpState.AGREED, TEE_UP)
    with unit_of_work(engine, immediate=False) as s:
        run = s.get(RitualRun, run_id)
        assert run is not None
        data = tee_up_data(run)
    assert (data.agreed, data.nudge_id, data.source) == (True, 12, "command")
    assert data.model_extra == {"imported": "crm"}


def test_a_second_tee_up_answer_keeps_the_stored_shape(engine: Engine) -> None:
    run_id = _run(engine, "tee_up", "agreed", TEE_UP)
    with unit_of_work(engine) as s:
        nudge = Nudge(
            team_id="T1",
            user_slack_id="U0REP",
            kind="tee_up",
            due_at=NOW,
            idempotency_key="tee_up:test",
            payload={"account": "Acme", "source": "command"},
            ritual_run_id=run_id,
        )
        s.add(nudge)
        s.flush()
        assert nudge.id is not None
        nudge_id = nudge.id
    with unit_of_work(engine) as s:
        done = tee_ups.record_answer(
            session=s,
            nudge_id=nudge_id,
            user_id="U0REP",
            state=TeeUpState.DECLINED,
            now=NOW,
            followup_after=timedelta(days=2),
        )
        assert done is not None
    state, data = _stored(engine, run_id)
    assert state == "declined"
    assert data == {**TEE_UP, "agreed": False, "nudge_id": nudge_id}


def test_what_cannot_be_right_is_refused_before_it_is_stored(engine: Engine) -> None:
    run_id = _run(engine, "tee_up", "agreed", TEE_UP)
    with unit_of_work(engine, immediate=False) as s:
        run = s.get(RitualRun, run_id)
        assert run is not None
        with pytest.raises(ValidationError):
            write_tee_up(run, NOW, nudge_id="not a number")
        assert run.data == TEE_UP


def test_a_sparse_row_gains_only_the_keys_written(engine: Engine) -> None:
    # An early screen-out stored only its review date: a write adds no defaults for the
    # keys nobody set, so such rows keep their shape.
    run_id = _run(engine, "screen_out", "scheduled", {"review_date": "2027-01-15"})
    with unit_of_work(engine) as s:
        screen_outs.mark_review_sent(session=s, run_id=run_id, channel="D0REP", ts="1.2", now=NOW)
    _, data = _stored(engine, run_id)
    assert data == {"review_date": "2027-01-15", "review_channel": "D0REP", "review_ts": "1.2"}
