"""The nudge table is the schedule: queries to add, claim and settle nudges.

A claim moves a row from `pending` to `sending` under a lease. `post_started_at` is set
just before the Web API call that posts the message: a lease that expires before it is
safe to retry (nothing went out), one that expires after it is `uncertain`, because
Slack has no idempotency key for chat.postMessage and a blind retry could post twice.

An uncertain row is not the end: once its `due_at` comes, `claim_uncertain` hands it to
a reconciler, which reads the DM's history and settles it `sent` (our message is there)
or `pending` (it is not, so sending again cannot double it), or puts it back
`uncertain` for a later look when the history cannot be read.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import and_, exists, func, or_, update
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from storage.db import insert_or_skip
from storage.models import Nudge


class NudgeState(StrEnum):
    """Where a nudge row is in its life. Stored as its plain value."""

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    SKIPPED = "skipped"
    UNCERTAIN = "uncertain"
    CANCELLED = "cancelled"


PENDING = NudgeState.PENDING
SENDING = NudgeState.SENDING
SENT = NudgeState.SENT
FAILED = NudgeState.FAILED
SKIPPED = NudgeState.SKIPPED
UNCERTAIN = NudgeState.UNCERTAIN
CANCELLED = NudgeState.CANCELLED
FINAL_STATES = frozenset({SENT, FAILED, SKIPPED, CANCELLED})


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
    nudge_id = schedule_id(
        session=session,
        team_id=team_id,
        user_slack_id=user_slack_id,
        kind=kind,
        due_at=due_at,
        idempotency_key=idempotency_key,
        now=now,
        payload=payload,
        ritual_run_id=ritual_run_id,
    )
    nudge = session.get(Nudge, nudge_id)
    assert nudge is not None
    return nudge


def schedule_id(
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
) -> int:
    """`schedule`, returning the row's id only: one INSERT when the key is new (the deal
    intake's path, which needs no object back)."""
    nudge_id = insert_or_skip(
        session,
        Nudge,
        {
            "team_id": team_id,
            "user_slack_id": user_slack_id,
            "kind": kind,
            "payload": payload or {},
            "due_at": due_at,
            "idempotency_key": idempotency_key,
            "state": PENDING.value,
            "attempts": 0,
            "reconcile_attempts": 0,
            "budgeted": False,
            "ritual_run_id": ritual_run_id,
            "created_at": now,
            "updated_at": now,
        },
    )
    if nudge_id is not None:
        return nudge_id
    # The key was taken, earlier or by another worker a moment ago.
    return int(
        session.exec(select(Nudge.id).where(Nudge.idempotency_key == idempotency_key)).one() or 0
    )


