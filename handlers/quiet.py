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
from datetime import UTC, datetime, timedelta

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
from storage.db import unit_of_work
from storage.models import Person
from storage.quiet import person_row, release_waiting, set_holiday, workspace_holidays

log = logging.getLogger(__name__)

Work = Callable[[Person, Texts], Awaitable[str]]


def local_time(when: datetime, tz: str | None) -> str:
    return when.astimezone(zone_of(tz)).strftime("%Y-%m-%d %H:%M")


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


def _update_person(rt: Runtime, person: Person, change: Callable[[Person], str]) -> str:
    with unit_of_work(rt.engine) as session:
        row = person_row(
            session=session, team_id=person.team_id, slack_id=person.slack_id, now=rt.clock.now()
        )
        result = change(row)
        session.add(row)
        return result


# --- pause / resume / snooze --------------------------------------------------------------


async def pause_command(call: CommandCall) -> None:
    t, rt = call.t, call.rt
    if call.args:
        await call.reply(t("quiet.no_arguments", word="pause"))
        return

    async def work(person: Person, t: Texts) -> str:
        def change(row: Person) -> str:
            if row.paused:
                return t("quiet.already_paused")
            row.paused = True
            return t("quiet.paused")

        return await rt.db(_update_person, rt, person, change)

    await answer_after_ack(call, work)


def _resume(rt: Runtime, t: Texts, person: Person) -> str:
    """Pause, snooze and a vacation under way all end; a vacation still to come stays."""
    now = rt.clock.now()
    with unit_of_work(rt.engine) as session:
        row = person_row(session=session, team_id=person.team_id, slack_id=person.slack_id, now=now)
        quiet = row.paused or (row.snoozed_until is not None and row.snoozed_until > now)
        first, last = parse_day(row.vacation_start or ""), parse_day(row.vacation_end or "")
        today = local_day(now, row.tz)
        if first is not None and last is not None and first <= today <= last:
            row.vacation_start = row.vacation_end = None
            quiet = True
        row.paused = False
        row.snoozed_until = None
        session.add(row)
        released = release_waiting(
            session=session, team_id=row.team_id, user_slack_id=row.slack_id, now=now
        )
    log.info("%s resumed; %d waiting nudge(s) due now", person.slack_id, released)
    return t("quiet.resumed") if quiet else t("quiet.not_paused")


async def resume_command(call: CommandCall) -> None:
    t, rt = call.t, call.rt
    if call.args:
        await call.reply(t("quiet.no_arguments", word="resume"))
        return

    async def work(person: Person, t: Texts) -> str:
        return await rt.db(_resume, rt, t, person)

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

        def change(row: Person) -> str:
            row.snoozed_until = local_until
            return t("quiet.snoozed", date=local_time(local_until, row.tz or person.tz))

        return await rt.db(_update_person, rt, person, change)

    await answer_after_ack(call, work)


# --- /loop settings -----------------------------------------------------------------------


def _read_settings(rt: Runtime, person: Person) -> QuietSettings:
    now = rt.clock.now()
    with unit_of_work(rt.engine) as session:
        row = person_row(session=session, team_id=person.team_id, slack_id=person.slack_id, now=now)
        holidays = workspace_holidays(session=session, team_id=person.team_id)
        tz = row.tz or person.tz
        snoozed = row.snoozed_until if row.snoozed_until and row.snoozed_until > now else None
        first, last = parse_day(row.vacation_start or ""), parse_day(row.vacation_end or "")
        vacation = None
        if first is not None and last is not None and last >= local_day(now, tz):
            vacation = (first.isoformat(), last.isoformat())
        upcoming = [d for d in holidays if d >= local_day(now, tz).isoformat()]
        return QuietSettings(
            paused=row.paused,
            snoozed_until=local_time(snoozed, tz) if snoozed else "",
            vacation=vacation,
            holidays=upcoming,
            tz=tz or "UTC",
        )


