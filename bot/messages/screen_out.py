"""Screen-out: the modal with the two screening questions, the leave-on-good-terms words,
and the review reminder on the chosen date."""

from __future__ import annotations

from typing import Any

from bot.messages import Built, Texts, as_built, form_modal
from bot.messages.blocks import (
    Block,
    actions,
    button,
    input_block,
    option,
    section,
    text_field,
)

CALLBACK_ID = "screen_out_submit"
POTENTIAL_BLOCK = "screen_out_potential"
POTENTIAL_ACTION = "potential"
REVIEW_BLOCK = "screen_out_review"
REVIEW_ACTION = "review_date"
NOTES_BLOCK = "screen_out_notes"
NOTES_ACTION = "notes"
POTENTIAL_OPTIONS = {
    "yes": "screenout.option_potential_yes",
    "no": "screenout.option_potential_no",
    "unsure": "screenout.option_potential_unsure",
}
REVIEW_ACTION_ID = "screen_out_review_now"


def screen_out_modal(t: Texts, *, account: str, previous_run: int | None = None) -> dict[str, Any]:
    # Accounts are clipped to 200 characters on the way in, well inside Slack's 3000.
    metadata = {"account": account[:200], "previous_run": previous_run}
    potential: Block = {
        "type": "radio_buttons",
        "action_id": POTENTIAL_ACTION,
        "options": [option(t(key), value) for value, key in POTENTIAL_OPTIONS.items()],
    }
    review: Block = {"type": "datepicker", "action_id": REVIEW_ACTION}
    blocks: list[Block] = [
        section(t("screenout.intro", account=account)),
        input_block(POTENTIAL_BLOCK, t("screenout.label_potential", account=account), potential),
        input_block(
            REVIEW_BLOCK,
            t("screenout.label_review", account=account),
            review,
            hint=t("screenout.hint_review"),
        ),
        text_field(
            NOTES_BLOCK,
            t("screenout.label_notes", account=account),
            action_id=NOTES_ACTION,
            max_length=2000,
            multiline=True,
            placeholder=t("screenout.placeholder_notes"),
            optional=True,
        ),
    ]
    return form_modal(
        t, prefix="screenout", callback_id=CALLBACK_ID, metadata=metadata, blocks=blocks
    )


def good_terms_dm(t: Texts, *, account: str, date: str) -> Built:
    text = t("screenout.saved", account=account, date=date)
    blocks = [section(text), section(t("screenout.good_terms", account=account))]
    return as_built(text, blocks)


def review_dm(t: Texts, *, account: str, screened_on: str, run_id: int) -> Built:
    values = {"account": account, "date": screened_on}
    blocks: list[Block] = [
        section(t("reminder.screenout", **values)),
        actions(
            "screen_out_review",
            button(t("reminder.button_review"), REVIEW_ACTION_ID, str(run_id), style="primary"),
        ),
    ]
    return as_built(t("reminder.screenout_fallback", **values), blocks)
