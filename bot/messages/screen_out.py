"""Screen-out: the modal with the two screening questions, the leave-on-good-terms words,
and the review reminder on the chosen date."""

from __future__ import annotations

from typing import Any

from bot.messages import Built, Texts, as_built, form_modal
from bot.messages.blocks import (
    CHOICE_BLOCK_ID,
    Block,
    actions,
    button,
    context,
    input_block,
    option,
    section,
    text_field,
)
from bot.slack import ids

POTENTIAL_OPTIONS = {
    "yes": "screenout.option_potential_yes",
    "no": "screenout.option_potential_no",
    "unsure": "screenout.option_potential_unsure",
}


def screen_out_modal(t: Texts, *, account: str, previous_run: int | None = None) -> dict[str, Any]:
    # Accounts are clipped to 200 characters on the way in, well inside Slack's 3000.
    metadata = {"account": account[:200], "previous_run": previous_run}
    potential: Block = {
        "type": "radio_buttons",
        "action_id": ids.SCREEN_OUT_POTENTIAL,
        "options": [option(t(key), value) for value, key in POTENTIAL_OPTIONS.items()],
    }
    review: Block = {"type": "datepicker", "action_id": ids.SCREEN_OUT_REVIEW_DATE}
    blocks: list[Block] = [
        section(t("screenout.intro", account=account)),
        input_block(
            ids.SCREEN_OUT_POTENTIAL_BLOCK,
            t("screenout.label_potential", account=account),
            potential,
        ),
        input_block(
            ids.SCREEN_OUT_REVIEW_BLOCK,
            t("screenout.label_review", account=account),
            review,
            hint=t("screenout.hint_review"),
        ),
        text_field(
            ids.SCREEN_OUT_NOTES_BLOCK,
            t("screenout.label_notes", account=account),
            action_id=ids.SCREEN_OUT_NOTES,
            max_length=2000,
            multiline=True,
            placeholder=t("screenout.placeholder_notes"),
            optional=True,
        ),
    ]
    return form_modal(
        t, prefix="screenout", callback_id=ids.SCREEN_OUT_VIEW, metadata=metadata, blocks=blocks
    )


def good_terms_dm(t: Texts, *, account: str, date: str) -> Built:
    text = t("screenout.saved", account=account, date=date)
    blocks = [section(text), section(t("screenout.good_terms", account=account))]
    return as_built(text, blocks)


def review_dm(
    t: Texts, *, account: str, screened_on: str, run_id: int, reviewed: str | None = None
) -> Built:
    """The review DM; once reviewed (`reviewed`: the line that says so) its button makes
    way for that line."""
    values = {"account": account, "date": screened_on}
    blocks: list[Block] = [section(t("reminder.screenout", **values))]
    if reviewed is not None:
        blocks.append({**context(reviewed), "block_id": CHOICE_BLOCK_ID})
    else:
        blocks.append(
            actions(
                ids.SCREEN_OUT_REVIEW_NOW_BLOCK,
                button(
                    t("reminder.button_review"),
                    ids.SCREEN_OUT_REVIEW_NOW,
                    str(run_id),
                    style="primary",
                ),
            )
        )
    return as_built(t("reminder.screenout_fallback", **values), blocks)
