"""CSV exports for `/loop export`, scoped by who asks: a rep their own rows, a manager
their team's (their reports' and their own), an admin the whole workspace.

Every row's private text follows the same rule as everywhere else (storage/access.py):
a debrief's guess and answers only where the reader may read that debrief (their own,
a call they were handed, a lesson shared with the team); a concern's words only for the
rep who logged it; reflections only ever the reader's own. Other rows still appear, with
their dates and states, so counts add up. UTF-8 with a BOM, so Excel opens it right."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from storage.access import may_read_debrief, reports_of
from storage.kinds import DEBRIEF_RITUALS, REASON_CATEGORIES, Ritual
from storage.models import Deal, Reflection, RitualRun, Story
from storage.run_data import concern_data

KINDS = ("deals", "debriefs", "concerns", "stories", "reflections")
BOM = "\ufeff"
# Rows are read in batches, so 50,000 deals never sit in memory as ORM objects at once.
BATCH = 1000

LOSS_FIELDS = ("reason", "missed", "needs", "solution", "gap", "takeaways")
WIN_FIELDS = ("why", "appealed", "almost", "strengths")


@dataclass(frozen=True)
class Scope:
    team_id: str
    viewer: str
    # Whose rows: None is the whole workspace (an admin).
    reps: frozenset[str] | None

    def covers(self, rep: str | None) -> bool:
        return self.reps is None or (rep is not None and rep in self.reps)


def scope_for(*, session: Session, team_id: str, viewer: str, admin: bool) -> Scope:
    if admin:
        return Scope(team_id, viewer, None)
    reports = reports_of(session=session, team_id=team_id, manager=viewer)
    return Scope(team_id, viewer, frozenset({viewer, *reports}))


@dataclass(frozen=True)
class Export:
    kind: str
    filename: str
    content: bytes
    rows: int


def export(*, session: Session, scope: Scope, kind: str, today: str) -> Export:
    header, rows = _TABLES[kind](session, scope)
    buffer = io.StringIO()
    buffer.write(BOM)
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    n = 0
    for row in rows:
        writer.writerow([_cell(v) for v in row])
        n += 1
    return Export(kind, f"feedback-loop-{kind}-{today}.csv", buffer.getvalue().encode(), n)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, bool):
        return "yes" if value else "no"
    text = str(value)
    # A cell starting with = + - @ is a formula to Excel; a quote makes it text.
    return "'" + text if text[:1] in ("=", "+", "-", "@") and not _number(text) else text


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _batched(session: Session, statement: Any) -> Iterator[Any]:
    yield from session.exec(statement.execution_options(yield_per=BATCH))


def _tuples(session: Session, statement: Any) -> Iterator[Any]:
    """Rows of plain columns (SQLAlchemy's select: SQLModel's types at most four)."""
    yield from session.execute(statement.execution_options(yield_per=BATCH))


def _rep_filter(statement: Any, column: Any, scope: Scope) -> Any:
    if scope.reps is None:
        return statement
    return statement.where(col(column).in_(sorted(scope.reps)))


DEAL_HEADER = [
    "deal_id",
    "closed_at",
    "account",
    "outcome",
    "amount",
    "currency",
    "rep",
    "source",
    "crm_record",
    "status",
]


def _deals(session: Session, scope: Scope) -> tuple[list[str], Iterable[list[Any]]]:
    # Plain columns, not ORM objects: 50,000 rows go by several times faster.
    statement = _rep_filter(
        sa_select(
            *(
                col(Deal.id),
                col(Deal.created_at),
                col(Deal.account),
                col(Deal.outcome),
                col(Deal.amount),
                col(Deal.currency),
                col(Deal.rep_slack_id),
                col(Deal.source),
                col(Deal.external_id),
                col(Deal.status),
            )
        )
        .where(col(Deal.team_id) == scope.team_id)
        .order_by(col(Deal.id)),
        Deal.rep_slack_id,
        scope,
    )
    return DEAL_HEADER, (list(row) for row in _tuples(session, statement))


DEBRIEF_HEADER = [
    "deal_id",
    "account",
    "outcome",
    "rep",
    "debrief",
    "state",
    "started_at",
    "logged_at",
    "logged_by",
    "shared_with_team",
    "answers_included",
    "guess",
    *(f"client_{f}" for f in LOSS_FIELDS),
    *(f"win_{f}" for f in WIN_FIELDS),
    "win_quote",
    # The kinds of reason (slugs: storage/kinds.py ReasonCategory), last so the columns
    # before them keep their places; like the guess and the answers, only where readable.
    "reason_category",
    "competitor",
    "guess_category",
]


def _category(value: Any) -> str | None:
    return value if value in REASON_CATEGORIES else None


def _callers(session: Session, team_id: str) -> dict[int, str]:
    """deal id -> who was asked to make the manager call (not declined)."""
    statement = select(RitualRun).where(
        RitualRun.team_id == team_id, RitualRun.ritual == Ritual.MANAGER_CALL
    )
    out: dict[int, str] = {}
    for run in _batched(session, statement):
        if run.deal_id is not None and run.state != "declined":
            out[run.deal_id] = run.user_slack_id
    return out


def _debriefs(session: Session, scope: Scope) -> tuple[list[str], Iterable[list[Any]]]:
    callers = _callers(session, scope.team_id)
    statement = _rep_filter(
        sa_select(
            *(
                col(RitualRun.deal_id),
                col(RitualRun.account),
                col(RitualRun.user_slack_id),
                col(RitualRun.ritual),
                col(RitualRun.state),
                col(RitualRun.created_at),
                col(RitualRun.data),
                col(Deal.account),
                col(Deal.outcome),
            )
        )
        .join(Deal, col(Deal.id) == col(RitualRun.deal_id), isouter=True)
        .where(
            col(RitualRun.team_id) == scope.team_id,
            col(RitualRun.ritual).in_([str(r) for r in DEBRIEF_RITUALS]),
        )
        .order_by(col(RitualRun.id)),
        RitualRun.user_slack_id,
        scope,
    )

    def rows() -> Iterator[list[Any]]:
        for deal_id, run_account, rep, ritual, state, created, raw, account, outcome in _batched(
            session, statement
        ):
            # The stored JSON read as is (storage/debriefs.py's DebriefData names these
            # keys): validating 50,000 rows costs more than the export itself.
            data: dict[str, Any] = raw or {}
            readable = may_read_debrief(
                scope.viewer,
                owner=rep,
                shared=bool(data.get("shared")),
                call_manager=callers.get(deal_id) if deal_id is not None else None,
            )
            client = (data.get("client") or {}) if readable else {}
            win = (data.get("win") or {}) if readable else {}
            quote = win.get("quote") if win.get("quote_ok") in (True, "yes", "true") else None
            yield [
                deal_id,
                account if account is not None else run_account,
                outcome,
                rep,
                "win" if ritual == Ritual.WIN_DEBRIEF else "loss",
                state,
                created,
                data.get("logged_at"),
                data.get("logged_by"),
                bool(data.get("shared")),
                readable,
                data.get("guess") if readable else None,
                *(client.get(f) for f in LOSS_FIELDS),
                *(win.get(f) for f in WIN_FIELDS),
                quote,
                _category(client.get("reason_category")),
                client.get("competitor") if _category(client.get("reason_category")) else None,
                _category(data.get("guess_category")) if readable else None,
            ]

    return DEBRIEF_HEADER, rows()


CONCERN_HEADER = [
    "concern_id",
    "logged_at",
    "rep",
    "account",
    "state",
    "check_ins_answered",
    "last_answer_at",
    "concern",
    "last_answer",
]


def _concerns(session: Session, scope: Scope) -> tuple[list[str], Iterable[list[Any]]]:
    statement = _rep_filter(
        select(RitualRun)
        .where(RitualRun.team_id == scope.team_id, RitualRun.ritual == Ritual.CONCERN)
        .order_by(col(RitualRun.id)),
        RitualRun.user_slack_id,
        scope,
    )

    def rows() -> Iterator[list[Any]]:
        for run in _batched(session, statement):
            data = concern_data(run)
            own = run.user_slack_id == scope.viewer
            last = data.asks[-1] if data.asks else None
            yield [
                run.id,
                run.created_at,
                run.user_slack_id,
                run.account,
                run.state,
                len(data.asks),
                last.at if last else None,
                data.concern if own else None,
                last.answer if own and last else None,
            ]

    return CONCERN_HEADER, rows()


STORY_HEADER = [
    "story_id",
    "shared_at",
    "week",
    "rep",
    "lesson",
    "what_they_did",
    "what_happened",
    "typed_in_thread",
    "deal_id",
    "account",
    "share_credited_pct",
    "amount_attributed",
    "currency",
    "link",
]


def _stories(session: Session, scope: Scope) -> tuple[list[str], Iterable[list[Any]]]:
    # Stories were shared with the team in the channel: the words go with the rows the
    # reader may see, as they are in the thread. Deleted ones are gone. Plain columns,
    # not ORM objects: 10,000 stories with their deals.
    statement = _rep_filter(
        sa_select(
            col(Story.id),
            col(Story.created_at),
            col(Story.week),
            col(Story.rep_slack_id),
            col(Story.lesson),
            col(Story.did),
            col(Story.happened),
            col(Story.text),
            col(Story.deal_id),
            col(Deal.account),
            col(Story.share),
            col(Deal.amount),
            col(Deal.currency),
            col(Story.permalink),
        )  # fmt: skip
        .join(Deal, col(Deal.id) == col(Story.deal_id), isouter=True)
        .where(col(Story.team_id) == scope.team_id, col(Story.state) != "deleted")
        .order_by(col(Story.id)),
        Story.rep_slack_id,
        scope,
    )

    def rows() -> Iterator[list[Any]]:
        for row in _tuples(session, statement):
            (story_id, created, week, rep, lesson, did, happened, text, deal_id, account,
             share, amount, currency, link) = row  # fmt: skip
            attributed = None
            if amount is not None and share is not None:
                attributed = (amount * share / 100).quantize(amount)
            yield [
                story_id, created, week, rep, lesson, did, happened, text, deal_id, account,
                share, attributed, currency, link,
            ]  # fmt: skip

    return STORY_HEADER, rows()


REFLECTION_HEADER = ["date", "went_well", "fell_short", "do_better"]


def _reflections(session: Session, scope: Scope) -> tuple[list[str], Iterable[list[Any]]]:
    # Never anyone else's, whatever the reader's role.
    statement = (
        select(Reflection)
        .where(Reflection.team_id == scope.team_id, Reflection.user_slack_id == scope.viewer)
        .order_by(col(Reflection.local_date))
    )

    def rows() -> Iterator[list[Any]]:
        for r in _batched(session, statement):
            yield [r.local_date, r.went, r.short, r.better]

    return REFLECTION_HEADER, rows()


_TABLES = {
    "deals": _deals,
    "debriefs": _debriefs,
    "concerns": _concerns,
    "stories": _stories,
    "reflections": _reflections,
}
