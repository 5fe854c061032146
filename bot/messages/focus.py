"""The practice focus ("I'm working on…", seed 000; step 10 of seed 004 runs the day
against it): its modal, its place in App Home, the takeaway buttons after a logged
debrief, and the lines it adds to the weekly digest.

Pure builders: catalog texts and plain values in, Block Kit dicts out."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from bot.messages import Built, Texts, as_built, form_modal
from bot.messages.blocks import Block, button, context, header, section, text_field
from bot.messages.formats import format_dates
from bot.slack import ids

FOCUS_INPUT_MAX = 300  # storage.focus.FOCUS_MAX: the stored focus is one line of this
TAKEAWAYS_SHOWN = 3  # a button each; more would bury the message's own buttons
TAKEAWAY_TEXT_MAX = 300
_ITEM = re.compile(r"^\s*(?:[-*•·]|\d+[.)])\s*")


def escape(text: str) -> str:
    """The rep's own words go into mrkdwn: a pasted `<!here>` or `<@U…>` must stay text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def takeaway_items(text: str) -> list[str]:
    """The takeaways a rep typed, one per line (bullets and numbers dropped), first
    TAKEAWAYS_SHOWN only. The button's value is an index into this list, so the
    listener reads the takeaway from the stored debrief, never from the click."""
    items = [_ITEM.sub("", line).strip() for line in str(text or "").splitlines()]
    return [item for item in items if item][:TAKEAWAYS_SHOWN]


def takeaway_blocks(t: Texts, *, deal_id: int, takeaways: str) -> list[Block]:
    """One line per takeaway with "Make it my focus" beside it."""
    items = takeaway_items(takeaways)
    if not items:
        return []
    blocks: list[Block] = [context(t("focus.takeaways_intro"))]
    for n, item in enumerate(items):
        blocks.append(
            section(
                f"• {escape(item[:TAKEAWAY_TEXT_MAX])}",
                block_id=f"{ids.FOCUS_TAKEAWAY_BLOCK_PREFIX}{n}",
                accessory=button(
                    t("focus.button_from_takeaway"), ids.FOCUS_FROM_TAKEAWAY, f"{deal_id}:{n}"
                ),
            )
        )
    return blocks


def home_blocks(t: Texts, focus: str | None) -> list[Block]:
    """App Home's "What you're working on", with the button that sets or changes it."""
    if focus:
        text = t("focus.home_line", focus=escape(focus))
        label = t("focus.button_change")
    else:
        text, label = t("focus.home_empty"), t("focus.button_set")
    return [
        header(t("focus.home_header")),
        section(
            text,
            block_id=ids.FOCUS_BLOCK,
            accessory=button(label, ids.FOCUS_OPEN, ids.FOCUS_FROM_HOME),
        ),
    ]


def focus_modal(
    t: Texts, *, current: str | None, metadata: dict[str, Any] | None = None
) -> dict[str, Any]:
    """One question, prefilled with the current focus. Empty clears it."""
    field = text_field(
        ids.FOCUS_FIELD,
        t("focus.label_focus"),
        action_id=ids.FIELD_VALUE,
        max_length=FOCUS_INPUT_MAX,
        initial=current or None,
        placeholder=t("focus.placeholder_focus"),
        optional=True,
        hint=t("focus.hint_focus"),
    )
    return form_modal(
        t,
        prefix="focus",
        callback_id=ids.FOCUS_MODAL,
        metadata=metadata or {},
        blocks=[field],
    )


def read_focus(state: dict[str, Any], block_id: str = ids.FOCUS_FIELD) -> str:
    values = state.get("values") or {}
    raw = ((values.get(block_id) or {}).get(ids.FIELD_VALUE) or {}).get("value")
    return " ".join(str(raw or "").split())[:FOCUS_INPUT_MAX]


def focus_saved(t: Texts, focus: str | None) -> Built:
    text = t("focus.saved", focus=escape(focus)) if focus else t("focus.cleared")
    return as_built(text, [section(text)])


# --- the weekly digest --------------------------------------------------------------------


@dataclass(frozen=True)
class FocusDay:
    local_date: str
    focus: str
    came_up: bool | None


def digest_focus_sections(
    t: Texts, days: Sequence[FocusDay], *, focus_now: str | None = None
) -> list[str]:
    """Per focus asked about this week (a focus changed mid-week gives two), the days it
    came up out of the evenings answered. Nothing asked and none set now: an invitation
    to pick one."""
    answered = [d for d in days if d.focus and d.came_up is not None]
    if not answered:
        asked = any(d.focus for d in days)
        return [t("focus.digest_pick_one")] if not asked and not focus_now else []
    order: list[str] = []
    for d in answered:
        if d.focus not in order:
            order.append(d.focus)
    parts: list[str] = []
    for focus in order:
        mine = [d for d in answered if d.focus == focus]
        came = [d.local_date for d in mine if d.came_up]
        shown = escape(focus)
        if came:
            parts.append(
                t(
                    "focus.digest_came_up",
                    focus=shown,
                    days=format_dates([date.fromisoformat(d) for d in came], t.lang, short=True),
                    count=len(came),
                    asked=len(mine),
                )
            )
        else:
            parts.append(t("focus.digest_not_up", focus=shown, asked=len(mine)))
    return parts


def digest_entry_line(t: Texts, focus: str | None, came_up: bool | None) -> str:
    if not focus or came_up is None:
        return ""
    key = "focus.digest_entry_yes" if came_up else "focus.digest_entry_no"
    return t(key, focus=escape(focus))
