"""Concern check-ins: the DM, its answered form, the open-loops list and the modal."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot.blocks import (
    FALLBACK_MAX,
    VIEW_TITLE_MAX,
    Block,
    actions,
    button,
    clip,
    context,
    fit_message,
    header,
    plain,
    section,
)
from bot.messages import Built, Texts

MODAL_CALLBACK = "concern_modal"
ACCOUNT_MAX = 200
CONCERN_MAX = 1000
# Header + one section and one actions block per loop stays inside Slack's 50 blocks.
LIST_MAX = 20


@dataclass(frozen=True)
class LoopLine:
    run_id: int
    account: str
    concern: str
    since: str
    next_checkin: str


def checkin(t: Texts, *, run_id: int, n: int, account: str, concern: str) -> Built:
    value = f"{run_id}:{n}"
    blocks = [
        section(t("concern.checkin", account=account, concern=concern)),
        actions(
            "concern_answer",
            button(t("concern.button_satisfied"), "concern_satisfied", value, style="primary"),
            button(t("concern.button_not_yet"), "concern_not_yet", value),
            button(t("concern.button_didnt_ask"), "concern_didnt_ask", value),
            button(t("concern.button_drop"), "concern_drop", value),
        ),
    ]
    return Built(clip(t("concern.fallback", account=account), FALLBACK_MAX), fit_message(blocks))


def answered(
    t: Texts, *, account: str, concern: str, reply: str, tip: str | None = None
) -> Built:
    """The check-in DM once answered: the question stays, the buttons go."""
    blocks: list[Block] = [
        section(t("concern.checkin", account=account, concern=concern)),
        section(reply),
    ]
    if tip:
        blocks.append(context(tip))
    return Built(clip(reply, FALLBACK_MAX), fit_message(blocks))


def loop_list(t: Texts, loops: Sequence[LoopLine], *, note: str | None = None) -> Built:
    blocks: list[Block] = []
    if note:
        blocks.append(section(note))
    blocks.append(header(t("concern.list_header")))
    if not loops:
        blocks.append(section(t("concern.list_empty")))
        return Built(clip(t("concern.list_empty"), FALLBACK_MAX), fit_message(blocks))
    lines = []
    for loop in loops[:LIST_MAX]:
        item = t("concern.list_item", account=loop.account, concern=loop.concern, date=loop.since)
        lines.append(item)
        nxt = t("concern.list_next", date=loop.next_checkin) if loop.next_checkin else ""
        blocks.append(section(f"{item}\n{nxt}".strip()))
        blocks.append(
            actions(
                f"concern_list_{loop.run_id}",
                button(t("concern.button_close"), "concern_list_close", str(loop.run_id)),
                button(t("concern.button_drop"), "concern_list_drop", str(loop.run_id)),
            )
        )
    text = t("concern.list_header") + "\n" + "\n".join(lines)
    return Built(clip(text, FALLBACK_MAX), fit_message(blocks))


def _input(block_id: str, label: str, *, initial: str = "", placeholder: str = "",
           multiline: bool = False, max_length: int) -> Block:
    element: Block = {
        "type": "plain_text_input",
        "action_id": block_id,
        "multiline": multiline,
        "max_length": max_length,
    }
    if initial:
        element["initial_value"] = initial[:max_length]
    if placeholder:
        element["placeholder"] = plain(placeholder, 150)
    return {"type": "input", "block_id": block_id, "label": plain(label, 2000), "element": element}


def modal(t: Texts, *, account: str, date: str, deal_id: int | None) -> dict[str, Any]:
    """Enter a concern for a deal's account (opened from the button in a debrief)."""
    return {
        "type": "modal",
        "callback_id": MODAL_CALLBACK,
        "title": plain(t("concern.modal_title"), VIEW_TITLE_MAX),
        "submit": plain(t("concern.modal_submit"), VIEW_TITLE_MAX),
        "close": plain(t("concern.modal_close"), VIEW_TITLE_MAX),
        "private_metadata": json.dumps({"deal_id": deal_id}),
        "blocks": [
            section(t("concern.modal_intro", date=date)),
            _input("account", t("concern.label_account"), initial=account,
                   max_length=ACCOUNT_MAX),
            _input("concern", t("concern.label_concern"),
                   placeholder=t("concern.placeholder_concern"), multiline=True,
                   max_length=CONCERN_MAX),
        ],
    }


def saved_view(t: Texts, text: str) -> dict[str, Any]:
    """What the modal turns into once the concern is tracked: the confirmation."""
    return {
        "type": "modal",
        "callback_id": f"{MODAL_CALLBACK}_saved",
        "title": plain(t("concern.modal_title"), VIEW_TITLE_MAX),
        "close": plain(t("common.button_done"), VIEW_TITLE_MAX),
        "blocks": [section(text)],
    }
