"""Concern check-ins: the DM, its answered form, the open-loops list and the modal."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot.messages import Built, Texts, as_built, form_modal
from bot.messages.blocks import (
    Block,
    actions,
    button,
    context,
    header,
    modal_view,
    section,
    text_field,
)
from bot.slack import ids

MODAL_CALLBACK = ids.CONCERN_MODAL
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
    # Asked twice with no answer: shown as overdue since the last ask (`next_checkin`).
    overdue: bool = False


def checkin(t: Texts, *, run_id: int, n: int, account: str, concern: str) -> Built:
    value = f"{run_id}:{n}"
    blocks = [
        section(t("concern.checkin", account=account, concern=concern)),
        actions(
            ids.CONCERN_ANSWER_BLOCK,
            button(t("concern.button_satisfied"), ids.CONCERN_SATISFIED, value, style="primary"),
            button(t("concern.button_not_yet"), ids.CONCERN_NOT_YET, value),
            button(t("concern.button_didnt_ask"), ids.CONCERN_DIDNT_ASK, value),
            button(t("concern.button_drop"), ids.CONCERN_DROP, value),
        ),
    ]
    return as_built(t("concern.fallback", account=account), blocks)


def answered(t: Texts, *, account: str, concern: str, reply: str, tip: str | None = None) -> Built:
    """The check-in DM once answered: the question stays, the buttons go."""
    blocks: list[Block] = [
        section(t("concern.checkin", account=account, concern=concern)),
        section(reply),
    ]
    if tip:
        blocks.append(context(tip))
    return as_built(reply, blocks)


def loop_list(t: Texts, loops: Sequence[LoopLine], *, note: str | None = None) -> Built:
    blocks: list[Block] = []
    if note:
        blocks.append(section(note))
    blocks.append(header(t("concern.list_header")))
    if not loops:
        blocks.append(section(t("concern.list_empty")))
        return as_built(t("concern.list_empty"), blocks)
    lines = []
    for loop in loops[:LIST_MAX]:
        item = t("concern.list_item", account=loop.account, concern=loop.concern, date=loop.since)
        lines.append(item)
        nxt = t("concern.list_next", date=loop.next_checkin) if loop.next_checkin else ""
        if loop.overdue and loop.next_checkin:
            nxt = t("concern_overdue.list_line", date=loop.next_checkin)
        blocks.append(section(f"{item}\n{nxt}".strip()))
        blocks.append(
            actions(
                f"{ids.CONCERN_LIST_BLOCK_PREFIX}{loop.run_id}",
                button(t("concern.button_close"), ids.CONCERN_LIST_CLOSE, str(loop.run_id)),
                button(t("concern.button_drop"), ids.CONCERN_LIST_DROP, str(loop.run_id)),
            )
        )
    text = t("concern.list_header") + "\n" + "\n".join(lines)
    return as_built(text, blocks)


def modal(t: Texts, *, account: str, date: str, deal_id: int | None) -> dict[str, Any]:
    """Enter a concern for a deal's account (opened from the button in a debrief)."""
    # Each field's action_id is its block_id: the submission handler reads them that way.
    blocks: list[Block] = [
        section(t("concern.modal_intro", date=date)),
        text_field(
            ids.CONCERN_FIELD_ACCOUNT,
            t("concern.label_account"),
            action_id=ids.CONCERN_FIELD_ACCOUNT,
            max_length=ACCOUNT_MAX,
            initial=account,
        ),
        text_field(
            ids.CONCERN_FIELD_CONCERN,
            t("concern.label_concern"),
            action_id=ids.CONCERN_FIELD_CONCERN,
            max_length=CONCERN_MAX,
            multiline=True,
            placeholder=t("concern.placeholder_concern"),
        ),
    ]
    return form_modal(
        t,
        prefix="concern",
        callback_id=MODAL_CALLBACK,
        metadata={"deal_id": deal_id},
        blocks=blocks,
    )


def saved_view(t: Texts, text: str) -> dict[str, Any]:
    """What the modal turns into once the concern is tracked: the confirmation."""
    return modal_view(
        ids.CONCERN_MODAL_SAVED,
        title=t("concern.modal_title"),
        close=t("common.button_done"),
        blocks=[section(text)],
    )
