"""A message whose choice was made says so under its buttons ("You chose: Heard"), so a
second click is visibly pointless and the DM history shows what was chosen. The buttons
stay where a person may change their mind (a different choice is a new answer)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.messages import Built, Texts, as_built
from bot.messages.blocks import Block, context
from bot.slack import ids

CHOICE_BLOCK_ID = ids.CHOICE_BLOCK


def _holds(block: Any, action_id: str) -> bool:
    if not isinstance(block, dict):
        return False
    elements = list(block.get("elements") or [])
    if isinstance(block.get("accessory"), dict):
        elements.append(block["accessory"])
    return any(isinstance(e, dict) and e.get("action_id") == action_id for e in elements)


def with_choice(
    t: Texts, *, text: str, blocks: Sequence[Any], action_id: str, choice: str
) -> Built:
    """`blocks` with one "You chose: …" line right under the block holding the clicked
    button (at the end when it cannot be found); an earlier choice's line is replaced."""
    line = {**context(t("clicks.chosen", choice=choice)), "block_id": CHOICE_BLOCK_ID}
    kept: list[Block] = [
        b for b in blocks if isinstance(b, dict) and b.get("block_id") != CHOICE_BLOCK_ID
    ]
    at = next((i + 1 for i, b in enumerate(kept) if _holds(b, action_id)), len(kept))
    kept.insert(at, line)
    return as_built(text or choice, kept)
