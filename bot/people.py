"""Who someone is, in Slack's words: name, time zone and locale, cached in the database."""

from __future__ import annotations

import asyncio

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.runtime import Runtime
from bot.slack_errors import api_error
from storage.db import unit_of_work
from storage.models import Person
from storage.people import get_person, is_fresh, upsert_from_slack


async def load_person(
    rt: Runtime, *, team_id: str, user_id: str, client: AsyncWebClient | None = None
) -> Person:
    """The person row, refreshed from `users.info` when older than a few hours.

    Raises SlackApiError (e.g. `user_not_found`) when Slack does not know them."""
    lock = rt.person_locks.setdefault(user_id, asyncio.Lock())
    async with lock:
        now = rt.clock.now()

        def read() -> Person | None:
            with unit_of_work(rt.engine, immediate=False) as session:
                return get_person(session=session, team_id=team_id, slack_id=user_id)

        person = await rt.db(read)
        if person is not None and is_fresh(person, now):
            rt.locales[user_id] = person.locale or ""
            return person
        resp = await (client or rt.client).users_info(user=user_id, include_locale=True)
        user = dict(resp["user"])

        def write() -> Person:
            # Immediate: take SQLite's write lock up front instead of failing to upgrade
            # a read lock when another writer committed in between.
            with unit_of_work(rt.engine, immediate=True) as session:
                return upsert_from_slack(session=session, team_id=team_id, user=user, now=now)

        person = await rt.db(write)
        rt.locales[user_id] = person.locale or ""
        return person


async def lookup_by_email(rt: Runtime, email: str) -> str | None:
    try:
        resp = await rt.client.users_lookupByEmail(email=email)
    except SlackApiError as e:
        if api_error(e) == "users_not_found":
            return None
        raise
    return str(resp["user"]["id"])
