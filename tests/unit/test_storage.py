"""Storage behaviour that must hold on SQLite and on PostgreSQL alike."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from storage import checkpoints, nudges
from storage.db import create_db_and_tables, make_engine, unit_of_work
from storage.deals import NewDeal, add_deal, mark_event_seen, same_deal
from storage.models import Deal, Nudge

NOW = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)


@pytest.fixture
def engine(db_url: str) -> Engine:
    eng = make_engine(db_url)
    create_db_and_tables(eng)
    yield eng
    eng.dispose()


def _schedule(s: Session, key: str, due_at: datetime) -> Nudge:
    return nudges.schedule(
        session=s,
        team_id="T1",
        user_slack_id="U1",
        kind="k",
        due_at=due_at,
        idempotency_key=key,
        now=NOW,
    )


def _deal(**kw: object) -> NewDeal:
    base = dict(
        team_id="T1",
        account="Globex",
        outcome="lost",
        rep_slack_id="U1",
        source="channel",
        source_channel="C1",
        source_ts="1.1",
    )
    base.update(kw)
    return NewDeal(**base)  # type: ignore[arg-type]


def test_same_event_id_is_seen_once(engine: Engine) -> None:
    with unit_of_work(engine) as s:
        assert mark_event_seen(session=s, team_id="T1", event_id="Ev1", now=NOW)
    with unit_of_work(engine) as s:
        assert not mark_event_seen(session=s, team_id="T1", event_id="Ev1", now=NOW)
        assert mark_event_seen(session=s, team_id="T2", event_id="Ev1", now=NOW)


def test_same_source_message_is_one_deal(engine: Engine) -> None:
    with unit_of_work(engine) as s:
        first = add_deal(session=s, new=_deal(amount=Decimal("50000")), now=NOW)
        assert first is not None and first > 0
    with unit_of_work(engine) as s:
        assert add_deal(session=s, new=_deal(), now=NOW) is None
        assert add_deal(session=s, new=_deal(source_ts="1.2"), now=NOW) is not None


def test_timestamps_come_back_in_utc(engine: Engine) -> None:
    madrid = NOW.astimezone(__import__("zoneinfo").ZoneInfo("Europe/Madrid"))
    with unit_of_work(engine) as s:
        n = _schedule(s, "k1", madrid)
        nid = n.id
    with unit_of_work(engine) as s:
        row = s.get(Nudge, nid)
        assert row is not None and row.due_at == NOW and row.due_at.tzinfo is not None


def test_schedule_is_idempotent_by_key(engine: Engine) -> None:
    with unit_of_work(engine) as s:
        a = _schedule(s, "same", NOW)
    with unit_of_work(engine) as s:
        b = _schedule(s, "same", NOW + timedelta(days=1))
    assert a.id == b.id


def test_claim_takes_only_due_pending_rows_once(engine: Engine) -> None:
    with unit_of_work(engine) as s:
        for i in range(5):
            _schedule(s, f"n{i}", NOW + timedelta(minutes=i - 2))
    with unit_of_work(engine, immediate=True) as s:
        first = nudges.claim_due(session=s, now=NOW, limit=10, lease=timedelta(minutes=2))
    assert [n.idempotency_key for n in first] == ["n0", "n1", "n2"]
    assert all(n.state == nudges.SENDING and n.attempts == 1 for n in first)
    with unit_of_work(engine, immediate=True) as s:
        assert nudges.claim_due(session=s, now=NOW, limit=10, lease=timedelta(minutes=2)) == []


def test_expired_lease_is_retried_unless_posting_had_started(engine: Engine) -> None:
    with unit_of_work(engine) as s:
        for key in ("before-post", "during-post"):
            _schedule(s, key, NOW)
    with unit_of_work(engine, immediate=True) as s:
        claimed = nudges.claim_due(session=s, now=NOW, limit=10, lease=timedelta(minutes=2))
        during = next(n for n in claimed if n.idempotency_key == "during-post")
        assert nudges.mark_posting(session=s, nudge_id=during.id, now=NOW)
    later = NOW + timedelta(minutes=5)
    with unit_of_work(engine, immediate=True) as s:
        assert nudges.recover_expired_leases(session=s, now=later) == (1, 1)
    with unit_of_work(engine) as s:
        states = {n.idempotency_key: n.state for n in s.exec(select(Nudge)).all()}
    assert states == {"before-post": nudges.PENDING, "during-post": nudges.UNCERTAIN}


def test_settling_a_nudge_someone_else_holds_does_nothing(engine: Engine) -> None:
    with unit_of_work(engine) as s:
        n = _schedule(s, "x", NOW)
        nid = n.id
    with unit_of_work(engine) as s:
        # Not claimed: still pending, so a stray "sent" must not be recorded.
        assert not nudges.mark_sent(session=s, nudge_id=nid, now=NOW, channel="D1", ts="1.0")
        assert nudges.claim(session=s, nudge_id=nid, now=NOW, lease=timedelta(minutes=1))
        assert nudges.claim(session=s, nudge_id=nid, now=NOW, lease=timedelta(minutes=1)) is None
        assert nudges.mark_sent(session=s, nudge_id=nid, now=NOW, channel="D1", ts="1.0")


def test_a_worker_whose_claim_was_taken_over_can_neither_post_nor_settle(engine: Engine) -> None:
    """A stalls past its lease, the row is recovered and B claims it: A's claim is void,
    even though B's fresh lease makes the row look claimed and live."""
    lease = timedelta(minutes=2)
    with unit_of_work(engine) as s:
        n = _schedule(s, "stale", NOW)
        nid = n.id
    with unit_of_work(engine) as s:
        worker_a = nudges.claim(session=s, nudge_id=nid, now=NOW, lease=lease)
    later = NOW + timedelta(minutes=5)
    with unit_of_work(engine, immediate=True) as s:
        assert nudges.recover_expired_leases(session=s, now=later) == (1, 0)
        [worker_b] = nudges.claim_due(session=s, now=later, limit=10, lease=lease)
    assert worker_a is not None and worker_a.claim_token != worker_b.claim_token
    with unit_of_work(engine) as s:
        assert not nudges.mark_posting(
            session=s, nudge_id=nid, now=later, claim_token=worker_a.claim_token
        )
        assert not nudges.release(
            session=s,
            nudge_id=nid,
            now=later,
            due_at=later,
            error="stale",
            claim_token=worker_a.claim_token,
        )
        assert nudges.mark_posting(
            session=s, nudge_id=nid, now=later, claim_token=worker_b.claim_token
        )
        assert nudges.mark_sent(
            session=s,
            nudge_id=nid,
            now=later,
            channel="D1",
            ts="1.0",
            claim_token=worker_b.claim_token,
        )


