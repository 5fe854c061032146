"""Every interactive message reflects its state: once a choice is made, the buttons that
made it are replaced by the choice ("You chose: Heard"), plus the buttons to change it
where changing still makes sense. One way for every message:

- `settle` rewrites a message we only have as Slack sent it back (the clicked message in
  the click's payload): the row holding the clicked button becomes the choice line;
- builders that render a message from its state (the deal DM, the tee-up) put the same
  `choice_line` where their buttons were.

A second click on a settled message finds no button; a click on an older copy (a stale
button) is answered from the database, never from the message."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.messages import Built, Texts, as_built
from bot.messages.blocks import CHOICE_BLOCK_ID, Block, chosen_line, context


def choice_line(t: Texts, choice: str, *, note: str | None = None) -> Block:
    return chosen_line(t, choice, note=note)


def _holds(block: Any, action_id: str) -> bool:
    if not isinstance(block, dict):
        return False
    elements = list(block.get("elements") or [])
    if isinstance(block.get("accessory"), dict):
        elements.append(block["accessory"])
    return any(isinstance(e, dict) and e.get("action_id") == action_id for e in elements)


def _without(block: Block, action_id: str) -> Block | None:
    """An actions row without the clicked button (None when nothing else is left)."""
    kept = [
        e
        for e in block.get("elements") or []
        if not (isinstance(e, dict) and e.get("action_id") == action_id)
    ]
    return {**block, "elements": kept} if block.get("type") == "actions" and kept else None


def settle(
    t: Texts,
    *,
    text: str,
    blocks: Sequence[Any],
    action_id: str,
    choice: str,
    note: str | None = None,
    change: Sequence[Block] = (),
    whole_row: bool = True,
    says: str | None = None,
) -> Built:
    """`blocks` with the row holding the clicked button replaced by the choice line (and
    `change`, the rows that may change it). An earlier choice line goes; when the button
    can't be found any more (already settled) the line goes where the old one was, or last."""
    # `says` replaces "You chose: …" where the buttons went for another reason.
    line = (
        {**context(says), "block_id": CHOICE_BLOCK_ID}
        if says
        else choice_line(t, choice, note=note)
    )
    change_ids = {b.get("block_id") for b in change if isinstance(b, dict)}
    out: list[Block] = []
    at: int | None = None
    for block in blocks:
        if not isinstance(block, dict):
            continue
        if block.get("block_id") == CHOICE_BLOCK_ID or block.get("block_id") in change_ids:
            at = len(out) if at is None else at
            continue
        if _holds(block, action_id):
            at = len(out)
            rest = _without(block, action_id)
            if not whole_row and rest is not None:
                # The row's other buttons (Edit, Track a concern) still do their own thing.
                out.append(rest)
                at += 1
            continue
        out.append(block)
    at = len(out) if at is None else at
    out[at:at] = [line, *change]
    return as_built(text or choice, out)
