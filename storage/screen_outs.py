"""Screen-out rows: the run with the rep's answers, its review nudge on the chosen date and
the good-terms DM, written together."""

from __future__ import annotations

from datetime import date, datetime

from sqlmodel import Session

from storage import nudges
from storage.kinds import Kind, Ritual, ScreenOutState
from storage.models import RitualRun
from storage.run_data import write_screen_out

RITUAL = Ritual.SCREEN_OUT
REVIEW_KIND = Kind.SCREEN_OUT_REVIEW
SAVED_KIND = Kind.SCREEN_OUT_SAVED


def save_screen_out(
    *,
    session: Session,
    team_id: str,
    user_id: str,
    account: str,
    potential: str,
    review: date,
    notes: str,
    due: datetime,
    previous_run: int | None,
    now: datetime,
) -> tuple[int, int | None]:
    """The run, its review nudge and the good-terms DM, in one transaction; a review of
    an earlier screen-out closes that one (and its pending review)."""
    if previous_run:
        _close_previous(session, previous_run, user_id, now)
    run = RitualRun(
        team_id=team_id,
        ritual=RITUAL,
        user_slack_id=user_id,
        account=account,
        state=ScreenOutState.SCHEDULED,
        due_at=due,
        created_at=now,
        updated_at=now,
    )
    write_screen_out(
        run,
        now,
        potential=potential,
        review_date=review.isoformat(),
        notes=notes,
        previous_run=previous_run,
    )
    session.add(run)
    session.flush()
    assert run.id is not None
    for kind, when, name in ((REVIEW_KIND, due, "review"), (SAVED_KIND, now, "saved")):
        saved = nudges.schedule(
            session=session,
            team_id=team_id,
            user_slack_id=user_id,
            kind=kind,
            due_at=when,
            idempotency_key=f"screen_out:{run.id}:{name}",
            payload={"run_id": run.id},
            ritual_run_id=run.id,
            now=now,
        )
    session.flush()
    return run.id, saved.id


def _close_previous(session: Session, run_id: int, user_id: str, now: datetime) -> None:
    old = session.get(RitualRun, run_id)
    if old is None or old.user_slack_id != user_id or old.ritual != RITUAL:
        return
    old.state = ScreenOutState.REVIEWED
    old.updated_at = now
    session.add(old)
    nudges.cancel_pending(session=session, idempotency_key_prefix=f"screen_out:{old.id}:", now=now)


def get_screen_out(*, session: Session, run_id: int) -> RitualRun | None:
    run = session.get(RitualRun, run_id)
    return run if run is not None and run.ritual == RITUAL else None


def mark_review_sent(
    *, session: Session, run_id: int, channel: str, ts: str, now: datetime
) -> None:
    """Where the review DM went, so the run shows it was sent."""
    run = session.get(RitualRun, run_id)
    if run is not None and run.state == ScreenOutState.SCHEDULED:
        run.state = ScreenOutState.REVIEW_SENT
        write_screen_out(run, now, review_channel=channel, review_ts=ts)
        session.add(run)
