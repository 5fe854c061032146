"""`/loop settings`: what is holding a person's nudges back, and how to change it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.messages import Built, Texts, as_built
from bot.messages.blocks import Block, context, header, section


@dataclass(frozen=True)
class QuietSettings:
    paused: bool
    snoozed_until: str  # local date and time, "" when not snoozed
    vacation: tuple[str, str] | None
    holidays: Sequence[str]
    tz: str


def holidays_line(t: Texts, holidays: Sequence[str]) -> str:
    if not holidays:
        return t("quiet.settings.holidays_none")
    return t("quiet.settings.holidays", dates=", ".join(holidays))


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
