"""OAuth mode's stores on our own database: slack_sdk's SQLAlchemy installation and
state stores (their tables are declared in storage/models.py, so the migrations make
them), plus what we need beyond Bolt's own look-ups: a workspace's newest installation
by team alone (a Grid workspace's rows carry its enterprise id too), else its org's
org-wide install (Enterprise Grid: `team_id` empty, `is_enterprise_install`), and
deleting every token of a workspace, or of an org's org-wide install, at once when it
uninstalls the app.

The stores are synchronous; bot/slack/teams.py calls them off the event loop."""

from __future__ import annotations

from slack_sdk.oauth.installation_store.models.installation import Installation
from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore
from sqlalchemy import delete, desc, select, true
from sqlalchemy.engine import Engine
from sqlmodel import col

from storage.models import Workspace
from storage.scope import require_team, team_delete


class EnterpriseMissing(RuntimeError):
    """An org-wide look-up or delete was asked for with no enterprise."""


def require_enterprise(enterprise_id: str | None) -> str:
    if not enterprise_id or not isinstance(enterprise_id, str):
        raise EnterpriseMissing("an org-wide look-up needs an enterprise_id")
    return enterprise_id


class InstallationStore(SQLAlchemyInstallationStore):
    def __init__(self, client_id: str, engine: Engine) -> None:
        super().__init__(client_id=client_id, engine=engine)

    def find_for_team(self, team_id: str) -> Installation | None:
        """The workspace's newest installation (install or token refresh) of this app."""
        team = require_team(team_id)
        c = self.installations.c
        query = (
            self.installations.select()
            .where(c.client_id == self.client_id, c.team_id == team)
            .order_by(desc(c.installed_at), desc(c.id))
            .limit(1)
        )
        with self.engine.connect() as conn:
            for row in conn.execute(query).mappings():
                return self.build_installation_entity(row)
        return None

    def find_for_org(self, enterprise_id: str) -> Installation | None:
        """The org's newest org-wide installation (install or token refresh)."""
        org = require_enterprise(enterprise_id)
        c = self.installations.c
        query = (
            self.installations.select()
            .where(
                c.client_id == self.client_id,
                c.enterprise_id == org,
                c.is_enterprise_install == true(),
            )
            .order_by(desc(c.installed_at), desc(c.id))
            .limit(1)
        )
        with self.engine.connect() as conn:
            for row in conn.execute(query).mappings():
                return self.build_installation_entity(row)
        return None

    def find_for_workspace(
        self, team_id: str, enterprise_id: str | None = None
    ) -> Installation | None:
        """The workspace's own installation, else its org's org-wide one: the org named
        (a request's `enterprise_id`), else the one the workspace was last seen in."""
        found = self.find_for_team(team_id)
        if found is not None:
            return found
        org = enterprise_id or self.enterprise_of(team_id)
        return self.find_for_org(org) if org else None

    def enterprise_of(self, team_id: str) -> str | None:
        team = require_team(team_id)
        query = select(col(Workspace.enterprise_id)).where(col(Workspace.team_id) == team)
        with self.engine.connect() as conn:
            return conn.execute(query).scalar_one_or_none()

    def installed_teams(self) -> list[str]:
        """Workspaces with an installation of their own, and every workspace we saw of an
        org that has an org-wide one."""
        c = self.installations.c
        query = self.installations.select().with_only_columns(c.team_id).distinct()
        orgs = (
            self.installations.select()
            .with_only_columns(c.enterprise_id)
            .where(c.client_id == self.client_id, c.is_enterprise_install == true())
        )
        of_orgs = select(col(Workspace.team_id)).where(
            col(Workspace.enterprise_id).in_(orgs.scalar_subquery()),
            col(Workspace.uninstalled_at).is_(None),
        )
        with self.engine.connect() as conn:
            teams = {str(t) for (t,) in conn.execute(query) if t}
            teams |= {str(t) for (t,) in conn.execute(of_orgs) if t}
        return sorted(teams)

    def delete_team(self, team_id: str) -> int:
        """Every token the workspace gave us (installations and bots), whatever the
        enterprise: app_uninstalled and tokens_revoked."""
        with self.engine.begin() as conn:
            gone = conn.execute(team_delete(self.installations, team_id)).rowcount
            gone += conn.execute(team_delete(self.bots, team_id)).rowcount
        return int(gone or 0)

    def delete_org(self, enterprise_id: str) -> int:
        """Every token of the org's org-wide install (installations and bots): the org
        uninstalled the app, or revoked its bot token. Installations a workspace of the
        org made on its own stay (they leave with their own events)."""
        org = require_enterprise(enterprise_id)
        gone = 0
        with self.engine.begin() as conn:
            for table in (self.installations, self.bots):
                c = table.c
                gone += conn.execute(
                    delete(table).where(c.enterprise_id == org, c.is_enterprise_install == true())
                ).rowcount
        return int(gone or 0)


def state_store(engine: Engine, *, expiration_seconds: int) -> SQLAlchemyOAuthStateStore:
    return SQLAlchemyOAuthStateStore(expiration_seconds=expiration_seconds, engine=engine)
