"""End-of-day reflections, the reps who get them, and the recurring nudges' bulk writes.

The planner runs every dispatcher tick over a window of the people the bot knows, so
its queries read only the columns it needs, page by person id, and insert in batches."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import exists, tuple_, update
from sqlmodel import Session, col, select

from storage import nudges
from storage.access import REFLECTIONS, grant, rep_clause, revoke
from storage.focus import current_focus, focus_by_id, get_check, record_check, set_focus
from storage.kinds import Kind
from storage.models import Nudge, Person, Reflection, Workspace

REFLECTION = Kind.REFLECTION
WEEKLY_DIGEST = Kind.WEEKLY_DIGEST


@dataclass(frozen=True)
class Rep:
    id: int
    team_id: str
    slack_id: str
    tz: str | None


# A planned nudge's row for one rep: (rep, the workspace's holidays, the instant after
# which to look for a slot) -> the row insert_nudges takes. Pure scheduling, passed in
# by the caller: storage only reads, pages and writes.
RowMaker = Callable[["Rep", frozenset[str], datetime], dict[str, Any]]
# How many used slots in a row a rep may have (the one just sent, then a local date
# already used in a zone they left); past that they wait for the next tick.
MAX_COLLISIONS = 14


@dataclass(frozen=True)
class PlanStep:
    reps: int  # reps looked at (fewer than the limit: the last page)
    last_id: int | None  # where the next page starts
    added: int  # nudges inserted


def reflection_key(team_id: str, user_id: str, local_date: str) -> str:
    return f"reflect:{team_id}:{user_id}:{local_date}"


def digest_key(team_id: str, user_id: str, week: str) -> str:
    return f"digest:{team_id}:{user_id}:{week}"


def person_id_window(*, session: Session, after_id: int, size: int) -> int | None:
    """The id of the `size`-th person after `after_id` (by id): the end of a window of
    `size` people. None when fewer are left."""
    return session.exec(
        select(Person.id)
        .where(col(Person.id) > after_id)
        .order_by(col(Person.id))
        .offset(size - 1)
        .limit(1)
    ).first()


def reps_without_pending(
    *, session: Session, kind: str, after_id: int, limit: int, up_to_id: int | None = None
) -> list[Rep]:
    """Reps who should get `kind` but have no pending one, by person id after `after_id`
    (and up to `up_to_id`: the query then looks at no one past it).

    Who counts as a rep: every person the bot knows (a Person row, filled from Slack
    when they first meet the bot) who is not a bot, not deactivated, not paused and
    has not typed `/loop reflect off`."""
    has_pending: Any
    if session.get_bind().dialect.name == "sqlite":
        # SQLite answers a correlated NOT EXISTS with one probe of ix_nudge_user_kind
        # per person, the cheapest plan it has.
        has_pending = exists().where(
            col(Nudge.team_id) == col(Person.team_id),
            col(Nudge.user_slack_id) == col(Person.slack_id),
            col(Nudge.kind) == kind,
            col(Nudge.state) == nudges.PENDING,
        )
    else:
        # PostgreSQL's estimates are stale right after the planner's bulk insert, and
        # with NOT EXISTS it then compared every person with every pending row (seconds
        # for 10,000 reps). NOT IN over a plain subquery is hashed once, whatever the
        # statistics say.
        has_pending = tuple_(col(Person.team_id), col(Person.slack_id)).in_(
            select(Nudge.team_id, Nudge.user_slack_id).where(
                col(Nudge.kind) == kind, col(Nudge.state) == nudges.PENDING
            )
        )
    window = [] if up_to_id is None else [col(Person.id) <= up_to_id]
    rows = session.exec(
        select(Person.id, Person.team_id, Person.slack_id, Person.tz)
        .where(
            col(Person.id) > after_id,
            *window,
            col(Person.is_bot).is_(False),
            col(Person.deleted).is_(False),
            col(Person.paused).is_(False),
            col(Person.reflections_off).is_(False),
            # Reps only (a deal, a manager, or listed), plus whoever opted in: a manager
            # who only opened App Home, or an admin, gets no evening DM.
            rep_clause(),
            ~has_pending,
        )
        .order_by(col(Person.id))
        .limit(limit)
    ).all()
    return [Rep(i, str(team), str(user), tz) for i, team, user, tz in rows if i is not None]


def holidays_by_team(*, session: Session, team_ids: Iterable[str]) -> dict[str, frozenset[str]]:
    teams = set(team_ids)
    if not teams:
        return {}
    rows = session.exec(
        select(Workspace.team_id, Workspace.holidays).where(col(Workspace.team_id).in_(teams))
    ).all()
    return {str(team): frozenset(days or ()) for team, days in rows}


def existing_keys(*, session: Session, keys: Sequence[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(keys), 500):
        chunk = list(keys[start : start + 500])
        found.update(
            session.exec(
                select(Nudge.idempotency_key).where(col(Nudge.idempotency_key).in_(chunk))
            ).all()
        )
    return found


def insert_nudges(*, session: Session, rows: Sequence[dict[str, Any]], now: datetime) -> None:
    """Add many pending nudges at once; a key someone else added meanwhile is left alone.

    Each row needs team_id, user_slack_id, kind, due_at, idempotency_key and payload."""
    if not rows:
        return
    full = [
        {
            "state": nudges.PENDING,
            "attempts": 0,
            "created_at": now,
            "updated_at": now,
            **row,
        }
        for row in rows
    ]
    dialect = session.get_bind().dialect.name
    if dialect not in ("sqlite", "postgresql"):
        for row in full:
            nudges.schedule(
                session=session,
                team_id=row["team_id"],
                user_slack_id=row["user_slack_id"],
                kind=row["kind"],
                due_at=row["due_at"],
                idempotency_key=row["idempotency_key"],
                payload=row["payload"],
                now=now,
            )
        return
    table: Any = Nudge.__table__  # type: ignore[attr-defined]
    statement: Any
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        statement = sqlite_insert(table).on_conflict_do_nothing(index_elements=["idempotency_key"])
    else:
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        statement = pg_insert(table).on_conflict_do_nothing(index_elements=["idempotency_key"])
    for start in range(0, len(full), 500):
        session.execute(statement, full[start : start + 500])


def set_reflections_off(
    *, session: Session, team_id: str, user_id: str, off: bool, now: datetime
) -> None:
    """Opt a rep out of (or back into) reflections; opting out drops what is pending."""
    session.execute(
        update(Person)
        .where(col(Person.team_id) == team_id, col(Person.slack_id) == user_id)
        .values(reflections_off=off)
    )
    if off:
        for prefix in (reflection_key(team_id, user_id, ""), digest_key(team_id, user_id, "")):
            nudges.cancel_pending(session=session, idempotency_key_prefix=prefix, now=now)


def get_reflection(
    *, session: Session, team_id: str, user_id: str, local_date: str
) -> Reflection | None:
    return session.exec(
        select(Reflection).where(
            Reflection.team_id == team_id,
            Reflection.user_slack_id == user_id,
            Reflection.local_date == local_date,
        )
    ).first()


def save_reflection(
    *,
    session: Session,
    team_id: str,
    user_id: str,
    local_date: str,
    went: str,
    short: str,
    better: str,
    now: datetime,
) -> Reflection:
    """Store the day's reflection; a second one the same day replaces the first (the
    modal shows the first as its starting text, so nothing is lost unseen)."""
    row = get_reflection(session=session, team_id=team_id, user_id=user_id, local_date=local_date)
    if row is None:
        row = Reflection(
            team_id=team_id, user_slack_id=user_id, local_date=local_date, created_at=now
        )
    row.went, row.short, row.better = went, short, better
    row.updated_at = now
    session.add(row)
    session.flush()
    return row


def week_reflections(
    *, session: Session, team_id: str, user_id: str, monday: str, sunday: str
) -> list[Reflection]:
    """One rep's reflections from `monday` to `sunday` (ISO dates, their own zone)."""
    return list(
        session.exec(
            select(Reflection)
            .where(
                Reflection.team_id == team_id,
                Reflection.user_slack_id == user_id,
                col(Reflection.local_date) >= monday,
                col(Reflection.local_date) <= sunday,
            )
            .order_by(col(Reflection.local_date))
        ).all()
    )


