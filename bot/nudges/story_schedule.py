"""When the stories channel's posts fall, as UTC instants: the week's thread on Monday
at 10:00 and the month's post on the 1st at 10:00, both in the workspace's zone.

Pure functions of "now" and the zone (daylight-saving handled as the reflections are,
bot.nudges.reflection_schedule.local_instant)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.nudges.reflection_schedule import local_instant, week_label, week_of

PROMPT_AT = time(10, 0)
# After downtime the week's prompt still goes out that day; a week later it is news of
# nothing (a story shared meanwhile started the thread anyway).
PROMPT_LATE = timedelta(days=1)
MONTH_LATE = timedelta(days=3)


def this_week(now: datetime, zone: ZoneInfo) -> tuple[str, datetime]:
    """The ISO week holding `now` in the workspace's zone, and its Monday 10:00."""
    day = now.astimezone(zone).date()
    monday, _ = week_of(day)
    return week_label(day), local_instant(monday, PROMPT_AT, zone)


def weeks_to_plan(now: datetime, zone: ZoneInfo) -> list[tuple[str, datetime]]:
    """This week's prompt while it can still go out, and next week's."""
    label, slot = this_week(now, zone)
    nxt_label, nxt_slot = this_week(slot + timedelta(days=7, hours=12), zone)
    out = []
    if now <= slot + PROMPT_LATE:
        out.append((label, slot))
    out.append((nxt_label, nxt_slot))
    return out


def month_label(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def month_bounds(label: str, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The month `label` (2026-11) as [start, end) UTC instants in the workspace's zone."""
    year, month = (int(p) for p in label.split("-"))
    first = date(year, month, 1)
    nxt = date(year + (month == 12), month % 12 + 1, 1)
    return local_instant(first, time(0, 0), zone), local_instant(nxt, time(0, 0), zone)


def month_slot(now: datetime, zone: ZoneInfo) -> tuple[str, datetime]:
    """The month holding `now`, and when its post is due: the next 1st at 10:00."""
    day = now.astimezone(zone).date()
    _, end = month_bounds(month_label(day), zone)
    nxt = end.astimezone(zone).date()
    return month_label(day), local_instant(nxt, PROMPT_AT, zone)


def months_to_plan(now: datetime, zone: ZoneInfo) -> list[tuple[str, datetime]]:
    """Last month's post while it can still go out, and this month's."""
    label, slot = month_slot(now, zone)
    start, _ = month_bounds(label, zone)
    prev_label, prev_slot = month_slot(start - timedelta(hours=12), zone)
    out = []
    if now <= prev_slot + MONTH_LATE:
        out.append((prev_label, prev_slot))
    out.append((label, slot))
    return out
