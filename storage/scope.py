"""Workspace scope: every row we store belongs to one workspace (`team_id`), and code
that walks over workspaces (the dispatcher's planners, the uninstall purge) reads and
deletes through these helpers, which refuse to run without one. A query that forgot
its workspace would otherwise read or delete across every installed workspace."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import Delete, delete
from sqlmodel import select
from sqlmodel.sql.expression import SelectOfScalar

M = TypeVar("M")


class TeamScopeMissing(RuntimeError):
    """A workspace-scoped query was asked for with no workspace."""


def require_team(team_id: str | None) -> str:
    if not team_id or not isinstance(team_id, str):
        raise TeamScopeMissing("a workspace-scoped query needs a team_id")
    return team_id


def team_select(model: type[M], team_id: str | None, *where: Any) -> SelectOfScalar[M]:
    """`SELECT … FROM model WHERE team_id = :team AND …where`."""
    team = require_team(team_id)
    return select(model).where(model.team_id == team, *where)  # type: ignore[attr-defined]


def team_delete(table: Any, team_id: str | None) -> Delete:
    """`DELETE FROM table WHERE team_id = :team` (a model class or a Core table)."""
    team = require_team(team_id)
    column = table.c.team_id if hasattr(table, "c") else table.team_id
    return delete(table).where(column == team)
