"""Who someone is, in Slack's words: name, time zone and locale, cached in the database."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.exc import SQLAlchemyError

from bot import access
from bot.runtime import Runtime
from bot.slack.errors import api_error
from storage.access import ADMIN, has_grant
from storage.models import Person
from storage.people import get_person, is_fresh, upsert_from_slack

log = logging.getLogger(__name__)


async def load_person(
    rt: Runtime, *, team_id: str, user_id: str, client: AsyncWebClient | None = None
) -> Person:
    """The person row, refreshed from `users.info` when older than a few hours.

    Raises SlackApiError (e.g. `user_not_found`) when Slack does not know them."""
    lock = rt.person_locks.setdefault(user_id, asyncio.Lock())
    async with lock:
        now = rt.clock.now()

        person = await rt.tx(get_person, write=False, team_id=team_id, slack_id=user_id)
        if person is not None and is_fresh(person, now):
            rt.locales[user_id] = person.locale or ""
            return person
        resp = await (client or rt.client).users_info(user=user_id, include_locale=True)
        user = dict(resp["user"])

        # A write unit of work takes SQLite's write lock up front instead of failing to
        # upgrade a read lock when another writer committed in between.
        person = await rt.tx(upsert_from_slack, team_id=team_id, user=user, now=now)
        rt.locales[user_id] = person.locale or ""
        return person


# What a listener may spend on users.info before its ack: Slack gives 3 s in all.
ACK_BUDGET_SECONDS = 1.0


async def person_within(
    rt: Runtime, *, team_id: str, user_id: str, budget: float = ACK_BUDGET_SECONDS
) -> Person | None:
    """The person row if it arrives within `budget` seconds, else None (the caller falls
    back to the default language and time zone).

    The lookup is not cancelled when the budget runs out: it runs on after the ack as
    tracked background work, so the row (and the locale cache) is there next time, and
    a second caller meanwhile joins the same lookup instead of asking Slack again.
    Slack errors count as "not known yet" too: a person Slack cannot describe still
    gets an answer."""
    task = rt.person_lookups.get(user_id)
    if task is None or task.done():
        task = rt.spawn(_lookup(rt, team_id, user_id), name=f"users.info:{user_id}")
        rt.person_lookups[user_id] = task
        task.add_done_callback(lambda t: _forget_lookup(rt, user_id, t))
    done, _ = await asyncio.wait({task}, timeout=max(0.0, budget))
    if not done or task.cancelled():
        return None
    return task.result()


async def _lookup(rt: Runtime, team_id: str, user_id: str) -> Person | None:
    try:
        return await load_person(rt, team_id=team_id, user_id=user_id)
    except (SlackApiError, SQLAlchemyError, aiohttp.ClientError, OSError, TimeoutError) as e:
        # One line: the caller already fell back, and a forged user id is not our error.
        reason = api_error(e) if isinstance(e, SlackApiError) else type(e).__name__
        log.warning("no profile for %s yet: %s", user_id, reason)
        return None


def _forget_lookup(rt: Runtime, user_id: str, task: asyncio.Task[Any]) -> None:
    if rt.person_lookups.get(user_id) is task:
        del rt.person_lookups[user_id]


async def lookup_by_email(rt: Runtime, email: str) -> str | None:
    try:
        resp = await rt.client.users_lookupByEmail(email=email)
    except SlackApiError as e:
        if api_error(e) == "users_not_found":
            return None
        raise
    return str(resp["user"]["id"])


def is_admin(rt: Runtime, team_id: str, person: Person) -> bool:
    """Blocking: Slack admin/owner, named in ADMINS, or named with `/loop team admin`."""
    granted = rt.tx_blocking(
        has_grant, write=False, team_id=team_id, slack_id=person.slack_id, role=ADMIN
    )
    return access.is_admin(
        slack_admin=person.is_admin,
        user_id=person.slack_id,
        configured=rt.settings.admins,
        granted=granted,
    )
