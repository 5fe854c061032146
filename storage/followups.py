"""Follow it up: a week after a rep logged a debrief, one `takeaway_followup` nudge asks
whether they did what they planned ("You planned to … Done?"). The answer is kept on
the nudge (so a second click changes nothing) and on the debrief run (`data["followup"]`).
"Still on it" asks once more a week later; the second ask is the last."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, col, select

from storage import nudges
from storage.debriefs import debrief_data, write_debrief
from storage.kinds import DEBRIEF_RITUALS, DealStatus, DebriefState, Kind, Ritual
from storage.models import Deal, Nudge, RitualRun

KIND = Kind.TAKEAWAY_FOLLOWUP
DONE, STILL, DROP = "done", "still", "drop"
ANSWERS = (DONE, STILL, DROP)
LAST_ROUND = 2


def planned(run: RitualRun) -> list[str]:
    """What the rep planned to do: a loss's takeaways (one per line), or for a win what
    appealed to the client most (the thing to deliver). Empty when there is nothing to
    follow up, or when the manager's call (not the rep) logged it."""
    data = debrief_data(run)
    if data.logged_by == "manager":
        return []
    if run.ritual == Ritual.WIN_DEBRIEF:
        text = str((data.win or {}).get("appealed") or "")
    else:
        text = str((data.client or {}).get("takeaways") or "")
    return [line.strip(" •-*\t") for line in text.splitlines() if line.strip(" •-*\t")]


def _key(deal_id: int, round_: int) -> str:
    return f"followup:deal:{deal_id}:{round_}"


def plan_followups(
    *,
    session: Session,
    now: datetime,
    after: timedelta,
    lookback: timedelta,
    after_by_team: Mapping[str, timedelta] | None = None,
) -> int:
    """A follow-up for every debrief logged within `lookback` that has something planned,
    due `after` its logging (or its workspace's own delay in `after_by_team`); the
    idempotency key makes one per deal. Returns how many were added."""
    runs = session.exec(
        select(RitualRun).where(
            col(RitualRun.ritual).in_(DEBRIEF_RITUALS),
            RitualRun.state == DebriefState.LOGGED,
            col(RitualRun.updated_at) >= now - lookback,
        )
    ).all()
    added = 0
    for run in runs:
        logged_at = debrief_data(run).logged_at
        if run.deal_id is None or not logged_at or not planned(run):
            continue
        deal = session.get(Deal, run.deal_id)
        if deal is None or deal.status == DealStatus.WITHDRAWN:
            continue
        due = datetime.fromisoformat(logged_at) + (after_by_team or {}).get(run.team_id, after)
        key = _key(run.deal_id, 1)
        if session.exec(select(Nudge.id).where(Nudge.idempotency_key == key)).first():
            continue
        nudges.schedule(
            session=session,
            team_id=run.team_id,
            user_slack_id=run.user_slack_id,
            kind=KIND,
            due_at=max(due, now),
            idempotency_key=key,
            payload={"deal_id": run.deal_id, "round": 1},
            ritual_run_id=run.id,
            now=now,
        )
        added += 1
    return added


@dataclass(frozen=True)
class FollowUp:
    nudge: Nudge
    deal: Deal
    run: RitualRun

    @property
    def round(self) -> int:
        return nudges.asked_round(self.nudge)

    @property
    def answer(self) -> str | None:
        return nudges.asked_answer(self.nudge, ANSWERS)


def followup(*, session: Session, nudge_id: int) -> FollowUp | None:
    """The follow-up a nudge is, while its deal and logged debrief are still there."""
    nudge = session.get(Nudge, nudge_id)
    if nudge is None or nudge.kind != KIND or not nudge.ritual_run_id:
        return None
    run = session.get(RitualRun, nudge.ritual_run_id)
    deal = session.get(Deal, run.deal_id) if run is not None and run.deal_id else None
    if run is None or deal is None or run.state != DebriefState.LOGGED:
        return None
    if deal.status == DealStatus.WITHDRAWN:
        return None
    return FollowUp(nudge, deal, run)


def record_answer(
    *, session: Session, nudge_id: int, answer: str, now: datetime, again_after: timedelta
) -> tuple[FollowUp, bool] | None:
    """The rep's answer, once: (the follow-up, True) when it was recorded now, (…, False)
    when this ask was answered already (a double click, or a second button after the
    first) and nothing changed. "Still on it" in the first round schedules the last ask."""
    found = followup(session=session, nudge_id=nudge_id)
    if found is None or answer not in ANSWERS:
        return None
    if found.answer is not None:
        return found, False
    nudge, run = found.nudge, found.run
    nudges.record_asked_answer(session=session, nudge=nudge, answer=answer, now=now)
    record: dict[str, Any] = {"answer": answer, "round": found.round, "at": now.isoformat()}
    write_debrief(run, now, followup=record)
    session.add(run)
    if answer == STILL and found.round < LAST_ROUND:
        nudges.schedule(
            session=session,
            team_id=nudge.team_id,
            user_slack_id=nudge.user_slack_id,
            kind=KIND,
            due_at=now + again_after,
            idempotency_key=_key(found.deal.id or 0, found.round + 1),
            payload={"deal_id": found.deal.id, "round": found.round + 1},
            ritual_run_id=run.id,
            now=now,
        )
    session.flush()
    return found, True