def team_holidays(*, session: Session, team_id: str) -> frozenset[str]:
    return holidays_by_team(session=session, team_ids=[team_id]).get(team_id, frozenset())


def _free_rows(
    *, session: Session, reps: list[Rep], make_row: RowMaker, since: datetime
) -> list[dict[str, Any]]:
    """The next free slot of each rep after `since`. A slot whose key exists was already
    sent or skipped (the one just sent, or a local date used in a zone the rep has left);
    those move on to the slot after, in rounds of one query each."""
    holidays = holidays_by_team(session=session, team_ids={r.team_id for r in reps})
    days_off = [holidays.get(r.team_id, frozenset()) for r in reps]
    rows = [make_row(rep, off, since) for rep, off in zip(reps, days_off, strict=True)]
    todo = list(range(len(rows)))
    for _ in range(MAX_COLLISIONS):
        taken = existing_keys(session=session, keys=[rows[i]["idempotency_key"] for i in todo])
        todo = [i for i in todo if rows[i]["idempotency_key"] in taken]
        if not todo:
            break
        for i in todo:
            rows[i] = make_row(reps[i], days_off[i], rows[i]["due_at"])
    stuck = set(todo)
    return [row for i, row in enumerate(rows) if i not in stuck]


def plan_page(
    *,
    session: Session,
    kind: str,
    after_id: int,
    limit: int,
    up_to_id: int | None,
    make_row: RowMaker,
    since: datetime,
    now: datetime,
) -> PlanStep:
    """One page of the planner, in one transaction: the reps after `after_id` lacking a
    pending `kind`, each given their next free slot."""
    reps = reps_without_pending(
        session=session, kind=kind, after_id=after_id, limit=limit, up_to_id=up_to_id
    )
    if not reps:
        return PlanStep(0, None, 0)
    rows = _free_rows(session=session, reps=reps, make_row=make_row, since=since)
    insert_nudges(session=session, rows=rows, now=now)
    return PlanStep(len(reps), reps[-1].id, len(rows))


