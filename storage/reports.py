"""What `/loop report` counts, per rep, over a period, for the reps a reader may see
(storage/export.py's Scope: a rep themselves, a manager their team, an admin everyone).

Stories first: the period's stories of those reps (shared with the team already, so the
lesson and a link go with them; deleted ones never count), each with the deal it helped.
Then counts only, never private words: stories shared; deals by outcome; debriefs logged
and the median days from the deal to the log; manager calls asked and logged; concern
loops closed; and the rep's guess against the client's reason where both carry a reason
category (the log forms' `reason_category`, the guess's `guess_category`)."""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import String, and_, case, func, type_coerce
from sqlalchemy import select as sa_select
from sqlmodel import Session, col

from storage.export import Scope
from storage.kinds import (
    DEBRIEF_RITUALS,
    REASON_CATEGORIES,
    CallState,
    ConcernState,
    DealStatus,
    Ritual,
)
from storage.models import Deal, RitualRun, Story
from storage.stories import LIVE, MonthStory


@dataclass
class RepReport:
    rep: str
    stories: int = 0  # stories shared in the period (not deleted)
    won: int = 0
    lost: int = 0
    no_decision: int = 0
    debriefs: int = 0  # debriefs of the period's deals
    logged: int = 0
    days_to_log: list[float] = field(default_factory=list)
    calls_asked: int = 0
    calls_logged: int = 0
    concerns_closed: int = 0
    compared: int = 0  # logged debriefs with both a guess and a client reason category
    agreed: int = 0
    # logged debriefs by the client's reason category (counts only, never the words)
    reasons: dict[str, int] = field(default_factory=dict)

    @property
    def deals(self) -> int:
        return self.won + self.lost + self.no_decision

    @property
    def median_days(self) -> float | None:
        return statistics.median(self.days_to_log) if self.days_to_log else None


def _in_scope(statement: Any, column: Any, scope: Scope) -> Any:
    if scope.reps is None:
        return statement
    return statement.where(col(column).in_(sorted(scope.reps)))


def _parse(moment: Any) -> datetime | None:
    if isinstance(moment, datetime):
        return moment
    if isinstance(moment, str):
        try:
            return datetime.fromisoformat(moment)
        except ValueError:
            return None
    return None


def rep_reports(
    *, session: Session, scope: Scope, since: datetime, until: datetime
) -> list[RepReport]:
    reports: dict[str, RepReport] = {}

    def of(rep: str) -> RepReport:
        if rep not in reports:
            reports[rep] = RepReport(rep)
        return reports[rep]

    _deals(session, scope, since, until, of)
    _debriefs(session, scope, since, until, of)
    _calls(session, scope, since, until, of)
    _concerns(session, scope, since, until, of)
    _story_counts(session, scope, since, until, of)
    return sorted(reports.values(), key=lambda r: (-r.deals, r.rep))


def _deals(session: Session, scope: Scope, since: datetime, until: datetime, of: Any) -> None:
    statement = _in_scope(
        sa_select(col(Deal.rep_slack_id), col(Deal.outcome), func.count())
        .where(
            col(Deal.team_id) == scope.team_id,
            col(Deal.status) != DealStatus.WITHDRAWN,
            col(Deal.rep_slack_id).is_not(None),
            col(Deal.created_at) >= since,
            col(Deal.created_at) <= until,
        )
        .group_by(col(Deal.rep_slack_id), col(Deal.outcome)),
        Deal.rep_slack_id,
        scope,
    )
    for rep, outcome, n in session.execute(statement):
        report = of(rep)
        if outcome == "won":
            report.won += n
        elif outcome == "lost":
            report.lost += n
        else:
            report.no_decision += n


