"""A workspace's effective settings: the environment's values (DEALS_CHANNELS, END_OF_DAY,
WORKING_DAYS, LOSS_STREAK, DEBRIEF_REMINDER_DAYS, CONCERN_DELAY_HOURS, FOLLOWUP_DAYS) as
defaults, overridden by what an admin saved in App Home's settings (WorkspaceSetting
rows). Every place that uses one of these reads it here, per workspace, so a change
applies without a restart.

Reading is cheap: a workspace's values are kept for a few seconds (a deals channel is
checked on every channel message, before the ack), a save on this process forgets them
at once, and the planners read every workspace's rows once per tick, fresh, in one query
(`for_all_teams`). Another replica sees a change within CACHE_SECONDS."""

from __future__ import annotations

import re
import time as monotonic
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, time
from typing import Any

from bot.messages import Texts
from bot.runtime import Runtime
from bot.settings import WEEKDAYS, Settings
from bot.slack import ids
from storage.workspace_settings import stored_by_team

# The WorkspaceSetting keys (the stories channel keeps its own, bot/stories/config.py).
DEALS_CHANNELS = "deals_channels"
END_OF_DAY = "end_of_day"
WORKING_DAYS = "working_days"
LOSS_STREAK = "loss_streak"
DEBRIEF_REMINDER_DAYS = "debrief_reminder_days"
CONCERN_DELAY_HOURS = "concern_delay_hours"
FOLLOWUP_DAYS = "followup_days"
KEYS = (
    DEALS_CHANNELS,
    END_OF_DAY,
    WORKING_DAYS,
    LOSS_STREAK,
    DEBRIEF_REMINDER_DAYS,
    CONCERN_DELAY_HOURS,
    FOLLOWUP_DAYS,
)
# The numbers an admin may type, inclusive (the same as the environment accepts, except
# that App Home asks for at least an hour before a concern check-in).
RANGES: dict[str, tuple[float, float]] = {
    LOSS_STREAK: (2, 50),
    DEBRIEF_REMINDER_DAYS: (1, 60),
    CONCERN_DELAY_HOURS: (1, 24 * 90),
    FOLLOWUP_DAYS: (1, 90),
}
WHOLE_NUMBERS = frozenset({LOSS_STREAK, DEBRIEF_REMINDER_DAYS, FOLLOWUP_DAYS})
CACHE_SECONDS = 10.0

_CHANNEL = re.compile(r"^(?:[CG][A-Z0-9]{2,}|#[a-z0-9][a-z0-9_\-]{0,79})$")
_HHMM = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


@dataclass(frozen=True)
class Effective:
    deals_channels: tuple[str, ...]  # channel ids, or #names from DEALS_CHANNELS
    end_of_day: time
    working_days: tuple[int, ...]  # 0 = Monday
    loss_streak: int
    debrief_reminder_days: int
    concern_delay_hours: float
    followup_days: int
    # The keys an admin set in Slack (the others are the environment's).
    from_slack: frozenset[str] = field(default=frozenset())

    @property
    def deals_channel_ids(self) -> frozenset[str]:
        return frozenset(c for c in self.deals_channels if not c.startswith("#"))

    @property
    def deals_channel_names(self) -> frozenset[str]:
        return frozenset(c[1:].lower() for c in self.deals_channels if c.startswith("#"))


def defaults(s: Settings) -> Effective:
    """The environment's values alone."""
    return Effective(
        deals_channels=s.deals_channels,
        end_of_day=s.end_of_day,
        working_days=s.working_days,
        loss_streak=s.loss_streak,
        debrief_reminder_days=s.debrief_reminder_days,
        concern_delay_hours=s.concern_delay_hours,
        followup_days=s.followup_days,
    )


# --- stored values: what a row holds, and reading it back ---------------------------------


def encode(key: str, value: Any) -> dict[str, Any]:
    """The JSON a WorkspaceSetting row holds for a value of `key`."""
    if key == DEALS_CHANNELS:
        return {"channels": list(value)}
    if key == END_OF_DAY:
        return {"value": f"{value.hour:02d}:{value.minute:02d}"}
    if key == WORKING_DAYS:
        return {"value": sorted(value)}
    return {"value": value}


