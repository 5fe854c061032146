"""Screen-out: the modal with the two screening questions, the leave-on-good-terms words,
and the review reminder on the chosen date."""

from __future__ import annotations

import json
from typing import Any

from bot.blocks import (
    FALLBACK_MAX,
    Block,
    actions,
    button,
    clip,
    fit_message,
    plain,
    section,
)
from bot.messages import Built, Texts

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


def _option(t: Texts, value: str) -> dict[str, Any]:
    return {"text": plain(t(POTENTIAL_OPTIONS[value]), 75), "value": value}


def screen_out_modal(t: Texts, *, account: str, previous_run: int | None = None) -> dict[str, Any]:
    # Accounts are clipped to 200 characters on the way in, well inside Slack's 3000.
    metadata = json.dumps({"account": account[:200], "previous_run": previous_run})
    blocks: list[Block] = [
        section(t("screenout.intro", account=account)),
        {
            "type": "input",
            "block_id": POTENTIAL_BLOCK,
            "label": plain(t("screenout.label_potential", account=account), 2000),
            "element": {
                "type": "radio_buttons",
                "action_id": POTENTIAL_ACTION,
                "options": [_option(t, value) for value in POTENTIAL_OPTIONS],
            },
        },
        {
            "type": "input",
            "block_id": REVIEW_BLOCK,
            "label": plain(t("screenout.label_review", account=account), 2000),
            "hint": plain(t("screenout.hint_review"), 2000),
            "element": {"type": "datepicker", "action_id": REVIEW_ACTION},
        },
        {
            "type": "input",
            "block_id": NOTES_BLOCK,
            "optional": True,
            "label": plain(t("screenout.label_notes", account=account), 2000),
            "element": {
                "type": "plain_text_input",
                "action_id": NOTES_ACTION,
                "multiline": True,
                "max_length": 2000,
                "placeholder": plain(t("screenout.placeholder_notes"), 150),
            },
        },
    ]
    return {
        "type": "modal",
        "callback_id": CALLBACK_ID,
        "title": plain(t("screenout.modal_title"), 24),
        "submit": plain(t("screenout.modal_submit"), 24),
        "close": plain(t("screenout.modal_close"), 24),
        "private_metadata": metadata,
        "blocks": blocks,
    }


def good_terms_dm(t: Texts, *, account: str, date: str) -> Built:
    text = t("screenout.saved", account=account, date=date)
    blocks = [section(text), section(t("screenout.good_terms", account=account))]
    return Built(clip(text, FALLBACK_MAX), fit_message(blocks))


def review_dm(t: Texts, *, account: str, screened_on: str, run_id: int) -> Built:
    values = {"account": account, "date": screened_on}
    blocks: list[Block] = [
        section(t("reminder.screenout", **values)),
        actions(
            "screen_out_review",
            button(t("reminder.button_review"), REVIEW_ACTION_ID, str(run_id), style="primary"),
        ),
    ]
    return Built(
        clip(t("reminder.screenout_fallback", **values), FALLBACK_MAX), fit_message(blocks)
    )
