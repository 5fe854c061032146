"""When a rep's end-of-day reflection and weekly digest fall, as UTC instants.

Pure functions of "now", the rep's zone and the workspace's calendar, so daylight-saving
changes are tested by asserting instants, never by waiting for them.

Wall-clock times that do not exist (the hour skipped when clocks go forward) or exist
twice (the hour repeated when they go back) are read with `fold=0`: zoneinfo then uses
the offset in force *before* the change. A skipped 02:30 becomes 03:30 of the new
offset (the moment a clock that kept running would show it), and a repeated 01:30 is
the first one, so a rep is never nudged twice nor an hour early.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.clock import zone_of

# The digest comes an hour after the reflection slot, so that evening's reflection,
# written when the DM arrives, is part of the week it reports.
DIGEST_AFTER_REFLECTION = timedelta(hours=1)
# Far enough to cross any run of holidays; a calendar with no working day at all
# (an empty WORKING_DAYS is refused by settings) would otherwise loop forever.
_HORIZON_DAYS = 400


def local_instant(day: date, at: time, zone: ZoneInfo) -> datetime:
    """`day` at wall-clock `at` in `zone`, as a UTC instant (see the module docstring)."""
    wall = datetime.combine(day, at.replace(tzinfo=None), tzinfo=zone).replace(fold=0)
    return wall.astimezone(UTC)


def is_reflection_day(day: date, working_days: Collection[int], holidays: Collection[str]) -> bool:
    return day.weekday() in working_days and day.isoformat() not in holidays


def next_reflection_slot(
    now: datetime,
    tz: str | ZoneInfo | None,
    end_of_day: time,
    working_days: Collection[int],
    holidays: Collection[str] = (),
) -> datetime:
    """The first end-of-day slot strictly after `now`: a working day that is not a
    holiday, at `end_of_day` in the rep's zone, as UTC."""
    return reflection_slot_after(now, tz, end_of_day, working_days, holidays)[1]


def reflection_slot_after(
    now: datetime,
    tz: str | ZoneInfo | None,
    end_of_day: time,
    working_days: Collection[int],
    holidays: Collection[str] = (),
) -> tuple[date, datetime]:
    """Like `next_reflection_slot`, with the rep's local date of that slot."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    zone = tz if isinstance(tz, ZoneInfo) else zone_of(tz)
    day = now.astimezone(zone).date()
    for _ in range(_HORIZON_DAYS):
        if is_reflection_day(day, working_days, holidays):
            slot = local_instant(day, end_of_day, zone)
            if slot > now:
                return day, slot
        day += timedelta(days=1)
    raise ValueError("no working day in the next year; check WORKING_DAYS and the holidays")


def week_of(day: date) -> tuple[date, date]:
    """Monday and Sunday of the ISO week holding `day`."""
    monday = day - timedelta(days=day.weekday())
    return monday, monday + timedelta(days=6)


def week_label(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def digest_day(
    monday: date, working_days: Collection[int], holidays: Collection[str]
) -> date | None:
    """The last working, non-holiday day of the week starting `monday` (None: no such day)."""
    for offset in range(6, -1, -1):
        day = monday + timedelta(days=offset)
        if is_reflection_day(day, working_days, holidays):
            return day
    return None


def next_digest_slot(
    now: datetime,
    tz: str | ZoneInfo | None,
    end_of_day: time,
    working_days: Collection[int],
    holidays: Collection[str] = (),
) -> tuple[date, datetime]:
    """The next weekly digest strictly after `now`: (the digest's local day, UTC instant).

    It falls on the week's last working day that is not a holiday, an hour after the
    reflection; a week without any working day has no digest."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    zone = tz if isinstance(tz, ZoneInfo) else zone_of(tz)
    monday, _ = week_of(now.astimezone(zone).date())
    for _ in range(_HORIZON_DAYS // 7 + 1):
        day = digest_day(monday, working_days, holidays)
        if day is not None:
            slot = local_instant(day, end_of_day, zone) + DIGEST_AFTER_REFLECTION
            if slot > now:
                return day, slot
        monday += timedelta(days=7)
    raise ValueError("no working day in the next year; check WORKING_DAYS and the holidays")
