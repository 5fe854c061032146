"""App Home: what a rep sees when they open the app — their recent deals and how to start."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp

from bot import messages
from bot.messages import Texts
from bot.people import load_person
from bot.runtime import Runtime
from storage.db import unit_of_work
from storage.deals import recent_deals
from storage.models import Deal


async def publish_home(rt: Runtime, team_id: str, user_id: str) -> None:
    person = await load_person(rt, team_id=team_id, user_id=user_id)

    def read() -> list[Deal]:
        with unit_of_work(rt.engine) as session:
            return recent_deals(session=session, team_id=team_id, rep_slack_id=user_id)

    deals = await rt.db(read)
    view = messages.home_view(Texts(rt.catalog, person.locale), deals, tz=person.tz)
    await rt.client.views_publish(user_id=user_id, view=view)


def register(app: AsyncApp, rt: Runtime) -> None:
    @app.event("app_home_opened")
    async def on_home_opened(event: dict[str, Any], body: dict[str, Any]) -> None:
        if event.get("tab") != "home":
            return
        team_id = str(body.get("team_id") or rt.team_id or "")
        rt.spawn(publish_home(rt, team_id, str(event["user"])), name="home")