def _decode(key: str, raw: Mapping[str, Any]) -> Any:
    """A stored value, or None when the row cannot be one (then the default applies)."""
    if key == DEALS_CHANNELS:
        channels = raw.get("channels")
        if not isinstance(channels, list) or not all(
            isinstance(c, str) and _CHANNEL.match(c) for c in channels
        ):
            return None
        return tuple(dict.fromkeys(channels))
    value = raw.get("value")
    if key == END_OF_DAY:
        match = _HHMM.match(str(value or ""))
        return time(int(match[1]), int(match[2])) if match else None
    if key == WORKING_DAYS:
        if not isinstance(value, list) or not value:
            return None
        days = {d for d in value if isinstance(d, int) and 0 <= d < len(WEEKDAYS)}
        return tuple(sorted(days)) if len(days) == len(value) else None
    lo, hi = RANGES[key]
    if isinstance(value, bool) or not isinstance(value, int | float) or not lo <= value <= hi:
        return None
    return int(value) if key in WHOLE_NUMBERS else float(value)


def merge(s: Settings, stored: Mapping[str, Mapping[str, Any]]) -> Effective:
    """The environment's values with what an admin stored on top."""
    values: dict[str, Any] = {}
    for key in KEYS:
        raw = stored.get(key)
        decoded = _decode(key, raw) if isinstance(raw, Mapping) else None
        if decoded is not None:
            values[key] = decoded
    base = defaults(s)
    return Effective(
        deals_channels=values.get(DEALS_CHANNELS, base.deals_channels),
        end_of_day=values.get(END_OF_DAY, base.end_of_day),
        working_days=values.get(WORKING_DAYS, base.working_days),
        loss_streak=values.get(LOSS_STREAK, base.loss_streak),
        debrief_reminder_days=values.get(DEBRIEF_REMINDER_DAYS, base.debrief_reminder_days),
        concern_delay_hours=values.get(CONCERN_DELAY_HOURS, base.concern_delay_hours),
        followup_days=values.get(FOLLOWUP_DAYS, base.followup_days),
        from_slack=frozenset(values),
    )


# --- reading, per workspace -----------------------------------------------------------------


def _keep(rt: Runtime, team_id: str, eff: Effective) -> Effective:
    rt.workspace_settings[team_id] = (monotonic.monotonic() + CACHE_SECONDS, eff)
    return eff


def _cached(rt: Runtime, team_id: str) -> Effective | None:
    kept = rt.workspace_settings.get(team_id)
    if kept is None or kept[0] < monotonic.monotonic():
        return None
    eff: Effective = kept[1]
    return eff


def effective_blocking(rt: Runtime, team_id: str) -> Effective:
    """`effective` for code already off the event loop."""
    eff = _cached(rt, team_id)
    if eff is not None:
        return eff
    stored = rt.tx_blocking(stored_by_team, write=False, keys=KEYS, team_ids=[team_id])
    return _keep(rt, team_id, merge(rt.settings, stored.get(team_id, {})))


async def effective(rt: Runtime, team_id: str) -> Effective:
    """One workspace's settings; no database read when they were read a moment ago."""
    eff = _cached(rt, team_id)
    if eff is not None:
        return eff
    return await rt.db(effective_blocking, rt, team_id)


@dataclass(frozen=True)
class AllTeams:
    """Every workspace's settings, read once (a planner's tick)."""

    settings: Settings
    by_team: Mapping[str, Effective]

    def of(self, team_id: str) -> Effective:
        found = self.by_team.get(team_id)
        return found if found is not None else defaults(self.settings)


def for_all_teams_blocking(rt: Runtime) -> AllTeams:
    """Fresh, in one query: what a planner reads at the start of its tick."""
    stored = rt.tx_blocking(stored_by_team, write=False, keys=KEYS)
    by_team = {team: _keep(rt, team, merge(rt.settings, rows)) for team, rows in stored.items()}
    return AllTeams(rt.settings, by_team)


def forget(rt: Runtime, team_id: str) -> None:
    """After a save: the next read is fresh."""
    rt.workspace_settings.pop(team_id, None)


# --- the App Home form: what was submitted, checked -------------------------------------------


@dataclass(frozen=True)
class Submitted:
    deals_channels: tuple[str, ...]
    stories_channel: str | None
    end_of_day: time | None
    working_days: tuple[int, ...]
    numbers: Mapping[str, float]
    holidays: tuple[str, ...]
    admins: frozenset[str]


# The modal's number fields and the setting each one is.
NUMBER_FIELDS = {
    ids.SETTINGS_STREAK: LOSS_STREAK,
    ids.SETTINGS_REMINDER: DEBRIEF_REMINDER_DAYS,
    ids.SETTINGS_CONCERN: CONCERN_DELAY_HOURS,
    ids.SETTINGS_FOLLOWUP: FOLLOWUP_DAYS,
}
_EXAMPLES = {LOSS_STREAK: 3, DEBRIEF_REMINDER_DAYS: 3, FOLLOWUP_DAYS: 7}
_DATE_SPLIT = re.compile(r"[\s,;]+")
_DAY_VALUES = frozenset(str(n) for n in range(len(WEEKDAYS)))


