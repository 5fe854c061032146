"""Tee it up: the DM that asks the rep to agree a short debrief before the proposal."""

from __future__ import annotations

from bot.messages import Built, Texts, as_built
from bot.messages.blocks import Block, actions, button, context, header, section
from bot.slack import ids

# The answer buttons; each click records one RitualRun state.
ANSWERS = {
    ids.TEE_UP_AGREED: ("agreed", "teeup.button_agreed", "primary"),
    ids.TEE_UP_NOT_ASKED: ("not_asked", "teeup.button_not_asked", None),
    ids.TEE_UP_DECLINED: ("declined", "teeup.button_declined", None),
}
REPLY_KEYS = {
    "agreed": "teeup.reply_agreed",
    "not_asked": "teeup.reply_not_asked",
    "declined": "teeup.reply_declined",
}


def tee_up_dm(
    t: Texts, *, account: str, nudge_id: int, answer: str | None = None, sent: bool = False
) -> Built:
    """The ask, and either the three answer buttons or (once answered) the reply in
    their place, so the message itself shows what was recorded. `sent`: the proposal is
    already out, so the ask goes with confirming they received it, not before sending."""
    words = "teeup.proposal_out" if sent else "teeup"
    blocks: list[Block] = [
        header(t(f"{words}.header", account=account)),
        section(t(f"{words}.intro", account=account)),
        section(t(f"{words}.script", account=account)),
        context(t(f"{words}.tip", account=account)),
    ]
    if answer is None:
        blocks.append(section(f"*{t('teeup.question')}*"))
        blocks.append(
            actions(
                ids.TEE_UP_BLOCK,
                *(
                    button(t(key), action_id, str(nudge_id), style=style)
                    for action_id, (_state, key, style) in ANSWERS.items()
                ),
            )
        )
    else:
        blocks.append(section(answer))
    return as_built(t(f"{words}.fallback", account=account), blocks)


def answer_text(t: Texts, state: str, *, account: str, days: int) -> str:
    return t(REPLY_KEYS[state], account=account, days=days)
