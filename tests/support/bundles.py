"""Reading and clicking a bundled DM (one message, a section per nudge) as a rep would."""

from __future__ import annotations

from typing import Any

from bot.devkit.requests import HttpResult
from bot.messages.bundle import section_of
from tests.conftest import RunningBot


def sections(message: dict[str, Any]) -> list[int]:
    """The nudge ids of a bundle's sections, in order (the header is not one)."""
    out: list[int] = []
    for block in message.get("blocks", []):
        section = section_of(block.get("block_id"))
        if section and section not in out:
            out.append(section)
    return out


def section_blocks(message: dict[str, Any], section: int) -> list[dict[str, Any]]:
    return [b for b in message.get("blocks", []) if section_of(b.get("block_id")) == section]


def section_action_ids(message: dict[str, Any], section: int) -> list[str]:
    return [
        el["action_id"]
        for b in section_blocks(message, section)
        if b["type"] == "actions"
        for el in b["elements"]
    ]


def click_section(
    bot: RunningBot, user: str, message: dict[str, Any], section: int, action_id: str
) -> HttpResult:
    """Click `action_id` in one section of a bundle: Slack sends that block's id."""
    for block in section_blocks(message, section):
        for el in block.get("elements", []) if block["type"] == "actions" else []:
            if el["action_id"] == action_id:
                request = bot.slack.block_action(
                    action_id,
                    user=user,
                    channel=bot.standin.dm_channel(user),
                    message=message,
                    block_id=block["block_id"],
                    value=el.get("value"),
                )
                result = bot.send(request)
                assert result.status == 200
                return result
    raise AssertionError(f"no {action_id!r} in section {section}")