def _debrief_runs(statement: Any, scope: Scope, since: datetime, until: datetime) -> Any:
    return _in_scope(
        statement.join(Deal, col(Deal.id) == col(RitualRun.deal_id)).where(
            col(RitualRun.team_id) == scope.team_id,
            col(RitualRun.ritual).in_([str(r) for r in DEBRIEF_RITUALS]),
            col(Deal.status) != DealStatus.WITHDRAWN,
            col(Deal.created_at) >= since,
            col(Deal.created_at) <= until,
        ),
        RitualRun.user_slack_id,
        scope,
    )


def _debriefs(session: Session, scope: Scope, since: datetime, until: datetime, of: Any) -> None:
    # Counted by the database; then, of the logged ones only, the three JSON fields the
    # report reads (extracted by the database) and the deal's date as stored: 50,000
    # debriefs are not 50,000 JSON documents and datetimes decoded in Python.
    logged_state = col(RitualRun.state) == "logged"
    counts = sa_select(
        col(RitualRun.user_slack_id),
        func.count(),
        func.sum(case((logged_state, 1), else_=0)),
    ).group_by(col(RitualRun.user_slack_id))
    for rep, n, logged in session.execute(_debrief_runs(counts, scope, since, until)):
        report = of(rep)
        report.debriefs += n
        report.logged += int(logged or 0)
    data = col(RitualRun.data)
    details = sa_select(
        col(RitualRun.user_slack_id),
        data["logged_at"].as_string(),
        data["guess_category"].as_string(),
        data[("client", "reason_category")].as_string(),
        type_coerce(col(Deal.created_at), String),
    ).where(logged_state)
    for rep, logged, guess, reason, closed_at in session.execute(
        _debrief_runs(details, scope, since, until)
    ):
        report = of(rep)
        logged_at = _parse(logged)
        closed = _parse(closed_at)
        if logged_at is not None and closed is not None:
            if closed.tzinfo is None:
                closed = closed.replace(tzinfo=UTC)  # stored as UTC
            if logged_at.tzinfo is None:
                logged_at = logged_at.replace(tzinfo=UTC)
            report.days_to_log.append(max(0.0, (logged_at - closed).total_seconds() / 86400))
        if reason not in REASON_CATEGORIES:
            continue
        report.reasons[reason] = report.reasons.get(reason, 0) + 1
        if guess in REASON_CATEGORIES:
            report.compared += 1
            report.agreed += int(guess == reason)


def _calls(session: Session, scope: Scope, since: datetime, until: datetime, of: Any) -> None:
    statement = sa_select(col(RitualRun.state), col(RitualRun.data)).where(
        col(RitualRun.team_id) == scope.team_id,
        col(RitualRun.ritual) == Ritual.MANAGER_CALL,
        col(RitualRun.created_at) >= since,
        col(RitualRun.created_at) <= until,
    )
    for state, data in session.execute(statement):
        rep = (data or {}).get("rep")
        if not rep or not scope.covers(rep):
            continue
        report = of(rep)
        report.calls_asked += 1
        report.calls_logged += int(state == CallState.LOGGED)


def _concerns(session: Session, scope: Scope, since: datetime, until: datetime, of: Any) -> None:
    statement = _in_scope(
        sa_select(col(RitualRun.user_slack_id), func.count())
        .where(
            col(RitualRun.team_id) == scope.team_id,
            col(RitualRun.ritual) == Ritual.CONCERN,
            col(RitualRun.state) == ConcernState.CLOSED,
            col(RitualRun.updated_at) >= since,
            col(RitualRun.updated_at) <= until,
        )
        .group_by(col(RitualRun.user_slack_id)),
        RitualRun.user_slack_id,
        scope,
    )
    for rep, n in session.execute(statement):
        of(rep).concerns_closed += n


def _live_stories(scope: Scope, since: datetime, until: datetime) -> Any:
    return (
        col(Story.team_id) == scope.team_id,
        col(Story.state).in_(LIVE),
        col(Story.created_at) >= since,
        col(Story.created_at) <= until,
    )


