"""The settings an admin changes in App Home: read for one workspace or for all of them
(a planner reads every workspace's once per tick), and saved in one unit of work with
what a change implies (the admins' roles, the holiday list, the evening nudges planned
at the old time).

Values are stored as WorkspaceSetting rows (one per key, JSON); a key without a row
follows the environment. Encoding and checking the values is bot/workspace_settings.py's
job: this module only reads and writes rows."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import delete
from sqlmodel import Session, col, select

from storage import nudges
from storage.access import ADMIN, grant, revoke
from storage.kinds import Kind
from storage.models import Nudge, RoleGrant, Workspace, WorkspaceSetting
from storage.stories import put_setting

# Nudges planned from the end of day and the working days: planned again after a change.
EVENING_KINDS = (Kind.REFLECTION, Kind.WEEKLY_DIGEST)


def stored_by_team(
    *, session: Session, keys: Collection[str], team_ids: Collection[str] | None = None
) -> dict[str, dict[str, dict[str, Any]]]:
    """team id -> key -> stored value, for `keys` (and only `team_ids`, when given). One
    query, whatever the number of workspaces."""
    query = select(WorkspaceSetting).where(col(WorkspaceSetting.key).in_(list(keys)))
    if team_ids is not None:
        query = query.where(col(WorkspaceSetting.team_id).in_(list(team_ids)))
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for row in session.exec(query).all():
        out.setdefault(row.team_id, {})[row.key] = dict(row.value or {})
    return out


def granted_admins(*, session: Session, team_id: str) -> list[str]:
    """Who an admin named with `/loop team admin @x` (or in App Home's settings)."""
    rows = session.exec(
        select(RoleGrant.slack_id).where(RoleGrant.team_id == team_id, RoleGrant.role == ADMIN)
    ).all()
    return sorted(set(rows))


@dataclass(frozen=True)
class SettingsChange:
    """What one submission of the settings form changes. `values`: key -> the value to
    store, or None to remove the row (back to the environment's value)."""

    values: Mapping[str, dict[str, Any] | None] = field(default_factory=dict)
    # The holidays from today on, when they changed (earlier ones are kept as they are).
    holidays: list[str] | None = None
    admins_added: Collection[str] = ()
    admins_removed: Collection[str] = ()
    # The end of day or the working days changed: plan the evening nudges again.
    replan_evenings: bool = False


def _set_holidays(*, session: Session, team_id: str, upcoming: list[str], today: date) -> None:
    ws = session.get(Workspace, team_id)
    if ws is None:
        ws = Workspace(team_id=team_id, holidays=[])
    past = [d for d in ws.holidays if d < today.isoformat()]
    ws.holidays = sorted({*past, *upcoming})
    session.add(ws)


def save_settings(
    *,
    session: Session,
    team_id: str,
    change: SettingsChange,
    by: str,
    now: datetime,
    today: date,
) -> int:
    """Apply one settings change at once. Returns how many planned evening nudges were
    dropped for the planner to plan again at the new time."""
    for key, value in change.values.items():
        put_setting(session=session, team_id=team_id, key=key, value=value, by=by, now=now)
    if change.holidays is not None:
        _set_holidays(session=session, team_id=team_id, upcoming=change.holidays, today=today)
    for user in change.admins_added:
        grant(session=session, team_id=team_id, slack_id=user, role=ADMIN, by=by, now=now)
    for user in change.admins_removed:
        revoke(session=session, team_id=team_id, slack_id=user, role=ADMIN)
    if not (change.replan_evenings or change.holidays is not None):
        return 0
    # Deleted, not cancelled: the idempotency key (per local date) must be free for the
    # same evening at its new time. Rows being sent are left to finish.
    result = session.execute(
        delete(Nudge).where(
            col(Nudge.team_id) == team_id,
            col(Nudge.kind).in_(EVENING_KINDS),
            col(Nudge.state) == nudges.PENDING,
        )
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
