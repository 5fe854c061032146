"""Tee it up: the DM that asks the rep to agree a short debrief before the proposal."""

from __future__ import annotations

from bot.messages import Built, Texts, as_built
from bot.messages.blocks import Block, actions, button, chosen_line, context, header, section
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
    t: Texts,
    *,
    account: str,
    nudge_id: int,
    answer: str | None = None,
    chosen: str | None = None,
    followup: bool = False,
    sent: bool = False,
) -> Built:
    """The ask, and either the three answer buttons or (once answered) the choice and the
    reply in their place, so the message itself shows what was recorded. "Not asked yet"
    keeps the other two, to record the answer once asked. The follow-up of a "not asked
    yet" is the question alone: the script is in the first DM. `sent`: the proposal is
    already out, so the ask goes with confirming they received it, not before sending."""
    words = "teeup.proposal_out" if sent else "teeup"
    if followup:
        blocks: list[Block] = [section(t("state.teeup_followup", account=account))]
    else:
        blocks = [
            header(t(f"{words}.header", account=account)),
            section(t(f"{words}.intro", account=account)),
            section(t(f"{words}.script", account=account)),
            context(t(f"{words}.tip", account=account)),
        ]
    if answer is None:
        if not followup:
            blocks.append(section(f"*{t('teeup.question')}*"))
        blocks.append(_buttons(t, nudge_id))
    else:
        if chosen is not None:
            blocks.append(chosen_line(t, t(ANSWERS[_action_of(chosen)][1])))
        blocks.append(section(answer))
        if chosen == "not_asked":
            blocks.append(_buttons(t, nudge_id, skip="not_asked"))
    return as_built(t(f"{words}.fallback", account=account), blocks)


def _action_of(state: str) -> str:
    return next(action_id for action_id, spec in ANSWERS.items() if spec[0] == state)


def _buttons(t: Texts, nudge_id: int, *, skip: str | None = None) -> Block:
    return actions(
        ids.TEE_UP_BLOCK,
        *(
            button(t(key), action_id, str(nudge_id), style=style)
            for action_id, (state, key, style) in ANSWERS.items()
            if state != skip
        ),
    )


def answer_text(t: Texts, state: str, *, account: str, days: int) -> str:
    return t(REPLY_KEYS[state], account=account, days=days)
