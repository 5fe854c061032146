"""OAuth mode's stores on our own database: slack_sdk's SQLAlchemy installation and
state stores (their tables are declared in storage/models.py, so the migrations make
them), plus what we need beyond Bolt's own look-ups: a workspace's newest installation
by team alone (a Grid workspace's rows carry its enterprise id too), and deleting every
token of a workspace at once when it uninstalls the app.

The stores are synchronous; bot/slack/teams.py calls them off the event loop."""

from __future__ import annotations

from slack_sdk.oauth.installation_store.models.installation import Installation
from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore
from sqlalchemy import desc
from sqlalchemy.engine import Engine

from storage.scope import require_team, team_delete


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

    def installed_teams(self) -> list[str]:
        c = self.installations.c
        query = self.installations.select().with_only_columns(c.team_id).distinct()
        with self.engine.connect() as conn:
            return sorted(str(t) for (t,) in conn.execute(query) if t)

    def delete_team(self, team_id: str) -> int:
        """Every token the workspace gave us (installations and bots), whatever the
        enterprise: app_uninstalled and tokens_revoked."""
        with self.engine.begin() as conn:
            gone = conn.execute(team_delete(self.installations, team_id)).rowcount
            gone += conn.execute(team_delete(self.bots, team_id)).rowcount
        return int(gone or 0)


def state_store(engine: Engine, *, expiration_seconds: int) -> SQLAlchemyOAuthStateStore:
    return SQLAlchemyOAuthStateStore(expiration_seconds=expiration_seconds, engine=engine)