async def show_settings(call: CommandCall) -> None:
    rt = call.rt
    await call.ack()

    async def run() -> None:
        person = await load_person(rt, team_id=call.team_id, user_id=call.user_id)
        t = Texts(rt.catalog, person.locale)
        built = settings_message(t, await rt.db(_read_settings, rt, person))
        await call.respond(text=built.text, blocks=built.blocks, response_type="ephemeral")

    rt.spawn(run(), name=f"settings:{call.user_id}")


async def vacation_command(call: CommandCall, words: list[str]) -> None:
    t, rt = call.t, call.rt
    if words == ["off"] or words == ["none"]:

        async def clear(person: Person, t: Texts) -> str:
            def change(row: Person) -> str:
                row.vacation_start = row.vacation_end = None
                return t("quiet.settings.vacation_off")

            return await rt.db(_update_person, rt, person, change)

        await answer_after_ack(call, clear)
        return
    if not words or len(words) > 2:
        await call.reply(t("quiet.settings.vacation_usage"))
        return
    days = [parse_day(w) for w in words]
    for word, day in zip(words, days, strict=True):
        if day is None:
            await call.reply(
                t("quiet.settings.date_bad", word=word[:40])
                + "\n"
                + t("quiet.settings.vacation_usage")
            )
            return
    first, last = days[0], days[-1]
    assert first is not None and last is not None
    if last < first:
        await call.reply(
            t("quiet.settings.vacation_order", start=first.isoformat(), end=last.isoformat())
        )
        return
    # A day of slack either way: "today" differs by zone, and the ack has no zone yet.
    if last < rt.clock.now().astimezone(UTC).date() - timedelta(days=1):
        await call.reply(t("quiet.settings.vacation_past", end=last.isoformat()))
        return

    async def work(person: Person, t: Texts) -> str:
        def change(row: Person) -> str:
            row.vacation_start, row.vacation_end = first.isoformat(), last.isoformat()
            return t("quiet.settings.vacation_set", start=first.isoformat(), end=last.isoformat())

        return await rt.db(_update_person, rt, person, change)

    await answer_after_ack(call, work)


async def holidays_command(call: CommandCall, words: list[str]) -> None:
    t, rt = call.t, call.rt
    if not words or words == ["list"]:

        async def listing(person: Person, t: Texts) -> str:
            def read() -> list[str]:
                with unit_of_work(rt.engine) as session:
                    return workspace_holidays(session=session, team_id=call.team_id)

            return holidays_line(t, await rt.db(read))

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
    on = verb == "add"

    async def work(person: Person, t: Texts) -> str:
        if not await rt.db(is_admin, rt, call.team_id, person):
            return t("errors.admin_only")

        def write() -> bool:
            with unit_of_work(rt.engine) as session:
                return set_holiday(
                    session=session,
                    team_id=call.team_id,
                    day=day.isoformat(),
                    on=on,
                    now=rt.clock.now(),
                )

        changed = await rt.db(write)
        if on:
            key = "quiet.settings.holiday_added" if changed else "quiet.settings.holiday_exists"
        else:
            key = "quiet.settings.holiday_removed" if changed else "quiet.settings.holiday_missing"
        return t(key, date=day.isoformat())

    await answer_after_ack(call, work)


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
    else:
        await call.reply(call.t("quiet.settings.usage", word=words[0][:40]))


def register(app: AsyncApp, rt: Runtime, commands: LoopCommand) -> None:
    commands.add("pause", pause_command, help_key="help.line_pause")
    commands.add("resume", resume_command, help_key="help.line_resume", aliases=("unpause",))
    commands.add("snooze", snooze_command, help_key="help.line_snooze")
    commands.add("settings", settings_command, help_key="help.line_settings")


# One Do Not Disturb cache per runtime: the registry calls the factory once.
QUIET_CHECKS = (lambda: make_quiet_check(DndCache()),)
