"""Small Block Kit constructors that keep every payload inside Slack's limits.

Text is clipped here rather than rejected by Slack later: a truncated tip is better
than a DM that never arrives."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

Block = dict[str, Any]

# The block id of the line that shows a choice made (bot/slack/ids.py CHOICE_BLOCK).
CHOICE_BLOCK_ID = "clicks_choice"

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
LABEL_MAX = 2000
HINT_MAX = 2000
PLACEHOLDER_MAX = 150
PRIVATE_METADATA_MAX = 3000


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


def sections(lines: Sequence[str]) -> list[Block]:
    """Lines as as few sections as hold them whole (3000 characters each), so a long
    list is split between lines, never clipped in the middle of one."""
    out: list[Block] = []
    chunk: list[str] = []
    size = 0
    for line in lines:
        if chunk and size + len(line) + 1 > SECTION_MAX:
            out.append(section("\n".join(chunk)))
            chunk, size = [], 0
        chunk.append(line)
        size += len(line) + 1
    if chunk:
        out.append(section("\n".join(chunk)))
    return out


def fields(pairs: list[tuple[str, str]]) -> Block:
    return {
        "type": "section",
        "fields": [mrkdwn(f"*{k}*\n{v}", 2000) for k, v in pairs[:10]],
    }


def context(text: str) -> Block:
    return {"type": "context", "elements": [mrkdwn(text, CONTEXT_MAX)]}


def chosen_line(t: Any, choice: str, *, note: str | None = None) -> Block:
    """ "You chose: …" (and a short note: how to change it, or why it can't change), in
    the place of the buttons that made the choice (bot/messages/clicks.py)."""
    text = t("clicks.chosen", choice=f"*{choice}*")
    return {**context(f"{text} · {note}" if note else text), "block_id": CHOICE_BLOCK_ID}


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


# --- modals ---------------------------------------------------------------------------


def input_block(
    block_id: str,
    label: str,
    element: Block,
    *,
    optional: bool | None = None,
    hint: str | None = None,
) -> Block:
    """An `input` block; `optional` is left out when None so Slack's default (required)
    applies."""
    block: Block = {
        "type": "input",
        "block_id": block_id,
        "label": plain(label, LABEL_MAX),
        "element": element,
    }
    if optional is not None:
        block["optional"] = optional
    if hint:
        block["hint"] = plain(hint, HINT_MAX)
    return block


def text_field(
    block_id: str,
    label: str,
    *,
    action_id: str,
    max_length: int,
    multiline: bool = False,
    initial: str | None = None,
    placeholder: str | None = None,
    optional: bool | None = None,
    hint: str | None = None,
) -> Block:
    """An `input` block around one `plain_text_input`. The initial value is cut to
    `max_length` because Slack rejects a whole view whose prefilled text is longer than
    the field allows."""
    element: Block = {
        "type": "plain_text_input",
        "action_id": action_id,
        "multiline": multiline,
        "max_length": max_length,
    }
    if initial:
        element["initial_value"] = initial[:max_length]
    if placeholder:
        element["placeholder"] = plain(placeholder, PLACEHOLDER_MAX)
    return input_block(block_id, label, element, optional=optional, hint=hint)


def option(text: str, value: str) -> Block:
    """One choice for checkboxes, radio buttons or a static select."""
    return {"text": plain(text, OPTION_TEXT_MAX), "value": value}


def metadata_json(data: Mapping[str, Any]) -> str:
    # Compact, because every character counts against Slack's 3000 for private_metadata;
    # a clipped string no longer parses, and read_metadata then gives {} rather than raising.
    return json.dumps(dict(data), separators=(",", ":"))[:PRIVATE_METADATA_MAX]


def read_metadata(view: Mapping[str, Any]) -> dict[str, Any]:
    """A submitted view's private_metadata as a dict; {} when it is missing or not a JSON
    object, so a listener can always `.get()` and answer instead of failing."""
    try:
        meta = json.loads(view.get("private_metadata") or "{}")
    except ValueError:
        return {}
    return meta if isinstance(meta, dict) else {}


def modal_view(
    callback_id: str,
    *,
    title: str,
    blocks: Sequence[Block],
    submit: str | None = None,
    close: str | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A modal view; submit, close and private_metadata are left out when not given, as
    Slack only wants submit when the modal has inputs."""
    view: dict[str, Any] = {
        "type": "modal",
        "callback_id": callback_id,
        "title": plain(title, VIEW_TITLE_MAX),
    }
    if submit is not None:
        view["submit"] = plain(submit, VIEW_TITLE_MAX)
    if close is not None:
        view["close"] = plain(close, VIEW_TITLE_MAX)
    if metadata is not None:
        view["private_metadata"] = metadata_json(metadata)
    view["blocks"] = list(blocks)[:VIEW_BLOCKS_MAX]
    return view
