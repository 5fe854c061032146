"""`/loop forget-me`: delete everything personal about one person, in every table.

Deals stay, anonymised (no rep, account, text or source), so team counts by outcome and
date still add up. USER_COLUMNS names every column that can hold a person's Slack id;
tests/scenarios/test_privacy.py fails when a table gains one that is not listed here."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, String, cast, delete, or_, update
from sqlmodel import Session, col, select

from storage.models import (
    Deal,
    DealAsk,
    DealSource,
    FocusCheck,
    Lesson,
    Nudge,
    Person,
    PracticeFocus,
    Reflection,
    RitualRun,
    RoleGrant,
    Story,
    WorkspaceSetting,
)

FORGOTTEN_ACCOUNT = "—"

# (table, column) -> what forgetting does to a row holding the person there.
USER_COLUMNS: dict[tuple[str, str], str] = {
    ("person", "slack_id"): "delete",
    ("person", "manager_slack_id"): "blank",
    ("deal", "rep_slack_id"): "anonymise",
    ("deal", "reported_by"): "blank",
    ("dealsource", "reported_by"): "delete",
    ("dealask", "user_slack_id"): "delete",
    # The bot's own user id: not a person's.
    ("workspace", "bot_user_id"): "keep",
    ("slack_bots", "bot_user_id"): "keep",
    ("slack_installations", "bot_user_id"): "keep",
    # Who installed the app: kept with the installation (Slack's record of it too); it
    # goes when the workspace uninstalls.
    ("slack_installations", "user_id"): "keep",
    # The app asks for no user scopes: these stay empty.
    ("slack_installations", "user_token"): "keep",
    ("slack_installations", "user_scopes"): "keep",
    ("slack_installations", "user_refresh_token"): "keep",
    ("ritualrun", "user_slack_id"): "delete",
    ("nudge", "user_slack_id"): "delete",
    ("reflection", "user_slack_id"): "delete",
    ("practicefocus", "user_slack_id"): "delete",
    ("focuscheck", "user_slack_id"): "delete",
    ("rolegrant", "slack_id"): "delete",
    ("rolegrant", "granted_by"): "blank",
    # Their stories (their words and the share they credited) go; the admin who last
    # changed a workspace setting is forgotten, the setting stays.
    ("story", "rep_slack_id"): "delete",
    # Their lessons go; a teammate's story that applied one keeps its words, not the link.
    ("lesson", "owner_slack_id"): "delete",
    ("workspacesetting", "updated_by"): "blank",
}


def _mentions(column: ColumnElement[Any], slack_id: str) -> ColumnElement[bool]:
    """A JSON column whose text holds the id (a manager call's "rep", a nudge's payload)."""
    return cast(column, String).like(f'%"{slack_id}"%')


def forget_person(*, session: Session, team_id: str, slack_id: str) -> int:
    """Delete or anonymise every row about `slack_id`; returns how many rows changed."""
    changed = 0
    deal_ids = list(
        session.exec(
            select(Deal.id).where(Deal.team_id == team_id, Deal.rep_slack_id == slack_id)
        ).all()
    )
    runs = RitualRun.__table__  # type: ignore[attr-defined]
    run_filter = or_(
        col(RitualRun.user_slack_id) == slack_id,
        col(RitualRun.deal_id).in_(deal_ids or [-1]),
        _mentions(runs.c.data, slack_id),
    )
    run_ids = list(
        session.exec(select(RitualRun.id).where(RitualRun.team_id == team_id, run_filter)).all()
    )
    nudges = Nudge.__table__  # type: ignore[attr-defined]
    # Nudges first: they point at the runs.
    changed += session.execute(  # type: ignore[attr-defined]
        delete(Nudge).where(
            col(Nudge.team_id) == team_id,
            or_(
                col(Nudge.user_slack_id) == slack_id,
                col(Nudge.ritual_run_id).in_(run_ids or [-1]),
                _mentions(nudges.c.payload, slack_id),
            ),
        )
    ).rowcount
    changed += session.execute(  # type: ignore[attr-defined]
        delete(RitualRun).where(col(RitualRun.id).in_(run_ids or [-1]))
    ).rowcount
    changed += session.execute(  # type: ignore[attr-defined]
        delete(Reflection).where(
            col(Reflection.team_id) == team_id, col(Reflection.user_slack_id) == slack_id
        )
    ).rowcount
    changed += session.execute(  # type: ignore[attr-defined]
        delete(FocusCheck).where(
            col(FocusCheck.team_id) == team_id, col(FocusCheck.user_slack_id) == slack_id
        )
    ).rowcount
    changed += session.execute(  # type: ignore[attr-defined]
        delete(PracticeFocus).where(
            col(PracticeFocus.team_id) == team_id, col(PracticeFocus.user_slack_id) == slack_id
        )
    ).rowcount
    changed += session.execute(  # type: ignore[attr-defined]
        update(Deal)
        .where(col(Deal.id).in_(deal_ids or [-1]))
        .values(
            rep_slack_id=None,
            account=FORGOTTEN_ACCOUNT,
            raw_text=None,
            source_channel=None,
            source_ts=None,
            external_id=None,
            account_key=FORGOTTEN_ACCOUNT,
        )
    ).rowcount
    # Where their deals were announced, and what they posted: the message ids and the
    # CRM record ids point back at them, and an undecided post holds their words.
    changed += session.execute(  # type: ignore[attr-defined]
        delete(DealSource).where(
            col(DealSource.team_id) == team_id,
            or_(
                col(DealSource.reported_by) == slack_id,
                col(DealSource.deal_id).in_(deal_ids or [-1]),
            ),
        )
    ).rowcount
    changed += session.execute(  # type: ignore[attr-defined]
        delete(DealAsk).where(
            col(DealAsk.team_id) == team_id, col(DealAsk.user_slack_id) == slack_id
        )
    ).rowcount
    changed += session.execute(  # type: ignore[attr-defined]
        update(Deal)
        .where(col(Deal.team_id) == team_id, col(Deal.reported_by) == slack_id)
        .values(reported_by=None)
    ).rowcount
    changed += session.execute(  # type: ignore[attr-defined]
        update(Person)
        .where(col(Person.team_id) == team_id, col(Person.manager_slack_id) == slack_id)
        .values(manager_slack_id=None)
    ).rowcount
    changed += session.execute(  # type: ignore[attr-defined]
        delete(RoleGrant).where(
            col(RoleGrant.team_id) == team_id, col(RoleGrant.slack_id) == slack_id
        )
    ).rowcount
    changed += session.execute(  # type: ignore[attr-defined]
        update(RoleGrant)
        .where(col(RoleGrant.team_id) == team_id, col(RoleGrant.granted_by) == slack_id)
        .values(granted_by=None)
    ).rowcount
    changed += session.execute(  # type: ignore[attr-defined]
        delete(Story).where(col(Story.team_id) == team_id, col(Story.rep_slack_id) == slack_id)
    ).rowcount
    lesson_ids = select(Lesson.id).where(
        col(Lesson.team_id) == team_id, col(Lesson.owner_slack_id) == slack_id
    )
    changed += session.execute(  # type: ignore[attr-defined]
        update(Story).where(col(Story.lesson_id).in_(lesson_ids)).values(lesson_id=None)
    ).rowcount
    changed += session.execute(  # type: ignore[attr-defined]
        delete(Lesson).where(col(Lesson.team_id) == team_id, col(Lesson.owner_slack_id) == slack_id)
    ).rowcount
    changed += session.execute(  # type: ignore[attr-defined]
        update(WorkspaceSetting)
        .where(
            col(WorkspaceSetting.team_id) == team_id, col(WorkspaceSetting.updated_by) == slack_id
        )
        .values(updated_by=None)
    ).rowcount
    changed += session.execute(  # type: ignore[attr-defined]
        delete(Person).where(col(Person.team_id) == team_id, col(Person.slack_id) == slack_id)
    ).rowcount
    return changed
