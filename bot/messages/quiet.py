"""`/loop settings`: what is holding a person's nudges back, and how to change it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from bot.messages import Built, Texts, as_built
from bot.messages.blocks import Block, context, header, section
from bot.messages.formats import format_dates


@dataclass(frozen=True)
class QuietSettings:
    paused: bool
    snoozed_until: datetime | None  # on the person's wall clock; None when not snoozed
    vacation: tuple[date, date] | None
    holidays: Sequence[date]
    tz: str


def holidays_line(t: Texts, holidays: Sequence[date]) -> str:
    if not holidays:
        return t("quiet.settings.holidays_none")
    return t("quiet.settings.holidays", dates=format_dates(holidays, t.lang))


def settings_message(t: Texts, s: QuietSettings) -> Built:
    if s.paused:
        nudges = t("quiet.settings.nudges_paused")
    elif s.snoozed_until:
        nudges = t("quiet.settings.nudges_snoozed", date=s.snoozed_until)
    else:
        nudges = t("quiet.settings.nudges_on")
    vacation = (
        t("quiet.settings.vacation", start=s.vacation[0], end=s.vacation[1])
        if s.vacation
        else t("quiet.settings.vacation_none")
    )
    lines = [nudges, vacation, holidays_line(t, s.holidays), t("quiet.settings.time_zone", tz=s.tz)]
    blocks: list[Block] = [
        header(t("quiet.settings.header")),
        section("\n".join(lines)),
        context(t("quiet.settings.how_to")),
    ]
    text = t("quiet.settings.header") + "\n" + "\n".join(lines)
    return as_built(text, blocks)
