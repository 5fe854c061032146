"""Small Block Kit constructors that keep every payload inside Slack's limits.

Text is clipped here rather than rejected by Slack later: a truncated tip is better
than a DM that never arrives."""

from __future__ import annotations

from typing import Any

Block = dict[str, Any]

HEADER_MAX = 150
SECTION_MAX = 3000
BUTTON_TEXT_MAX = 75
BUTTON_VALUE_MAX = 2000
CONTEXT_MAX = 3000
FALLBACK_MAX = 4000
MESSAGE_BLOCKS_MAX = 50
VIEW_BLOCKS_MAX = 100
VIEW_TITLE_MAX = 24
OPTION_TEXT_MAX = 75


def clip(text: str, limit: int) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def plain(text: str, limit: int = SECTION_MAX) -> dict[str, Any]:
    return {"type": "plain_text", "text": clip(text, limit) or " ", "emoji": True}


def mrkdwn(text: str, limit: int = SECTION_MAX) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": clip(text, limit) or " "}


def header(text: str) -> Block:
    return {"type": "header", "text": plain(text, HEADER_MAX)}


def section(text: str, *, block_id: str | None = None, accessory: Block | None = None) -> Block:
    block: Block = {"type": "section", "text": mrkdwn(text)}
    if block_id:
        block["block_id"] = block_id
    if accessory:
        block["accessory"] = accessory
    return block


def fields(pairs: list[tuple[str, str]]) -> Block:
    return {
        "type": "section",
        "fields": [mrkdwn(f"*{k}*\n{v}", 2000) for k, v in pairs[:10]],
    }


def context(text: str) -> Block:
    return {"type": "context", "elements": [mrkdwn(text, CONTEXT_MAX)]}


def divider() -> Block:
    return {"type": "divider"}


def button(
    text: str, action_id: str, value: str | None = None, *, style: str | None = None
) -> Block:
    btn: Block = {"type": "button", "text": plain(text, BUTTON_TEXT_MAX), "action_id": action_id}
    if value is not None:
        btn["value"] = value[:BUTTON_VALUE_MAX]
    if style in ("primary", "danger"):
        btn["style"] = style
    return btn


def actions(block_id: str, *buttons: Block) -> Block:
    return {"type": "actions", "block_id": block_id, "elements": list(buttons)[:25]}


def fit_message(blocks: list[Block]) -> list[Block]:
    return blocks[:MESSAGE_BLOCKS_MAX]
