"""Quiet: `/loop pause`, `/loop resume`, `/loop snooze <1h|tomorrow|3d|1w>` and
`/loop settings` (vacation dates; the workspace holiday list, admins only).

Nothing here sends or drops a nudge: the quiet check registered below tells delivery
when a person is reachable again, and delivery keeps or skips each kind by its policy.
Slack's own Do Not Disturb is read from `dnd.info` (scope `dnd:read`) by the same check.

Bad input is answered in the ack, saying what to type; anything that needs the person's
time zone or admin flag (a Slack call) is answered after it, on the response_url.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

from slack_bolt.async_app import AsyncApp

from bot.clock import zone_of
from bot.messages import Texts
from bot.messages.quiet import QuietSettings, holidays_line, settings_message
from bot.nudges.quiet import (
    MAX_SNOOZE_DAYS,
    DndCache,
    local_day,
    make_quiet_check,
    parse_day,
    parse_snooze,
)
from bot.runtime import Runtime
from bot.slack.people import is_admin, load_person
from handlers.loop_command import CommandCall, LoopCommand
from storage import quiet as store
from storage.models import Person

log = logging.getLogger(__name__)

Work = Callable[[Person, Texts], Awaitable[str]]


def local_time(when: datetime, tz: str | None) -> datetime:
    """The instant on the person's wall clock; Texts writes it in their locale."""
    return when.astimezone(zone_of(tz))


async def answer_after_ack(call: CommandCall, work: Work) -> None:
    """Ack now; look the person up (their zone, admin flag) and answer on response_url."""
    await call.ack()
    rt = call.rt

    async def run() -> None:
        person = await load_person(rt, team_id=call.team_id, user_id=call.user_id)
        # A first-time user's language is known only now, from users.info.
        text = await work(person, Texts(rt.catalog, person.locale))
        await call.respond(text=text, response_type="ephemeral")

    rt.spawn(run(), name=f"quiet:{call.name}:{call.user_id}")


def vacation_under_way(row: Person, now: datetime) -> bool:
    """Whether today, in the person's own zone, falls in their vacation."""
    first, last = parse_day(row.vacation_start or ""), parse_day(row.vacation_end or "")
    today = local_day(now, row.tz)
    return first is not None and last is not None and first <= today <= last


# --- pause / resume / snooze --------------------------------------------------------------


async def pause_command(call: CommandCall) -> None:
    t, rt = call.t, call.rt
    if call.args:
        await call.reply(t("quiet.no_arguments", word="pause"))
        return

    async def work(person: Person, t: Texts) -> str:
        paused = await rt.tx(
            store.pause, team_id=person.team_id, slack_id=person.slack_id, now=rt.clock.now()
        )
        return t("quiet.paused") if paused else t("quiet.already_paused")

    await answer_after_ack(call, work)


async def _resume(rt: Runtime, t: Texts, person: Person) -> str:
    """Pause, snooze and a vacation under way all end; a vacation still to come stays."""
    now = rt.clock.now()
    quiet, released = await rt.tx(
        store.resume,
        team_id=person.team_id,
        slack_id=person.slack_id,
        now=now,
        on_vacation=lambda row: vacation_under_way(row, now),
    )
    log.info("%s resumed; %d waiting nudge(s) due now", person.slack_id, released)
    return t("quiet.resumed") if quiet else t("quiet.not_paused")


async def resume_command(call: CommandCall) -> None:
    t, rt = call.t, call.rt
    if call.args:
        await call.reply(t("quiet.no_arguments", word="resume"))
        return

    async def work(person: Person, t: Texts) -> str:
        return await _resume(rt, t, person)

    await answer_after_ack(call, work)


async def snooze_command(call: CommandCall) -> None:
    t, rt = call.t, call.rt
    word = call.args.strip().lower()
    if not word:
        await call.reply(t("quiet.snooze_usage"))
        return
    if word in ("off", "stop", "cancel"):
        await resume_command(replace(call, args=""))
        return
    now = rt.clock.now()
    # Checked in UTC first so a bad word is answered in the ack; the rep's zone only
    # moves "tomorrow" by hours.
    until = parse_snooze(word, now, None)
    if until is None:
        await call.reply(t("quiet.snooze_bad", word=call.args.strip()[:40]))
        return
    if until - now > timedelta(days=MAX_SNOOZE_DAYS):
        await call.reply(t("quiet.snooze_too_long", days=MAX_SNOOZE_DAYS))
        return

    async def work(person: Person, t: Texts) -> str:
        local_until = parse_snooze(word, rt.clock.now(), person.tz) or until
        tz = await rt.tx(
            store.snooze,
            team_id=person.team_id,
            slack_id=person.slack_id,
            until=local_until,
            now=rt.clock.now(),
        )
        return t("quiet.snoozed", date=local_time(local_until, tz or person.tz))

    await answer_after_ack(call, work)


# --- /loop settings -----------------------------------------------------------------------


def settings_of(row: store.QuietRow, now: datetime, tz: str | None) -> QuietSettings:
    """What `/loop settings` says, from the stored row, with dates in the person's zone."""
    snoozed = row.snoozed_until if row.snoozed_until and row.snoozed_until > now else None
    first, last = parse_day(row.vacation_start or ""), parse_day(row.vacation_end or "")
    today = local_day(now, tz)
    vacation = None
    if first is not None and last is not None and last >= today:
        vacation = (first, last)
    return QuietSettings(
        paused=row.paused,
        snoozed_until=local_time(snoozed, tz) if snoozed else None,
        vacation=vacation,
        holidays=[d for d in map(parse_day, row.holidays) if d is not None and d >= today],
        tz=tz or "UTC",
    )


