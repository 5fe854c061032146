"""Follow it up: "You planned to … Done?" a week after a logged debrief, with Done /
Still on it / Drop; once answered, the message shows the choice in place of the buttons."""

from __future__ import annotations

from collections.abc import Sequence

from bot.messages import Built, Texts, as_built
from bot.messages.blocks import Block, actions, button, clip, context, section
from bot.slack import ids

# Each button, the answer it records and its label's key.
BUTTONS = (
    (ids.FOLLOWUP_DONE, "done", "followup.button_done"),
    (ids.FOLLOWUP_STILL, "still", "followup.button_still"),
    (ids.FOLLOWUP_DROP, "drop", "followup.button_drop"),
)
ANSWER_OF = {action_id: answer for action_id, answer, _key in BUTTONS}


def _planned(items: Sequence[str]) -> str:
    # Each item clipped, so five long takeaways still fit one section.
    return "\n".join(f"• _{clip(item, 500)}_" for item in items[:5])


def reply_key(answer: str, *, last: bool) -> str:
    if answer == "still":
        return "followup.reply_still_last" if last else "followup.reply_still"
    return f"followup.reply_{answer}"


def ask_rows(
    t: Texts,
    block_id: str,
    buttons: Sequence[tuple[str, str, str]],
    nudge_id: int,
    answer: str | None,
    reply: str,
) -> list[Block]:
    """Under a question a nudge asks once (`buttons`: action id, answer, label key): the
    buttons, the first one primary; once answered, the choice and `reply` in their place."""
    if answer is None:
        return [
            actions(
                block_id,
                *(
                    button(t(key), action_id, str(nudge_id), style="primary" if i == 0 else None)
                    for i, (action_id, _answer, key) in enumerate(buttons)
                ),
            )
        ]
    label = next(key for _action_id, choice, key in buttons if choice == answer)
    return [context(t("clicks.chosen", choice=t(label))), section(reply)]


def followup_dm(
    t: Texts,
    *,
    nudge_id: int,
    account: str,
    planned: Sequence[str],
    won: bool,
    answer: str | None = None,
    last: bool = False,
    days: int = 7,
) -> Built:
    """The ask; once answered, the choice and the reply replace the buttons. `last`: the
    second ask, after "Still on it", and the last one."""
    key = "followup.dm_again" if last else ("followup.dm_win" if won else "followup.dm")
    text = t(key, account=account, takeaways=_planned(planned))
    reply = t(reply_key(answer, last=last), account=account, days=days) if answer else ""
    blocks = [section(text), *ask_rows(t, ids.FOLLOWUP_BLOCK, BUTTONS, nudge_id, answer, reply)]
    return as_built(t("followup.fallback", account=account), blocks)
