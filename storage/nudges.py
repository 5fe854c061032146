"""The nudge table is the schedule: queries to add, claim and settle nudges.

A claim moves a row from `pending` to `sending` under a lease. `post_started_at` is set
just before the Web API call that posts the message: a lease that expires before it is
safe to retry (nothing went out), one that expires after it is `uncertain`, because
Slack has no idempotency key for chat.postMessage and a blind retry could post twice.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from storage.models import Nudge

PENDING = "pending"
SENDING = "sending"
SENT = "sent"
FAILED = "failed"
SKIPPED = "skipped"
UNCERTAIN = "uncertain"
CANCELLED = "cancelled"
FINAL_STATES = frozenset({SENT, FAILED, SKIPPED, UNCERTAIN, CANCELLED})


def schedule(
    *,
    session: Session,
    team_id: str,
    user_slack_id: str,
    kind: str,
    due_at: datetime,
    idempotency_key: str,
    now: datetime,
    payload: dict[str, Any] | None = None,
    ritual_run_id: int | None = None,
) -> Nudge:
    """Add a nudge unless one with the same key exists; either way return the row."""
    existing = session.exec(select(Nudge).where(Nudge.idempotency_key == idempotency_key)).first()
    if existing is not None:
        return existing
    nudge = Nudge(
        team_id=team_id,
        user_slack_id=user_slack_id,
        kind=kind,
        payload=payload or {},
        due_at=due_at,
        idempotency_key=idempotency_key,
        ritual_run_id=ritual_run_id,
        created_at=now,
        updated_at=now,
    )
    try:
        with session.begin_nested():
            session.add(nudge)
    except IntegrityError:
        # Another worker added the same key between our read and our insert.
        return session.exec(select(Nudge).where(Nudge.idempotency_key == idempotency_key)).one()
    return nudge


def claim(*, session: Session, nudge_id: int, now: datetime, lease: timedelta) -> Nudge | None:
    """Claim one pending nudge by id; None if it is not pending (someone else has it)."""
    result = session.execute(
        update(Nudge)
        .where(col(Nudge.id) == nudge_id, col(Nudge.state) == PENDING)
        .values(
            state=SENDING,
            lease_until=now + lease,
            attempts=Nudge.attempts + 1,
            post_started_at=None,
            updated_at=now,
        )
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return None
    session.flush()
    return session.get(Nudge, nudge_id, populate_existing=True)


def claim_due(*, session: Session, now: datetime, limit: int, lease: timedelta) -> list[Nudge]:
    """Claim up to `limit` due nudges, oldest first.

    On PostgreSQL `FOR UPDATE SKIP LOCKED` lets several replicas claim side by side
    without ever taking the same row; on SQLite the caller holds the write lock
    (an immediate transaction), so the read-then-update is already exclusive."""
    query = (
        select(Nudge.id)
        .where(col(Nudge.state) == PENDING, col(Nudge.due_at) <= now)
        .order_by(col(Nudge.due_at), col(Nudge.id))
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    ids = list(session.exec(query).all())
    if not ids:
        return []
    session.execute(
        update(Nudge)
        .where(col(Nudge.id).in_(ids))
        .values(
            state=SENDING,
            lease_until=now + lease,
            attempts=Nudge.attempts + 1,
            post_started_at=None,
            updated_at=now,
        )
    )
    session.flush()
    rows = session.exec(
        select(Nudge).where(col(Nudge.id).in_(ids)).execution_options(populate_existing=True)
    ).all()
    return sorted(rows, key=lambda n: (n.due_at, n.id))


def _settle(session: Session, nudge_id: int, now: datetime, **values: Any) -> bool:
    result = session.execute(
        update(Nudge)
        .where(col(Nudge.id) == nudge_id, col(Nudge.state) == SENDING)
        .values(updated_at=now, **values)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def mark_posting(*, session: Session, nudge_id: int, now: datetime) -> bool:
    return _settle(session, nudge_id, now, post_started_at=now)


def mark_sent(*, session: Session, nudge_id: int, now: datetime, channel: str, ts: str) -> bool:
    return _settle(
        session, nudge_id, now, state=SENT, sent_channel=channel, sent_ts=ts, lease_until=None
    )


def mark_failed(*, session: Session, nudge_id: int, now: datetime, error: str) -> bool:
    return _settle(session, nudge_id, now, state=FAILED, last_error=error[:500], lease_until=None)


def mark_skipped(*, session: Session, nudge_id: int, now: datetime, reason: str) -> bool:
    return _settle(session, nudge_id, now, state=SKIPPED, last_error=reason[:500], lease_until=None)


def mark_uncertain(*, session: Session, nudge_id: int, now: datetime, error: str) -> bool:
    return _settle(
        session, nudge_id, now, state=UNCERTAIN, last_error=error[:500], lease_until=None
    )


def release(
    *, session: Session, nudge_id: int, now: datetime, due_at: datetime, error: str | None
) -> bool:
    """Give a claimed nudge back, to be tried again at `due_at` (nothing was posted)."""
    return _settle(
        session,
        nudge_id,
        now,
        state=PENDING,
        due_at=due_at,
        last_error=error[:500] if error else None,
        lease_until=None,
        post_started_at=None,
    )


def recover_expired_leases(*, session: Session, now: datetime) -> tuple[int, int]:
    """A worker died holding these. Returns (back to pending, marked uncertain)."""
    expired = (col(Nudge.state) == SENDING, col(Nudge.lease_until) < now)
    retried = session.execute(
        update(Nudge)
        .where(*expired, col(Nudge.post_started_at).is_(None))
        .values(state=PENDING, lease_until=None, updated_at=now)
    ).rowcount  # type: ignore[attr-defined]
    uncertain = session.execute(
        update(Nudge)
        .where(*expired, col(Nudge.post_started_at).is_not(None))
        .values(
            state=UNCERTAIN,
            lease_until=None,
            last_error="worker stopped while posting; not retried to avoid a double send",
            updated_at=now,
        )
    ).rowcount  # type: ignore[attr-defined]
    return int(retried or 0), int(uncertain or 0)


def cancel_pending(*, session: Session, idempotency_key_prefix: str, now: datetime) -> int:
    result = session.execute(
        update(Nudge)
        .where(
            col(Nudge.state) == PENDING,
            col(Nudge.idempotency_key).startswith(idempotency_key_prefix),
        )
        .values(state=CANCELLED, updated_at=now)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def counts_by_state(*, session: Session) -> dict[str, int]:
    rows = session.exec(select(Nudge.state, func.count()).group_by(Nudge.state)).all()
    return {state: int(n) for state, n in rows}