async def _show_settings(call: CommandCall) -> None:
    rt = call.rt
    person = await load_person(rt, team_id=call.team_id, user_id=call.user_id)
    t = Texts(rt.catalog, person.locale)
    now = rt.clock.now()
    row = await rt.tx(store.quiet_row, team_id=person.team_id, slack_id=person.slack_id, now=now)
    built = settings_message(t, settings_of(row, now, row.tz or person.tz))
    await call.respond(text=built.text, blocks=built.blocks, response_type="ephemeral")


async def show_settings(call: CommandCall) -> None:
    await call.ack()
    call.rt.spawn(_show_settings(call), name=f"settings:{call.user_id}")


def _vacation_setter(call: CommandCall, first: str | None, last: str | None, key: str) -> Work:
    rt = call.rt

    async def work(person: Person, t: Texts) -> str:
        await rt.tx(
            store.set_vacation,
            team_id=person.team_id,
            slack_id=person.slack_id,
            first=first,
            last=last,
            now=rt.clock.now(),
        )
        return t(key, start=parse_day(first or "") or "", end=parse_day(last or "") or "")

    return work


def _vacation_problem(t: Texts, words: list[str], call: CommandCall) -> str | None:
    """What is wrong with `/loop settings vacation <first> [<last>]`, or None."""
    if not words or len(words) > 2:
        return t("quiet.settings.vacation_usage")
    days = [parse_day(w) for w in words]
    for word, day in zip(words, days, strict=True):
        if day is None:
            return (
                t("quiet.settings.date_bad", word=word[:40])
                + "\n"
                + t("quiet.settings.vacation_usage")
            )
    first, last = days[0], days[-1]
    assert first is not None and last is not None
    if last < first:
        return t("quiet.settings.vacation_order", start=first, end=last)
    # A day of slack either way: "today" differs by zone, and the ack has no zone yet.
    if last < call.rt.clock.now().astimezone(UTC).date() - timedelta(days=1):
        return t("quiet.settings.vacation_past", end=last)
    return None


async def vacation_command(call: CommandCall, words: list[str]) -> None:
    t = call.t
    if words == ["off"] or words == ["none"]:
        await answer_after_ack(
            call, _vacation_setter(call, None, None, "quiet.settings.vacation_off")
        )
        return
    problem = _vacation_problem(t, words, call)
    if problem is not None:
        await call.reply(problem)
        return
    first, last = parse_day(words[0]), parse_day(words[-1])
    assert first is not None and last is not None
    work = _vacation_setter(
        call, first.isoformat(), last.isoformat(), "quiet.settings.vacation_set"
    )
    await answer_after_ack(call, work)


def _holiday_setter(call: CommandCall, day: date, on: bool) -> Work:
    rt = call.rt

    async def work(person: Person, t: Texts) -> str:
        if not await rt.db(is_admin, rt, call.team_id, person):
            return t("errors.admin_only")
        changed = await rt.tx(
            store.set_holiday,
            team_id=call.team_id,
            day=day.isoformat(),
            on=on,
            now=rt.clock.now(),
        )
        if on:
            key = "quiet.settings.holiday_added" if changed else "quiet.settings.holiday_exists"
        else:
            key = "quiet.settings.holiday_removed" if changed else "quiet.settings.holiday_missing"
        return t(key, date=day)

    return work


async def holidays_command(call: CommandCall, words: list[str]) -> None:
    t, rt = call.t, call.rt
    if not words or words == ["list"]:

        async def listing(person: Person, t: Texts) -> str:
            days = await rt.tx(store.workspace_holidays, write=False, team_id=call.team_id)
            return holidays_line(t, [d for d in map(parse_day, days) if d is not None])

        await answer_after_ack(call, listing)
        return
    verb = words[0].lower()
    if verb not in ("add", "remove", "delete", "rm") or len(words) != 2:
        await call.reply(t("quiet.settings.holidays_usage"))
        return
    day = parse_day(words[1])
    if day is None:
        await call.reply(
            t("quiet.settings.date_bad", word=words[1][:40])
            + "\n"
            + t("quiet.settings.holidays_usage")
        )
        return
    await answer_after_ack(call, _holiday_setter(call, day, verb == "add"))


async def settings_command(call: CommandCall) -> None:
    words = call.args.split()
    if not words:
        await show_settings(call)
        return
    topic, rest = words[0].lower(), words[1:]
    if topic in ("vacation", "vacations", "holiday-mode"):
        await vacation_command(call, rest)
    elif topic in ("holidays", "holiday"):
        await holidays_command(call, rest)
    elif call.router is not None and topic in call.router.settings_topics:
        handler = call.router.settings_topics[topic]
        await handler(replace(call, args=" ".join(rest)))
    else:
        await call.reply(call.t("quiet.settings.usage", word=words[0][:40]))


def register(app: AsyncApp, rt: Runtime, commands: LoopCommand) -> None:
    commands.add("pause", pause_command, help_key="help.line_pause")
    commands.add("resume", resume_command, help_key="help.line_resume", aliases=("unpause",))
    commands.add("snooze", snooze_command, help_key="help.line_snooze")
    commands.add("settings", settings_command, help_key="help.line_settings")


# One Do Not Disturb cache per runtime: the registry calls the factory once.
QUIET_CHECKS = (lambda: make_quiet_check(DndCache()),)
