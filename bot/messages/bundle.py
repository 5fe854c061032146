"""One DM holding several nudges: a header, then a section per nudge, each with its own
blocks and buttons.

Every block of a section carries a block_id naming its nudge (`nb<id>|<original id or
position>`), so a click on one section is known to belong to it, and the answer to that
click replaces that section only (`merge_section`): the other sections keep their
buttons. Pure functions over Block Kit dicts; the dispatcher composes, bot/slack/bundles.py
merges.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot.messages import Built, Texts
from bot.messages.blocks import (
    FALLBACK_MAX,
    MESSAGE_BLOCKS_MAX,
    Block,
    clip,
    context,
    divider,
)

TAG = "nb"
_TAGGED = re.compile(r"^nb(\d+)\|")
# The header of a bundle has section 0 (nudge ids start at 1).
HEADER_SECTION = 0
# Slack's message limits: 50 blocks, and the fallback text. The bundle keeps a margin of
# one block for the "more next time" line.
BLOCK_BUDGET = MESSAGE_BLOCKS_MAX - 1
BLOCK_ID_MAX = 255


@dataclass(frozen=True)
class Section:
    nudge_id: int
    text: str
    blocks: list[Block]


def section_of(block_id: object) -> int | None:
    """The nudge a bundle's block belongs to; None for a block of a plain message."""
    m = _TAGGED.match(str(block_id or ""))
    return int(m[1]) if m else None


def _tag(section: int, blocks: Sequence[Block]) -> list[Block]:
    out = []
    for i, block in enumerate(blocks):
        original = _TAGGED.sub("", str(block.get("block_id") or i))
        tagged = dict(block)
        tagged["block_id"] = f"{TAG}{section}|{original}"[:BLOCK_ID_MAX]
        out.append(tagged)
    return out


def _size(section: Section) -> int:
    return len(section.blocks) + 1  # its divider


def compose(t: Texts, sections: Sequence[Section]) -> tuple[Built, list[int]]:
    """The bundle for these sections, in order, and the nudge ids it holds. Sections that
    would take it past Slack's 50 blocks stay out (the caller sends them next time) and a
    line says so; a section too big on its own is never left out when it comes first."""
    header_blocks = [context(t("bundle.header", count=len(sections)))]
    used = len(header_blocks)
    kept: list[Section] = []
    for section in sections:
        if kept and used + _size(section) > BLOCK_BUDGET:
            break
        kept.append(section)
        used += _size(section)
    header_blocks = [context(t("bundle.header", count=len(kept)))]
    blocks: list[Block] = _tag(HEADER_SECTION, header_blocks)
    for section in kept:
        # The divider is tagged apart ("~"): answering a section replaces its blocks and
        # keeps the line that separates it from the one before.
        blocks.append({**divider(), "block_id": f"{TAG}{section.nudge_id}|~"})
        blocks.extend(_tag(section.nudge_id, section.blocks))
    left = len(sections) - len(kept)
    if left:
        blocks.append({**context(t("bundle.more_later", count=left)), "block_id": f"{TAG}0|more"})
    text = "\n\n".join(s.text for s in kept)
    return Built(clip(text, FALLBACK_MAX), blocks[:MESSAGE_BLOCKS_MAX]), [s.nudge_id for s in kept]


def sections_in(blocks: Sequence[Block]) -> set[int]:
    return {s for s in (section_of(b.get("block_id")) for b in blocks) if s}


def merge_section(
    message_blocks: Sequence[Block], section: int, new_blocks: Sequence[Block]
) -> list[Block] | None:
    """The bundle with one section's blocks replaced by `new_blocks` (an answer to a click
    on it). None when `new_blocks` is already a whole message (it holds other sections'
    blocks, as when a listener re-drew the clicked message with the choice shown) or the
    section is not in the bundle: then the update goes through as it was."""
    others = sections_in(new_blocks) - {section}
    if others or section not in sections_in(message_blocks):
        return None
    fresh = list(new_blocks)
    out: list[Block] = []
    placed = False
    for block in message_blocks:
        block_id = str(block.get("block_id") or "")
        if section_of(block_id) != section or block_id.endswith("|~"):
            out.append(block)
            continue
        if not placed:
            out.extend(_tag(section, fresh))
            placed = True
    return out[:MESSAGE_BLOCKS_MAX]


def as_dicts(blocks: Any) -> list[Block]:
    return [b for b in blocks or [] if isinstance(b, dict)]