def claim(*, session: Session, nudge_id: int, now: datetime, lease: timedelta) -> Nudge | None:
    """Claim one pending nudge by id; None if it is not pending (someone else has it)."""
    result = session.execute(
        update(Nudge)
        .where(col(Nudge.id) == nudge_id, col(Nudge.state) == PENDING)
        .values(
            state=SENDING,
            lease_until=now + lease,
            claim_token=uuid.uuid4().hex,
            attempts=Nudge.attempts + 1,
            post_started_at=None,
            updated_at=now,
        )
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return None
    session.flush()
    return session.get(Nudge, nudge_id, populate_existing=True)


def claim_due(
    *,
    session: Session,
    now: datetime,
    limit: int,
    lease: timedelta,
    skip_teams: Collection[str] = (),
) -> list[Nudge]:
    """Claim up to `limit` due nudges, oldest first.

    On PostgreSQL `FOR UPDATE SKIP LOCKED` lets several replicas claim side by side
    without ever taking the same row; on SQLite the caller holds the write lock
    (an immediate transaction), so the read-then-update is already exclusive.
    `skip_teams`: workspaces the caller may not post to right now (paced)."""
    if limit <= 0:
        return []
    query = (
        select(Nudge.id)
        .where(col(Nudge.state) == PENDING, col(Nudge.due_at) <= now)
        .order_by(col(Nudge.due_at), col(Nudge.id))
        .limit(limit)
    )
    if skip_teams:
        query = query.where(col(Nudge.team_id).not_in(list(skip_teams)))
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
            claim_token=uuid.uuid4().hex,
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


def anything_due(*, session: Session, now: datetime) -> bool:
    """Is any pending nudge due? (Uses the state + due_at index; stops at the first.)"""
    query = select(Nudge.id).where(col(Nudge.state) == PENDING, col(Nudge.due_at) <= now)
    return session.exec(query.limit(1)).first() is not None


def next_due_at(*, session: Session) -> datetime | None:
    """When the earliest pending nudge falls due."""
    query = select(func.min(Nudge.due_at)).where(col(Nudge.state) == PENDING)
    return session.exec(query).one()


def _settle(
    session: Session,
    nudge_id: int,
    now: datetime,
    *,
    states: tuple[str, ...] = (SENDING,),
    claim_token: str | None = None,
    **values: Any,
) -> bool:
    """Settle a row this worker claimed. With `claim_token`, a worker whose claim was
    taken over (lease ran out, row reclaimed) changes nothing."""
    where = [col(Nudge.id) == nudge_id, col(Nudge.state).in_(states)]
    if claim_token is not None:
        where.append(col(Nudge.claim_token) == claim_token)
    result = session.execute(update(Nudge).where(*where).values(updated_at=now, **values))
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def mark_posting(
    *,
    session: Session,
    nudge_id: int,
    now: datetime,
    lease: timedelta | None = None,
    claim_token: str | None = None,
) -> bool:
    """Record that the post is about to go out. False means this worker lost the claim
    (its lease ran out and another worker took the row back): it must not post."""
    where = [
        col(Nudge.id) == nudge_id,
        col(Nudge.state) == SENDING,
        or_(col(Nudge.lease_until).is_(None), col(Nudge.lease_until) > now),
    ]
    if claim_token is not None:
        where.append(col(Nudge.claim_token) == claim_token)
    result = session.execute(
        update(Nudge)
        .where(*where)
        .values(
            updated_at=now,
            post_started_at=now,
            first_post_at=func.coalesce(Nudge.first_post_at, now),
            # A fresh lease for the post itself, however long the steps before it took.
            **({"lease_until": now + lease} if lease is not None else {}),
        )
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def mark_sent(
    *,
    session: Session,
    nudge_id: int,
    now: datetime,
    channel: str,
    ts: str,
    claim_token: str | None = None,
    budgeted: bool = False,
) -> bool:
    # From `uncertain` too: if a slow post outlived its lease and was marked uncertain,
    # Slack's ok settles the doubt.
    return _settle(
        session,
        nudge_id,
        now,
        states=(SENDING, UNCERTAIN),
        claim_token=claim_token,
        state=SENT,
        sent_channel=channel,
        sent_ts=ts,
        lease_until=None,
        last_error=None,
        budgeted=budgeted,
    )


def _finish(
    session: Session, nudge_id: int, now: datetime, state: str, why: str, claim_token: str | None
) -> bool:
    """End a claim in a final state, keeping the reason for the admin."""
    return _settle(
        session,
        nudge_id,
        now,
        claim_token=claim_token,
        state=state,
        last_error=why[:500],
        lease_until=None,
    )


def mark_failed(
    *, session: Session, nudge_id: int, now: datetime, error: str, claim_token: str | None = None
) -> bool:
    return _finish(session, nudge_id, now, FAILED, error, claim_token)


def mark_skipped(
    *, session: Session, nudge_id: int, now: datetime, reason: str, claim_token: str | None = None
) -> bool:
    return _finish(session, nudge_id, now, SKIPPED, reason, claim_token)


def mark_uncertain(
    *,
    session: Session,
    nudge_id: int,
    now: datetime,
    error: str,
    reconcile_at: datetime | None = None,
    claim_token: str | None = None,
) -> bool:
    """The post may or may not have gone out. `reconcile_at`: when to look in the DM's
    history (default: at once); each new doubt starts its own count of failed looks."""
    return _settle(
        session,
        nudge_id,
        now,
        claim_token=claim_token,
        state=UNCERTAIN,
        last_error=error[:500],
        lease_until=None,
        due_at=reconcile_at or now,
        reconcile_attempts=0,
    )


def claim_uncertain(
    *, session: Session, now: datetime, limit: int, lease: timedelta, max_attempts: int
) -> list[Nudge]:
    """Claim up to `limit` uncertain nudges whose next look at the DM's history is due.

    The row goes to `sending` with `post_started_at` kept, so a reconciler that dies
    holding it leaves it uncertain again (recover_expired_leases), never pending. Only
    one reconciler may hold a row: two reading the history around a resend could both
    decide to send. Rows that used up `max_attempts` looks stay uncertain for an admin."""
    if limit <= 0:
        return []
    query = (
        select(Nudge.id)
        .where(
            col(Nudge.state) == UNCERTAIN,
            col(Nudge.due_at) <= now,
            col(Nudge.reconcile_attempts) < max_attempts,
        )
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
        .where(col(Nudge.id).in_(ids), col(Nudge.state) == UNCERTAIN)
        .values(
            state=SENDING,
            lease_until=now + lease,
            claim_token=uuid.uuid4().hex,
            post_started_at=func.coalesce(Nudge.post_started_at, now),
            updated_at=now,
        )
    )
    return _now_sending(session, ids)


def _now_sending(session: Session, ids: Collection[int | None]) -> list[Nudge]:
    """The rows of `ids` this claim just moved to sending, freshly read, oldest due first."""
    session.flush()
    rows = session.exec(
        select(Nudge)
        .where(col(Nudge.id).in_(ids), col(Nudge.state) == SENDING)
        .execution_options(populate_existing=True)
    ).all()
    return sorted(rows, key=lambda n: (n.due_at, n.id))


def still_uncertain(
    *,
    session: Session,
    nudge_id: int,
    now: datetime,
    reconcile_at: datetime,
    error: str,
    count_attempt: bool = True,
    claim_token: str | None = None,
) -> bool:
    """The DM's history could not be read: the row stays uncertain, to be looked at
    again at `reconcile_at`. `count_attempt` False for a 429 (Slack's pace, not a
    failure)."""
    extra: dict[str, Any] = (
        {"reconcile_attempts": Nudge.reconcile_attempts + 1} if count_attempt else {}
    )
    return _settle(
        session,
        nudge_id,
        now,
        claim_token=claim_token,
        state=UNCERTAIN,
        due_at=reconcile_at,
        last_error=error[:500],
        lease_until=None,
        **extra,
    )


def release(
    *,
    session: Session,
    nudge_id: int,
    now: datetime,
    due_at: datetime,
    error: str | None,
    refund_attempt: bool = False,
    claim_token: str | None = None,
) -> bool:
    """Give a claimed nudge back, to be tried again at `due_at` (nothing was posted).

    `refund_attempt` for give-backs that were not the nudge's fault (a 429, pacing,
    shutting down), so a busy evening never uses up its retries."""
    extra: dict[str, Any] = {"attempts": Nudge.attempts - 1} if refund_attempt else {}
    return _settle(
        session,
        nudge_id,
        now,
        claim_token=claim_token,
        state=PENDING,
        due_at=due_at,
        last_error=error[:500] if error else None,
        lease_until=None,
        post_started_at=None,
        **extra,
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
            last_error="worker stopped while posting; checking the DM before sending again",
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


COLLAPSED = "missed slot: a newer one of the same kind is due, so only that one is sent"


def collapse_missed(
    *, session: Session, kind: str, team_id: str, user_slack_id: str, now: datetime
) -> int:
    """Missed recurring slots collapse into one: of one person's pending nudges of
    `kind` that are already due, keep the newest and mark the rest skipped.

    For planners of recurring nudges (end-of-day reflections, weekly digests): after
    downtime a rep gets one reflection, not one per missed evening. The newest still
    meets its kind's lateness policy when it is sent (a reflection hours late is skipped
    in turn), and the planner then only needs to schedule the next future slot.
    Returns how many were skipped."""
    rows = session.exec(
        select(Nudge.id)
        .where(
            col(Nudge.kind) == kind,
            col(Nudge.team_id) == team_id,
            col(Nudge.user_slack_id) == user_slack_id,
            col(Nudge.state) == PENDING,
            col(Nudge.due_at) <= now,
        )
        .order_by(col(Nudge.due_at).desc(), col(Nudge.id).desc())
    ).all()
    older = list(rows[1:])
    if not older:
        return 0
    result = session.execute(
        update(Nudge)
        .where(col(Nudge.id).in_(older), col(Nudge.state) == PENDING)
        .values(state=SKIPPED, last_error=COLLAPSED, updated_at=now)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def collapse_all_missed(*, session: Session, kind: str, now: datetime) -> int:
    """`collapse_missed` for everyone at once, in one statement (the dispatcher runs it
    each tick for kinds whose policy says `collapse_missed=True`)."""
    newer = aliased(Nudge)
    has_newer = exists().where(
        col(newer.kind) == col(Nudge.kind),
        col(newer.team_id) == col(Nudge.team_id),
        col(newer.user_slack_id) == col(Nudge.user_slack_id),
        col(newer.state) == PENDING,
        col(newer.due_at) <= now,
        or_(
            col(newer.due_at) > col(Nudge.due_at),
            and_(col(newer.due_at) == col(Nudge.due_at), col(newer.id) > col(Nudge.id)),
        ),
    )
    result = session.execute(
        update(Nudge)
        .where(
            col(Nudge.kind) == kind,
            col(Nudge.state) == PENDING,
            col(Nudge.due_at) <= now,
            has_newer,
        )
        .values(state=SKIPPED, last_error=COLLAPSED, updated_at=now)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


# --- the noise budget (bot/nudges/budget.py) ------------------------------------------------


def claim_companions(
    *,
    session: Session,
    team_id: str,
    user_slack_id: str,
    due_by: datetime,
    now: datetime,
    lease: timedelta,
    exclude_kinds: Collection[str],
    limit: int,
) -> list[Nudge]:
    """Claim this person's other pending nudges due by `due_by` (a bundle gathers what
    falls due within its hour), oldest first, except kinds that always go on their own.

    The caller holds the write lock (SQLite: an immediate transaction); on PostgreSQL,
    SKIP LOCKED leaves rows another replica is claiming to that replica."""
    if limit <= 0:
        return []
    query = (
        select(Nudge.id)
        .where(
            col(Nudge.team_id) == team_id,
            col(Nudge.user_slack_id) == user_slack_id,
            col(Nudge.state) == PENDING,
            col(Nudge.due_at) <= due_by,
        )
        .order_by(col(Nudge.due_at), col(Nudge.id))
        .limit(limit)
    )
    if exclude_kinds:
        query = query.where(col(Nudge.kind).not_in(list(exclude_kinds)))
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    ids = list(session.exec(query).all())
    if not ids:
        return []
    session.execute(
        update(Nudge)
        .where(col(Nudge.id).in_(ids), col(Nudge.state) == PENDING)
        .values(
            state=SENDING,
            lease_until=now + lease,
            claim_token=uuid.uuid4().hex,
            attempts=Nudge.attempts + 1,
            post_started_at=None,
            updated_at=now,
        )
    )
    return _now_sending(session, ids)


def dms_sent_since(
    *, session: Session, team_id: str, user_slack_id: str, since: datetime
) -> dict[str, datetime]:
    """The DMs (by ts: a bundle is one) the noise budget sent this person since `since`,
    each with when it was sent. A sent row is final, so its `updated_at` is when Slack
    said ok (or when reconciling found it)."""
    query = select(Nudge.sent_ts, Nudge.updated_at).where(
        col(Nudge.team_id) == team_id,
        col(Nudge.user_slack_id) == user_slack_id,
        col(Nudge.state) == SENT,
        col(Nudge.budgeted).is_(True),
        col(Nudge.updated_at) >= since,
    )
    out: dict[str, datetime] = {}
    for ts, at in session.exec(query).all():
        if ts is None or at is None:
            continue
        out[ts] = max(out.get(ts, at), at)
    return out


# --- a question a nudge asks once (its buttons record the answer on the row) -------------------


def asked_round(nudge: Nudge) -> int:
    """Which time this is asked (1, then 2 after a "not yet"), from the payload."""
    return int(nudge.payload.get("round") or 1)


def asked_answer(nudge: Nudge, answers: Collection[str]) -> str | None:
    answer = nudge.payload.get("answer")
    return str(answer) if answer in answers else None


def record_asked_answer(*, session: Session, nudge: Nudge, answer: str, now: datetime) -> None:
    """Kept on the nudge, so a second click (or a second button) changes nothing."""
    nudge.payload = {**nudge.payload, "answer": answer, "answered_at": now.isoformat()}
    nudge.updated_at = now
    session.add(nudge)
