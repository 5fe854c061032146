"""When someone may be nudged: pause, snooze, vacation, workspace holidays, Slack's Do Not
Disturb.

Delivery asks one quiet check before every nudge that respects quiet; the check answers
with the instant the person is reachable again (or None). A quiet person's nudges are
released to that instant, never dropped here: whether a kind waits or is skipped is the
kind's own policy (`KindPolicy.when_quiet`), applied by delivery.

Dates a person types (vacation days) and workspace holidays are days in *that person's*
time zone: a holiday on 2026-12-25 is quiet from local midnight to local midnight.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import aiohttp
from slack_sdk.errors import SlackApiError

from bot.clock import zone_of
from bot.deals.commands import TOMORROW, snooze_length
from bot.nudges.registry import QuietCheck
from bot.runtime import Runtime
from bot.slack.errors import api_error
from storage.db import unit_of_work
from storage.deals import get_deal
from storage.kinds import Kind
from storage.models import Nudge, Person
from storage.quiet import workspace_holidays

log = logging.getLogger(__name__)

# A paused person has no end date; their nudges are looked at again this often, so a
# resume that is missed (or a pause cleared another way) never strands them.
PAUSE_RECHECK = timedelta(hours=1)
# dnd.info is a Web API call per nudge otherwise; Slack's own snooze changes rarely.
DND_CACHE_TTL = timedelta(minutes=5)
MAX_SNOOZE_DAYS = 90
MORNING = time(9, 0)


def local_day(now: datetime, tz: str | None) -> date:
    return now.astimezone(zone_of(tz)).date()


def start_of_day(day: date, tz: str | None) -> datetime:
    """Local midnight at the start of `day`, as a UTC instant."""
    return datetime.combine(day, time(0), tzinfo=zone_of(tz)).astimezone(UTC)


def morning_of(day: date, tz: str | None) -> datetime:
    """09:00 local on `day`: when someone back from a holiday or vacation gets what
    waited for them — not at the stroke of midnight."""
    return datetime.combine(day, MORNING, tzinfo=zone_of(tz)).astimezone(UTC)


def parse_day(word: str) -> date | None:
    try:
        return date.fromisoformat(word.strip())
    except ValueError:
        return None


def parse_snooze(word: str, now: datetime, tz: str | None) -> datetime | None:
    """`1h`, `2h`, `30m`, `3d`, `3j`, `3 días`, `1w`, `tomorrow`, `mañana`, `demain` -> the
    instant the snooze ends (the words: bot/deals/words/*.toml [commands]).

    "tomorrow" is the next morning at 09:00 in the person's own zone, because that is
    what someone typing it at 6 p.m. means, not "in 24 hours"."""
    length = snooze_length(word)
    if length == TOMORROW:
        day = local_day(now, tz) + timedelta(days=1)
        return datetime.combine(day, MORNING, tzinfo=zone_of(tz)).astimezone(UTC)
    if length is None:
        return None
    return now + length


def person_quiet_until(person: Person, now: datetime) -> datetime | None:
    """Pause, snooze and vacation, from the person's own row."""
    if person.paused:
        return now + PAUSE_RECHECK
    until: datetime | None = None
    if person.snoozed_until is not None and person.snoozed_until > now:
        until = person.snoozed_until
    first = parse_day(person.vacation_start or "")
    last = parse_day(person.vacation_end or "")
    if first is not None and last is not None:
        today = local_day(now, person.tz)
        if first <= today <= last:
            back = morning_of(last + timedelta(days=1), person.tz)
            until = back if until is None else max(until, back)
    return until


def holiday_quiet_until(holidays: list[str], tz: str | None, now: datetime) -> datetime | None:
    """Quiet until 09:00 local on the first day after a run of consecutive holidays."""
    days = set(holidays)
    day = local_day(now, tz)
    if day.isoformat() not in days:
        return None
    while day.isoformat() in days:
        day += timedelta(days=1)
    return morning_of(day, tz)


@dataclass(frozen=True)
class DndState:
    """What dnd.info said, as absolute instants, so a cached answer stays right."""

    fetched_at: datetime
    snooze_end: datetime | None = None
    window: tuple[datetime, datetime] | None = None

    def until(self, now: datetime) -> datetime | None:
        ends: list[datetime] = []
        if self.snooze_end is not None and self.snooze_end > now:
            ends.append(self.snooze_end)
        if self.window is not None and self.window[0] <= now < self.window[1]:
            ends.append(self.window[1])
        return max(ends) if ends else None


def _epoch(value: object) -> datetime | None:
    try:
        seconds = int(str(value))
    except (TypeError, ValueError):
        return None
    return datetime.fromtimestamp(seconds, UTC) if seconds > 0 else None


def dnd_state_from(resp: dict[str, object], now: datetime) -> DndState:
    snooze_end = _epoch(resp.get("snooze_endtime")) if resp.get("snooze_enabled") else None
    window = None
    if resp.get("dnd_enabled"):
        start, end = _epoch(resp.get("next_dnd_start_ts")), _epoch(resp.get("next_dnd_end_ts"))
        if start is not None and end is not None and start < end:
            window = (start, end)
    return DndState(fetched_at=now, snooze_end=snooze_end, window=window)


class DndCache:
    """Per runtime (not a module global): two apps in one process never share it."""

    def __init__(self) -> None:
        self._states: dict[tuple[str, str], DndState] = {}

    async def until(self, rt: Runtime, person: Person, now: datetime) -> datetime | None:
        key = (person.team_id, person.slack_id)
        state = self._states.get(key)
        if state is None or not (now - DND_CACHE_TTL <= state.fetched_at <= now):
            state = await self._fetch(rt, person.slack_id, now)
            self._states[key] = state
        return state.until(now)

    async def _fetch(self, rt: Runtime, user_id: str, now: datetime) -> DndState:
        try:
            resp = await rt.client.dnd_info(user=user_id)
        except SlackApiError as e:
            # A missing dnd:read scope or a Slack hiccup must never hold a nudge back.
            error = api_error(e)
            log.warning("dnd.info for %s failed (%s); sending anyway", user_id, error)
            return DndState(fetched_at=now)
        except (aiohttp.ClientError, TimeoutError, OSError) as e:
            log.warning("dnd.info for %s unreachable (%r); sending anyway", user_id, e)
            return DndState(fetched_at=now)
        return dnd_state_from(dict(resp.data) if isinstance(resp.data, dict) else {}, now)


async def asked_for_just_now(rt: Runtime, nudge: Nudge) -> bool:
    """A deal DM for a deal the rep reported themselves answers what they just did, so
    it goes out even while they are quiet; one a CRM or a manager reported waits.

    Decided here rather than by a per-kind `respects_quiet=False`, because the same kind
    ("deal_dm") is both: it depends on who reported the deal."""
    if nudge.kind != Kind.DEAL_DM or "deal_id" not in nudge.payload:
        return False
    deal_id = int(nudge.payload["deal_id"])

    def read() -> str | None:
        with unit_of_work(rt.engine) as session:
            deal = get_deal(session=session, deal_id=deal_id)
            return deal.reported_by if deal is not None else None

    return await rt.db(read) == nudge.user_slack_id


def make_quiet_check(dnd: DndCache) -> QuietCheck:
    """The one quiet check delivery asks: cheapest sources first, Slack's DND last."""

    async def check(rt: Runtime, nudge: Nudge, person: Person) -> datetime | None:
        if await asked_for_just_now(rt, nudge):
            return None
        now = rt.clock.now()
        until = person_quiet_until(person, now)

        def read() -> list[str]:
            with unit_of_work(rt.engine) as session:
                return workspace_holidays(session=session, team_id=person.team_id)

        holiday = holiday_quiet_until(await rt.db(read), person.tz, now)
        if holiday is not None:
            until = holiday if until is None else max(until, holiday)
        if until is not None:
            return until
        return await dnd.until(rt, person, now)

    return check
