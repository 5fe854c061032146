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
LABEL_OF = {answer: key for _action_id, answer, key in BUTTONS}


def _planned(items: Sequence[str]) -> str:
    # Each item clipped, so five long takeaways still fit one section.
    return "\n".join(f"• _{clip(item, 500)}_" for item in items[:5])


def reply_key(answer: str, *, last: bool) -> str:
    if answer == "still":
        return "followup.reply_still_last" if last else "followup.reply_still"
    return f"followup.reply_{answer}"


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
    blocks: list[Block] = [section(text)]
    if answer is None:
        blocks.append(
            actions(
                ids.FOLLOWUP_BLOCK,
                *(
                    button(t(key), action_id, str(nudge_id), style="primary" if i == 0 else None)
                    for i, (action_id, _answer, key) in enumerate(BUTTONS)
                ),
            )
        )
    else:
        blocks.append(context(t("clicks.chosen", choice=t(LABEL_OF[answer]))))
        blocks.append(section(t(reply_key(answer, last=last), account=account, days=days)))
    return as_built(t("followup.fallback", account=account), blocks)