def _element(state: Mapping[str, Any], block: str) -> Mapping[str, Any]:
    values = state.get("values") or {}
    found = (values.get(block) or {}).get(ids.FIELD_VALUE)
    return found if isinstance(found, Mapping) else {}


def _strings(raw: Any) -> list[str]:
    return [str(x) for x in raw] if isinstance(raw, list) else []


def _number_error(t: Texts, key: str, raw: Any, current: float) -> tuple[float | None, str | None]:
    """(the number, or None when unchanged) and the error to show, if any."""
    lo, hi = RANGES[key]
    text = str(raw if raw is not None else "").strip()
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if value == current:
        return None, None
    whole = key in WHOLE_NUMBERS
    if not lo <= value <= hi or (whole and not value.is_integer()):
        if whole:
            return None, t(
                "admin_settings.error_number", min=int(lo), max=int(hi), example=_EXAMPLES[key]
            )
        return None, t("admin_settings.error_hours", min=int(lo), max=int(hi))
    return value, None


def _holidays(t: Texts, raw: Any) -> tuple[tuple[str, ...], str | None]:
    days: set[str] = set()
    for word in _DATE_SPLIT.split(str(raw or "").strip()):
        if not word:
            continue
        try:
            days.add(date.fromisoformat(word).isoformat())
        except ValueError:
            return (), t("admin_settings.error_date", word=word[:40])
    return tuple(sorted(days)), None


def read_form(
    t: Texts, state: Mapping[str, Any], current: Effective
) -> tuple[Submitted, dict[str, str]]:
    """What the admin submitted, and an error per field they must fix (what to type
    instead). A number left as it was is never refused, whatever the environment says."""
    errors: dict[str, str] = {}
    picked = _element(state, ids.SETTINGS_END_OF_DAY).get("selected_time")
    match = _HHMM.match(str(picked or ""))
    if match is None:
        errors[ids.SETTINGS_END_OF_DAY] = t("admin_settings.error_time")
    chosen = _element(state, ids.SETTINGS_DAYS).get("selected_options") or []
    days = tuple(
        sorted({int(o["value"]) for o in chosen if str(o.get("value", "")) in _DAY_VALUES})
    )
    if not days:
        errors[ids.SETTINGS_DAYS] = t("admin_settings.error_days_none")
    numbers: dict[str, float] = {}
    for block, key in NUMBER_FIELDS.items():
        value, error = _number_error(
            t, key, _element(state, block).get("value"), float(getattr(current, key))
        )
        if error:
            errors[block] = error
        elif value is not None:
            numbers[key] = value
    holidays, error = _holidays(t, _element(state, ids.SETTINGS_HOLIDAYS).get("value"))
    if error:
        errors[ids.SETTINGS_HOLIDAYS] = error
    stories = _element(state, ids.SETTINGS_STORIES).get("selected_conversation")
    submitted = Submitted(
        deals_channels=tuple(
            dict.fromkeys(
                c
                for c in _strings(_element(state, ids.SETTINGS_DEALS).get("selected_conversations"))
                if _CHANNEL.match(c) and not c.startswith("#")
            )
        ),
        stories_channel=str(stories) if stories and _CHANNEL.match(str(stories)) else None,
        end_of_day=time(int(match[1]), int(match[2])) if match else None,
        working_days=days,
        numbers=numbers,
        holidays=holidays,
        admins=frozenset(_strings(_element(state, ids.SETTINGS_ADMINS).get("selected_users"))),
    )
    return submitted, errors


def changed_values(
    current: Effective, sub: Submitted, shown_deals: tuple[str, ...]
) -> dict[str, Any]:
    """key -> the JSON to store, for each value that differs from what the form showed."""
    out: dict[str, Any] = {}
    if set(sub.deals_channels) != set(shown_deals):
        out[DEALS_CHANNELS] = encode(DEALS_CHANNELS, sub.deals_channels)
    if sub.end_of_day is not None and sub.end_of_day != current.end_of_day:
        out[END_OF_DAY] = encode(END_OF_DAY, sub.end_of_day)
    if sub.working_days and sub.working_days != current.working_days:
        out[WORKING_DAYS] = encode(WORKING_DAYS, sub.working_days)
    for key, value in sub.numbers.items():
        out[key] = encode(key, int(value) if key in WHOLE_NUMBERS else value)
    return out
