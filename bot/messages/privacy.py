"""Privacy choices: sharing a logged lesson with the team, and `/loop forget-me`'s
"are you sure?"."""

from __future__ import annotations

from bot.messages import Built, Texts, as_built
from bot.messages.blocks import Block, actions, button, section
from bot.slack import ids


def share_button(t: Texts, deal_id: int) -> Block:
    return button(t("privacy.button_share"), ids.PRIVACY_SHARE, str(deal_id))


def forget_prompt(t: Texts) -> Built:
    return as_built(
        t("privacy.forget_ask"),
        [
            section(t("privacy.forget_ask")),
            actions(
                ids.FORGET_BLOCK,
                button(t("privacy.button_forget"), ids.FORGET_CONFIRM, "me", style="danger"),
                button(t("privacy.button_keep"), ids.FORGET_CANCEL, "me"),
            ),
        ],
    )