def test_rows_the_prepared_path_writes_read_back_as_the_orms(engine: Engine) -> None:
    """The intake's inserts and look-ups skip SQLAlchemy's execute (storage/db.py
    run_prepared): a deal, its JSON payload, its amount and its UTC times must come back
    as the ORM writes them, and be found by the ORM's own queries."""
    with unit_of_work(engine) as s:
        by_orm = Nudge(
            team_id="T1",
            user_slack_id="U1",
            kind="k",
            payload={"deal_id": 7, "note": "é"},
            due_at=NOW,
            idempotency_key="orm",
            created_at=NOW,
            updated_at=NOW,
        )
        s.add(by_orm)
        s.flush()
        prepared_id = nudges.schedule_id(
            session=s,
            team_id="T1",
            user_slack_id="U1",
            kind="k",
            due_at=NOW,
            idempotency_key="prepared",
            payload={"deal_id": 7, "note": "é"},
            now=NOW,
        )
        deal_id = add_deal(
            session=s, new=_deal(amount=Decimal("12345.67"), currency="EUR"), now=NOW
        )
        again = add_deal(session=s, new=_deal(), now=NOW)
    assert again is None, "the unique constraint decided the copy"
    with unit_of_work(engine, immediate=False) as s:
        orm_row = s.get(Nudge, by_orm.id)
        prepared = s.get(Nudge, prepared_id)
        assert orm_row is not None and prepared is not None
        for field in ("payload", "due_at", "created_at", "state", "attempts"):
            assert getattr(prepared, field) == getattr(orm_row, field), field
        assert prepared.due_at is not None and prepared.due_at.tzinfo is not None
        due = s.exec(select(Nudge).where(Nudge.due_at <= NOW)).all()
        assert {n.idempotency_key for n in due} == {"orm", "prepared"}
        deal = s.get(Deal, deal_id)
        assert deal is not None
        assert deal.amount == Decimal("12345.67") and deal.created_at == NOW
        found = same_deal(session=s, new=_deal(source_ts="2.2"), since=NOW - timedelta(hours=1))
        assert found is not None and found.id == deal_id
        assert same_deal(session=s, new=_deal(source_ts="2.2"), since=NOW + timedelta(1)) is None


def _write_deals(eng: Engine, n: int) -> None:
    with unit_of_work(eng) as s:
        for i in range(n):
            add_deal(session=s, new=_deal(source_ts=f"9.{i}", account=f"Account {i}"), now=NOW)


def test_the_http_servers_engine_leaves_checkpoints_to_its_thread(tmp_path: Path) -> None:
    """`run --http` makes its engine with background_checkpoints: no commit copies the
    log back (wal_autocheckpoint 0), the checkpointer thread does, and does it once
    more as it stops. Other engines keep SQLite's default."""
    path = tmp_path / "bg.db"
    eng = make_engine(f"sqlite:///{path}", background_checkpoints=True)
    plain = make_engine(f"sqlite:///{tmp_path / 'plain.db'}")
    try:
        create_db_and_tables(eng)
        with eng.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 0
        with plain.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 1000
        assert checkpoints.checkpointer_of(plain) is None
        checkpointer = checkpoints.checkpointer_of(eng)
        assert checkpointer is not None
        checkpointer.checkpoint_once()
        before = path.stat().st_size
        _write_deals(eng, 300)
        assert path.stat().st_size == before, "the commits copied nothing back"
        checkpointer.every = 3600.0  # only the last checkpoint, on stop, runs here
        checkpointer.start()
        checkpointer.stop()
        assert path.stat().st_size > before, "stopping copied the log back"
        busy, logged, copied = checkpointer.checkpoint_once()
        assert (busy, copied) == (0, logged)
    finally:
        eng.dispose()
        plain.dispose()


def test_in_memory_and_postgresql_engines_have_no_checkpointer(db_url: str) -> None:
    for url in ("sqlite://", db_url if db_url.startswith("postgresql") else None):
        if url is None:
            continue
        eng = make_engine(url, background_checkpoints=True)
        assert checkpoints.checkpointer_of(eng) is None
        eng.dispose()
