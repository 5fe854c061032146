"""The noise budget: how many DMs the bot starts with a person, and when.

- One DM per person per slot (an hour): what falls due for them within the hour goes
  out as one message with a section each (bot/messages/bundle.py), and a nudge due
  less than an hour after their last one waits for the hour to end.
- At most DAILY_NUDGE_CAP of those a day (their local day); beyond it a nudge moves to
  09:00 on their next working day (WORKING_DAYS, not a workspace holiday), or is
  skipped if its kind is skipped when the person is quiet (an evening reflection).
- Never held, never bundled, never counted: a deal DM (the rep's own deal arriving) and
  kinds that answer what the person just did (`respects_quiet=False`).

`NOISE_BUDGET=off` turns all of it off (every nudge on its own, as before).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.nudges.quiet import local_day, morning_of, start_of_day
from bot.nudges.reflection_schedule import is_reflection_day
from bot.runtime import Runtime
from bot.workspace_settings import effective_blocking
from storage import nudges
from storage.db import unit_of_work
from storage.kinds import Kind
from storage.models import Nudge, Person
from storage.quiet import workspace_holidays

SLOT = timedelta(hours=1)
# The most nudges one DM gathers; Block Kit's 50 blocks usually stop it sooner.
MAX_SECTIONS = 12
CAPPED = "daily cap reached: moved to the next working day"
SLOTTED = "one DM an hour: waiting for this hour's to pass"


def is_exempt(rt: Runtime, kind: str) -> bool:
    """Kinds the budget never holds nor bundles nor counts."""
    return kind == Kind.DEAL_DM or not rt.registry.policy(kind).respects_quiet


def exempt_kinds(rt: Runtime) -> list[str]:
    return [name for name in rt.registry.kinds if is_exempt(rt, name)] or [Kind.DEAL_DM]


def applies(rt: Runtime, nudge: Nudge) -> bool:
    return rt.settings.noise_budget and not is_exempt(rt, nudge.kind)


def next_working_morning(
    now: datetime, tz: str | None, working_days: tuple[int, ...], holidays: list[str]
) -> datetime:
    """09:00 local on the first working day after today that is not a holiday."""
    day = local_day(now, tz) + timedelta(days=1)
    for _ in range(400):
        if is_reflection_day(day, working_days, holidays):
            break
        day += timedelta(days=1)
    return morning_of(day, tz)


def _hold(rt: Runtime, person: Person, now: datetime) -> tuple[datetime, str] | None:
    working_days = effective_blocking(rt, person.team_id).working_days
    with unit_of_work(rt.engine) as session:
        midnight = start_of_day(local_day(now, person.tz), person.tz)
        sent = nudges.dms_sent_since(
            session=session,
            team_id=person.team_id,
            user_slack_id=person.slack_id,
            since=min(midnight, now - SLOT),
        )
        today = [at for at in sent.values() if at >= midnight]
        if len(today) >= rt.settings.daily_nudge_cap:
            holidays = workspace_holidays(session=session, team_id=person.team_id)
            when = next_working_morning(now, person.tz, working_days, holidays)
            return when, CAPPED
    last = max(sent.values(), default=None)
    if last is not None and last > now - SLOT:
        return last + SLOT, SLOTTED
    return None


async def hold_until(rt: Runtime, person: Person) -> tuple[datetime, str] | None:
    """When this person may next get a budgeted DM, and why, if not now."""
    return await rt.db(_hold, rt, person, rt.clock.now())


def _companions(
    rt: Runtime, lead: Nudge, taken: int, now: datetime, lease: timedelta
) -> list[Nudge]:
    early = [name for name, kind in rt.registry.kinds.items() if not kind.policy.early]
    with unit_of_work(rt.engine, immediate=True) as session:
        due_now = nudges.claim_companions(
            session=session,
            team_id=lead.team_id,
            user_slack_id=lead.user_slack_id,
            due_by=now,
            now=now,
            lease=lease,
            exclude_kinds=exempt_kinds(rt),
            limit=MAX_SECTIONS - taken,
        )
        within_hour = nudges.claim_companions(
            session=session,
            team_id=lead.team_id,
            user_slack_id=lead.user_slack_id,
            # Strictly inside the hour: the next slot's nudge is the next slot's DM.
            due_by=now + SLOT - timedelta(microseconds=1),
            now=now,
            lease=lease,
            exclude_kinds=[*exempt_kinds(rt), *early],
            limit=MAX_SECTIONS - taken - len(due_now),
        )
    return due_now + within_hour


async def gather(rt: Runtime, lead: Nudge, taken: int, lease: timedelta) -> list[Nudge]:
    """Claim the person's other nudges due now or within the hour, for one DM."""
    return await rt.db(_companions, rt, lead, taken, rt.clock.now(), lease)
