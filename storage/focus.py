"""The practice focus: the one thing a rep is working on. Setting a new one ends the
current one and keeps it, so each evening's question and the weekly digest can say
which focus a day was about."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from storage.models import FocusCheck, PracticeFocus

FOCUS_MAX = 300
SOURCES = frozenset({"home", "reflection", "takeaway"})


def clean_focus(text: str) -> str:
    """One line, no leading bullet, at most FOCUS_MAX characters."""
    one_line = " ".join(str(text or "").split())
    return one_line.lstrip("•-*· ").strip()[:FOCUS_MAX]


def current_focus(*, session: Session, team_id: str, user_id: str) -> PracticeFocus | None:
    return session.exec(
        select(PracticeFocus)
        .where(
            PracticeFocus.team_id == team_id,
            PracticeFocus.user_slack_id == user_id,
            col(PracticeFocus.ended_at).is_(None),
        )
        .order_by(col(PracticeFocus.id).desc())
    ).first()


def focus_by_id(
    *, session: Session, team_id: str, user_id: str, focus_id: int
) -> PracticeFocus | None:
    """A focus of this rep's (another rep's id gives None)."""
    row = session.get(PracticeFocus, focus_id)
    if row is None or row.team_id != team_id or row.user_slack_id != user_id:
        return None
    return row


def current_focus_text(*, session: Session, team_id: str, user_id: str) -> str | None:
    row = current_focus(session=session, team_id=team_id, user_id=user_id)
    return row.text if row else None


def set_focus(
    *,
    session: Session,
    team_id: str,
    user_id: str,
    text: str,
    source: str,
    now: datetime,
    deal_id: int | None = None,
) -> PracticeFocus | None:
    """Make `text` the rep's focus. The same text again changes nothing (a second click
    on "Make it my focus"); an empty text ends the current focus and sets none."""
    text = clean_focus(text)
    current = current_focus(session=session, team_id=team_id, user_id=user_id)
    if current is not None and text and current.text.casefold() == text.casefold():
        return current
    if current is not None:
        current.ended_at = now
        session.add(current)
    if not text:
        return None
    row = PracticeFocus(
        team_id=team_id,
        user_slack_id=user_id,
        text=text,
        source=source if source in SOURCES else "home",
        deal_id=deal_id,
        set_at=now,
    )
    session.add(row)
    session.flush()
    return row


def focus_history(*, session: Session, team_id: str, user_id: str) -> list[PracticeFocus]:
    """Every focus the rep has set, oldest first."""
    return list(
        session.exec(
            select(PracticeFocus)
            .where(PracticeFocus.team_id == team_id, PracticeFocus.user_slack_id == user_id)
            .order_by(col(PracticeFocus.id))
        ).all()
    )


def record_check(
    *,
    session: Session,
    team_id: str,
    user_id: str,
    local_date: str,
    focus: PracticeFocus,
    came_up: bool | None,
    now: datetime,
) -> FocusCheck:
    """That evening's answer about `focus`; answering again the same day replaces it."""
    row = get_check(session=session, team_id=team_id, user_id=user_id, local_date=local_date)
    if row is None:
        row = FocusCheck(
            team_id=team_id,
            user_slack_id=user_id,
            local_date=local_date,
            focus=focus.text,
            created_at=now,
        )
    row.focus_id, row.focus, row.came_up, row.updated_at = focus.id, focus.text, came_up, now
    session.add(row)
    session.flush()
    return row


def get_check(
    *, session: Session, team_id: str, user_id: str, local_date: str
) -> FocusCheck | None:
    return session.exec(
        select(FocusCheck).where(
            FocusCheck.team_id == team_id,
            FocusCheck.user_slack_id == user_id,
            FocusCheck.local_date == local_date,
        )
    ).first()


def week_checks(
    *, session: Session, team_id: str, user_id: str, monday: str, sunday: str
) -> dict[str, FocusCheck]:
    """One rep's focus answers from `monday` to `sunday` (ISO dates), by local date."""
    rows = session.exec(
        select(FocusCheck).where(
            FocusCheck.team_id == team_id,
            FocusCheck.user_slack_id == user_id,
            col(FocusCheck.local_date) >= monday,
            col(FocusCheck.local_date) <= sunday,
        )
    ).all()
    return {row.local_date: row for row in rows}