def _story_counts(
    session: Session, scope: Scope, since: datetime, until: datetime, of: Any
) -> None:
    statement = _in_scope(
        sa_select(col(Story.rep_slack_id), func.count())
        .where(*_live_stories(scope, since, until))
        .group_by(col(Story.rep_slack_id)),
        Story.rep_slack_id,
        scope,
    )
    for rep, n in session.execute(statement):
        of(rep).stories += n


def period_stories(
    *, session: Session, scope: Scope, since: datetime, until: datetime
) -> list[MonthStory]:
    """The stories the reps of `scope` shared in [since, until], newest first, each with
    the deal it helped (a withdrawn deal, or one of another workspace, is no deal): what
    the report lists and what its attributed revenue is computed from. Plain columns, so
    10,000 stories are not 10,000 ORM objects."""
    statement = _in_scope(
        sa_select(
            col(Story.id),
            col(Story.rep_slack_id),
            col(Story.lesson),
            col(Story.text),
            col(Story.permalink),
            col(Story.channel),
            col(Story.ts),
            col(Story.share),
            col(Deal.id),
            col(Deal.account),
            col(Deal.amount),
            col(Deal.currency),
        )  # fmt: skip
        .join(
            Deal,
            and_(
                col(Deal.id) == col(Story.deal_id),
                col(Deal.team_id) == col(Story.team_id),
                col(Deal.status) != DealStatus.WITHDRAWN,
            ),
            isouter=True,
        )
        .where(*_live_stories(scope, since, until))
        .order_by(col(Story.created_at).desc(), col(Story.id).desc()),
        Story.rep_slack_id,
        scope,
    )
    return [
        MonthStory(
            id=int(story_id),
            rep=rep,
            lesson=lesson or text or "",
            permalink=permalink,
            channel=channel,
            ts=ts,
            deal_id=deal_id,
            account=account,
            share=share if deal_id is not None else None,
            amount=amount,
            currency=currency,
        )
        for (
            story_id, rep, lesson, text, permalink, channel, ts, share,
            deal_id, account, amount, currency,
        ) in session.execute(statement)
    ]  # fmt: skip


def team_totals(reports: list[RepReport]) -> RepReport:
    total = RepReport("")
    for r in reports:
        total.stories += r.stories
        total.won += r.won
        total.lost += r.lost
        total.no_decision += r.no_decision
        total.debriefs += r.debriefs
        total.logged += r.logged
        total.days_to_log.extend(r.days_to_log)
        total.calls_asked += r.calls_asked
        total.calls_logged += r.calls_logged
        total.concerns_closed += r.concerns_closed
        total.compared += r.compared
        total.agreed += r.agreed
        for reason, n in r.reasons.items():
            total.reasons[reason] = total.reasons.get(reason, 0) + n
    return total


def weekly_outcomes(
    *, session: Session, scope: Scope, since: datetime, until: datetime
) -> dict[str, dict[str, int]]:
    """ISO week ("2026-W48") -> outcome -> deals, for the trend chart. Counted per UTC day
    by the database (the dates are stored in UTC), so a quarter is a few hundred rows."""
    day = func.date(col(Deal.created_at))
    statement = _in_scope(
        sa_select(day, col(Deal.outcome), func.count())
        .where(
            col(Deal.team_id) == scope.team_id,
            col(Deal.status) != DealStatus.WITHDRAWN,
            col(Deal.created_at) >= since,
            col(Deal.created_at) <= until,
        )
        .group_by(day, col(Deal.outcome)),
        Deal.rep_slack_id,
        scope,
    )
    weeks: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for when, outcome, n in session.execute(statement):
        if when is None:
            continue
        moment = when if isinstance(when, date) else date.fromisoformat(str(when)[:10])
        year, week, _ = moment.isocalendar()
        weeks[f"{year}-W{week:02d}"][outcome] += n
    return {week: dict(counts) for week, counts in sorted(weeks.items())}