def set_reflection_choice(
    *, session: Session, team_id: str, user_id: str, off: bool, now: datetime
) -> None:
    """`/loop reflect off|on`, in one transaction: the flag the planner reads, and the
    opt-in role, which is how someone who is not a rep gets reflections at all."""
    set_reflections_off(session=session, team_id=team_id, user_id=user_id, off=off, now=now)
    if off:
        revoke(session=session, team_id=team_id, slack_id=user_id, role=REFLECTIONS)
    else:
        grant(
            session=session,
            team_id=team_id,
            slack_id=user_id,
            role=REFLECTIONS,
            by=user_id,
            now=now,
        )


def answers_so_far(
    *, session: Session, team_id: str, user_id: str, local_date: str
) -> dict[str, str]:
    """What the rep already wrote that day (the modal opens with it)."""
    row = get_reflection(session=session, team_id=team_id, user_id=user_id, local_date=local_date)
    if row is None:
        return {}
    check = get_check(session=session, team_id=team_id, user_id=user_id, local_date=local_date)
    came_up = None
    if check is not None and check.came_up is not None:
        came_up = "yes" if check.came_up else "no"
    answers = {"went": row.went, "short": row.short, "better": row.better}
    return {**answers, "came_up": came_up} if came_up else answers


@dataclass(frozen=True)
class FocusChange:
    changed: bool
    focus: str | None  # the focus now (None: cleared)


def save_evening(
    *,
    session: Session,
    team_id: str,
    user_id: str,
    local_date: str,
    answers: dict[str, str],
    asked_focus_id: int | None,
    came_up: bool | None,
    next_focus: str | None,
    now: datetime,
) -> FocusChange:
    """The evening modal, in one transaction: the reflection, whether the focus it asked
    about came up (recorded against that focus, even if the rep changes it in the same
    form), and the focus for the days after (None: the form had no such field)."""
    asked = (
        focus_by_id(session=session, team_id=team_id, user_id=user_id, focus_id=asked_focus_id)
        if asked_focus_id
        else None
    )
    save_reflection(
        session=session,
        team_id=team_id,
        user_id=user_id,
        local_date=local_date,
        went=answers["went"],
        short=answers["short"],
        better=answers["better"],
        now=now,
    )
    if asked is not None:
        record_check(
            session=session,
            team_id=team_id,
            user_id=user_id,
            local_date=local_date,
            focus=asked,
            came_up=came_up,
            now=now,
        )
    before = current_focus(session=session, team_id=team_id, user_id=user_id)
    if next_focus is None:
        return FocusChange(False, before.text if before else None)
    after = set_focus(
        session=session,
        team_id=team_id,
        user_id=user_id,
        text=next_focus,
        source="reflection",
        now=now,
    )
    changed = (before.id if before else None) != (after.id if after else None)
    return FocusChange(changed, after.text if after else None)
