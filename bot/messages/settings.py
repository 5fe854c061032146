"""The workspace settings an admin changes in App Home: the summary with its "Settings"
button (admins' App Home only) and the modal.

Pure builders: catalog texts and plain values in, Block Kit dicts out. Reading and
checking what was submitted is bot/workspace_settings.py's."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.messages import Texts, form_modal
from bot.messages.blocks import (
    Block,
    button,
    context,
    header,
    input_block,
    modal_view,
    option,
    section,
)
from bot.slack import ids

DAY_KEYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
HOLIDAYS_MAX = 3000  # the holiday field's characters: a few years of dates


@dataclass(frozen=True)
class Shown:
    """The effective values, as the modal and App Home show them."""

    deals_channels: Sequence[str]  # channel ids
    stories_channel: str | None
    end_of_day: str  # "HH:MM"
    working_days: Sequence[int]  # 0 = Monday
    loss_streak: int
    debrief_reminder_days: int
    concern_delay_hours: float
    followup_days: int
    holidays: Sequence[str] = ()  # ISO dates, today and later
    admins: Sequence[str] = ()  # user ids: named in the bot's configuration or in Slack
    # DEALS_CHANNELS #names no channel the bot can see answers to.
    unresolved: Sequence[str] = field(default=())


def _number(value: float) -> str:
    return f"{value:g}"


def day_names(t: Texts, days: Sequence[int]) -> str:
    return ", ".join(t(f"admin_settings.option_{DAY_KEYS[d]}") for d in sorted(days))


def _channels(t: Texts, channels: Sequence[str]) -> str:
    """Channel ids as links; a #name from the configuration as it is written."""
    shown = [c if c.startswith("#") else f"<#{c}>" for c in channels]
    return ", ".join(shown) or t("admin_settings.none")


def home_blocks(t: Texts, shown: Shown) -> list[Block]:
    """An admin's App Home: what is set now, and the button that changes it."""
    summary = t(
        "admin_settings.home_summary",
        deals=_channels(t, shown.deals_channels),
        stories=_channels(t, [shown.stories_channel] if shown.stories_channel else []),
        time=shown.end_of_day,
        days=day_names(t, shown.working_days),
        streak=shown.loss_streak,
        reminder=shown.debrief_reminder_days,
        concern=_number(shown.concern_delay_hours),
        followup=shown.followup_days,
    )
    return [
        header(t("admin_settings.home_header")),
        section(
            summary,
            block_id=ids.SETTINGS_BLOCK,
            accessory=button(t("admin_settings.button_open"), ids.SETTINGS_OPEN),
        ),
    ]


def _select(kind: str, **extra: Any) -> Block:
    return {"type": kind, "action_id": ids.FIELD_VALUE, **extra}


def _conversations(shown: Shown) -> list[Block]:
    public_private = {"include": ["public", "private"], "exclude_bot_users": True}
    deals = _select("multi_conversations_select", filter=public_private)
    if shown.deals_channels:
        deals["initial_conversations"] = list(shown.deals_channels)[:100]
    stories = _select("conversations_select", filter=public_private)
    if shown.stories_channel:
        stories["initial_conversation"] = shown.stories_channel
    return [deals, stories]


def _number_input(value: float, *, decimal: bool = False) -> Block:
    return _select("number_input", is_decimal_allowed=decimal, initial_value=_number(value))


def settings_modal(t: Texts, shown: Shown, metadata: dict[str, Any]) -> dict[str, Any]:
    """Every setting with its current value; Save applies what changed."""
    deals, stories = _conversations(shown)
    days = [option(t(f"admin_settings.option_{k}"), str(n)) for n, k in enumerate(DAY_KEYS)]
    chosen = [days[d] for d in sorted(shown.working_days)]
    users = _select("multi_users_select")
    if shown.admins:
        users["initial_users"] = list(shown.admins)[:100]
    holidays = _select("plain_text_input", multiline=True, max_length=HOLIDAYS_MAX)
    if shown.holidays:
        holidays["initial_value"] = "\n".join(shown.holidays)[:HOLIDAYS_MAX]
    deals_hint = t("admin_settings.hint_deals")
    if shown.unresolved:
        deals_hint += " " + t("admin_settings.hint_unresolved", names=", ".join(shown.unresolved))
    blocks: list[Block] = [
        input_block(
            ids.SETTINGS_DEALS,
            t("admin_settings.label_deals"),
            deals,
            optional=True,
            hint=deals_hint,
        ),
        input_block(
            ids.SETTINGS_STORIES,
            t("admin_settings.label_stories"),
            stories,
            optional=True,
            hint=t("admin_settings.hint_stories"),
        ),
        input_block(
            ids.SETTINGS_END_OF_DAY,
            t("admin_settings.label_end_of_day"),
            _select("timepicker", initial_time=shown.end_of_day),
            hint=t("admin_settings.hint_end_of_day"),
        ),
        input_block(
            ids.SETTINGS_DAYS,
            t("admin_settings.label_days"),
            _select("checkboxes", options=days, **({"initial_options": chosen} if chosen else {})),
            hint=t("admin_settings.hint_days"),
        ),
        input_block(
            ids.SETTINGS_STREAK,
            t("admin_settings.label_streak"),
            _number_input(shown.loss_streak),
            hint=t("admin_settings.hint_streak"),
        ),
        input_block(
            ids.SETTINGS_REMINDER,
            t("admin_settings.label_reminder"),
            _number_input(shown.debrief_reminder_days),
            hint=t("admin_settings.hint_reminder"),
        ),
        input_block(
            ids.SETTINGS_CONCERN,
            t("admin_settings.label_concern"),
            _number_input(shown.concern_delay_hours, decimal=True),
            hint=t("admin_settings.hint_concern"),
        ),
        input_block(
            ids.SETTINGS_FOLLOWUP,
            t("admin_settings.label_followup"),
            _number_input(shown.followup_days),
            hint=t("admin_settings.hint_followup"),
        ),
        input_block(
            ids.SETTINGS_HOLIDAYS,
            t("admin_settings.label_holidays"),
            holidays,
            optional=True,
            hint=t("admin_settings.hint_holidays"),
        ),
        input_block(
            ids.SETTINGS_ADMINS,
            t("admin_settings.label_admins"),
            users,
            optional=True,
            hint=t("admin_settings.hint_admins"),
        ),
    ]
    return form_modal(
        t,
        prefix="admin_settings",
        callback_id=ids.SETTINGS_MODAL,
        metadata=metadata,
        blocks=blocks,
        audience=t("admin_settings.audience"),
    )


def refused_modal(t: Texts) -> dict[str, Any]:
    """What someone who is not an admin sees instead of the settings."""
    return modal_view(
        ids.SETTINGS_MODAL,
        title=t("admin_settings.modal_title"),
        close=t("admin_settings.modal_close"),
        blocks=[section(t("errors.admin_only"))],
    )


def saved_note(t: Texts) -> Block:
    return context(t("admin_settings.saved"))
