"""A workspace's life in OAuth mode: uninstalled (its tokens already gone), then, after
the grace period, every row it has in every table deleted; a re-install within the
grace period keeps everything. Enterprise Grid: the org each workspace was seen in, so
an org-wide install (or uninstall) reaches every workspace of the org."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlmodel import Session, SQLModel, col, select

from storage.models import Nudge, Workspace
from storage.scope import require_team, team_delete


def mark_uninstalled(*, session: Session, team_id: str, now: datetime) -> int:
    """Marks the workspace; its pending nudges are skipped (there is no token to send
    them with). Returns how many were."""
    team = require_team(team_id)
    ws = session.get(Workspace, team)
    if ws is None:
        ws = Workspace(team_id=team, created_at=now)
    if ws.uninstalled_at is None:
        ws.uninstalled_at = now
    session.add(ws)
    skipped = session.execute(
        update(Nudge)
        .where(col(Nudge.team_id) == team, col(Nudge.state) == "pending")
        .values(state="skipped", last_error="workspace uninstalled the app", updated_at=now)
    ).rowcount  # type: ignore[attr-defined]
    return int(skipped or 0)


def mark_installed(
    *,
    session: Session,
    team_id: str,
    name: str | None,
    now: datetime,
    enterprise_id: str | None = None,
) -> None:
    team = require_team(team_id)
    ws = session.get(Workspace, team)
    if ws is None:
        ws = Workspace(team_id=team, created_at=now)
    ws.uninstalled_at = None
    if name:
        ws.name = name
    if enterprise_id:
        ws.enterprise_id = enterprise_id
    session.add(ws)


def seen_in_org(*, session: Session, team_id: str, enterprise_id: str, now: datetime) -> None:
    """A request from the workspace said which org it belongs to (Enterprise Grid)."""
    team = require_team(team_id)
    ws = session.get(Workspace, team)
    if ws is None:
        ws = Workspace(team_id=team, created_at=now)
    if ws.enterprise_id != enterprise_id:
        ws.enterprise_id = enterprise_id
        session.add(ws)


def of_org(*, session: Session, enterprise_id: str) -> list[str]:
    """The workspaces seen in the org."""
    if not enterprise_id:
        return []
    rows = session.exec(
        select(Workspace.team_id).where(col(Workspace.enterprise_id) == enterprise_id)
    ).all()
    return sorted(rows)


def mark_org_installed(*, session: Session, enterprise_id: str, now: datetime) -> list[str]:
    """The org installed the app org-wide (again): every workspace of it seen so far is
    installed; returns them."""
    teams = of_org(session=session, enterprise_id=enterprise_id)
    for team in teams:
        mark_installed(session=session, team_id=team, name=None, now=now)
    return teams


def uninstalled_before(*, session: Session, cutoff: datetime) -> list[str]:
    """Workspaces uninstalled before `cutoff`: their grace period is over."""
    rows = session.exec(
        select(Workspace.team_id).where(
            col(Workspace.uninstalled_at).is_not(None), col(Workspace.uninstalled_at) < cutoff
        )
    ).all()
    return sorted(rows)


def team_tables() -> list[str]:
    """Every table with a team_id column: what a workspace's purge deletes from, rows
    that point at others first (nudge -> ritualrun -> deal)."""
    ordered = [t.name for t in reversed(SQLModel.metadata.sorted_tables)]
    return [name for name in ordered if "team_id" in SQLModel.metadata.tables[name].c]


def purge_team(*, session: Session, team_id: str) -> dict[str, int]:
    """Delete every row of the workspace, in every table; returns the counts per table.
    Still uninstalled is checked in the same transaction, so a re-install that raced
    the purge keeps its data."""
    team = require_team(team_id)
    ws = session.get(Workspace, team)
    if ws is None or ws.uninstalled_at is None:
        return {}
    counts: dict[str, int] = {}
    for name in team_tables():
        table = SQLModel.metadata.tables[name]
        n = session.execute(team_delete(table, team)).rowcount  # type: ignore[attr-defined]
        if n:
            counts[name] = int(n)
    return counts
