"""Tee-up rows: the `tee_up` nudge that asks the rep, and the run that records the answer
(`data["agreed"]`, which the account's later debrief reads)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from storage import nudges
from storage.accounts import same_account
from storage.kinds import Kind, Ritual, TeeUpState
from storage.models import Nudge, RitualRun
from storage.run_data import write_tee_up

KIND = Kind.TEE_UP
RITUAL = Ritual.TEE_UP


def schedule_tee_up(
    *,
    session: Session,
    team_id: str,
    rep: str,
    account: str,
    key: str,
    source: str,
    now: datetime,
    sent: bool = False,
) -> int | None:
    """One `tee_up` nudge per key: a retried event or a double-submitted command finds
    the row that is already there instead of adding a second DM. `sent`: the proposal is
    already out (the DM then asks for the debrief along with confirming it arrived)."""
    nudge = nudges.schedule(
        session=session,
        team_id=team_id,
        user_slack_id=rep,
        kind=KIND,
        due_at=now,
        idempotency_key=key[:200],
        payload={"account": account, "source": source, **({"sent": True} if sent else {})},
        now=now,
    )
    session.flush()
    return nudge.id


def decided_since(*, session: Session, nudge: Nudge) -> bool:
    """A follow-up is pointless once the rep has answered agreed/declined since."""
    after = int(nudge.payload.get("followup_of") or 0)
    found = session.exec(
        select(RitualRun.id).where(
            RitualRun.team_id == nudge.team_id,
            RitualRun.ritual == RITUAL,
            RitualRun.user_slack_id == nudge.user_slack_id,
            col(RitualRun.state).in_((TeeUpState.AGREED, TeeUpState.DECLINED)),
            col(RitualRun.id) > after,
            same_account(RitualRun.account, str(nudge.payload.get("account") or "")),
        )
    ).first()
    return found is not None


def answer_of(*, session: Session, nudge_id: int) -> str | None:
    """The answer already recorded for this tee-up DM (None while unanswered)."""
    nudge = session.get(Nudge, nudge_id)
    if nudge is None or nudge.kind != KIND or not nudge.ritual_run_id:
        return None
    run = session.get(RitualRun, nudge.ritual_run_id)
    return str(run.state) if run is not None and run.state else None


def record_answer(
    *,
    session: Session,
    nudge_id: int,
    user_id: str,
    state: TeeUpState,
    now: datetime,
    followup_after: timedelta,
) -> Nudge | None:
    """The answer as a tee_up run. A second click on the same DM (before it was
    updated) changes that run rather than adding another; "not asked yet" brings the
    ask back after `followup_after`."""
    nudge = session.get(Nudge, nudge_id)
    if nudge is None or nudge.kind != KIND:
        return None
    run = session.get(RitualRun, nudge.ritual_run_id) if nudge.ritual_run_id else None
    if run is None:
        run = RitualRun(
            team_id=nudge.team_id,
            ritual=RITUAL,
            user_slack_id=user_id,
            account=str(nudge.payload.get("account") or ""),
            created_at=now,
        )
    run.state = state
    write_tee_up(
        run,
        now,
        agreed=state == TeeUpState.AGREED,
        nudge_id=nudge_id,
        source=nudge.payload.get("source"),
    )
    session.add(run)
    session.flush()
    nudge.ritual_run_id = run.id
    session.add(nudge)
    if state == TeeUpState.NOT_ASKED:
        nudges.schedule(
            session=session,
            team_id=nudge.team_id,
            user_slack_id=nudge.user_slack_id,
            kind=KIND,
            due_at=now + followup_after,
            idempotency_key=f"tee_up:followup:{nudge_id}",
            payload={**nudge.payload, "followup_of": run.id},
            now=now,
        )
    return nudge


def already_asked(*, session: Session, nudge: Nudge, since: datetime) -> bool:
    """A deals-channel tee-up repeats one the rep already has: another tee-up DM about
    the same account went out since `since`, or the rep answered agreed/declined for it
    since then. One deal moving into the proposal stage, then "proposal sent", and the
    rep's own "proposal drafted" post are one ask, not three."""
    account = str(nudge.payload.get("account") or "").strip().lower()
    others = session.exec(
        select(Nudge).where(
            Nudge.team_id == nudge.team_id,
            Nudge.user_slack_id == nudge.user_slack_id,
            Nudge.kind == KIND,
            Nudge.state == nudges.SENT,
            col(Nudge.id) != nudge.id,
            col(Nudge.updated_at) >= since,
        )
    ).all()
    if any(str(o.payload.get("account") or "").strip().lower() == account for o in others):
        return True
    decided = session.exec(
        select(RitualRun.id).where(
            RitualRun.team_id == nudge.team_id,
            RitualRun.ritual == RITUAL,
            RitualRun.user_slack_id == nudge.user_slack_id,
            col(RitualRun.state).in_((TeeUpState.AGREED, TeeUpState.DECLINED)),
            col(RitualRun.updated_at) >= since,
            same_account(RitualRun.account, account),
        )
    ).first()
    return decided is not None
