"""The one builder of a message's settled state (bot/messages/clicks.py `settle`)."""

from __future__ import annotations

from bot.devkit.standin import check_message_blocks
from bot.messages import Texts
from bot.messages.blocks import actions, button, section
from bot.messages.catalog import ScriptCatalog
from bot.messages.clicks import settle

T = Texts(ScriptCatalog.load(), "en")
BLOCKS = [
    section("Pick one"),
    actions("pick", button("A", "pick_a", "1"), button("B", "pick_b", "1")),
    actions("more", button("Edit", "edit", "1"), button("Share", "share", "1")),
]


def _ids(blocks: list[dict]) -> list[str]:  # type: ignore[type-arg]
    return [e["action_id"] for b in blocks if b["type"] == "actions" for e in b["elements"]]


def test_the_clicked_row_makes_way_for_the_choice() -> None:
    built = settle(T, text="Pick", blocks=BLOCKS, action_id="pick_a", choice="A")
    assert _ids(built.blocks) == ["edit", "share"]
    assert built.blocks[1]["block_id"] == "clicks_choice"
    assert "*A*" in built.blocks[1]["elements"][0]["text"]
    assert check_message_blocks(built.blocks) == []


def test_one_button_can_go_and_its_row_stays() -> None:
    built = settle(
        T, text="Pick", blocks=BLOCKS, action_id="share", choice="Share", whole_row=False
    )
    assert _ids(built.blocks) == ["pick_a", "pick_b", "edit"]
    assert [b.get("block_id") for b in built.blocks][-1] == "clicks_choice"


def test_a_second_settle_replaces_the_line_instead_of_adding_one() -> None:
    change = [actions("pick", button("B", "pick_b", "1"))]
    once = settle(T, text="Pick", blocks=BLOCKS, action_id="pick_a", choice="A", change=change)
    twice = settle(T, text="Pick", blocks=once.blocks, action_id="pick_b", choice="B", change=[])
    lines = [b for b in twice.blocks if b.get("block_id") == "clicks_choice"]
    assert len(lines) == 1 and "*B*" in lines[0]["elements"][0]["text"]
    assert _ids(twice.blocks) == ["edit", "share"]


def test_a_button_already_gone_puts_the_line_last() -> None:
    built = settle(T, text="Pick", blocks=BLOCKS[:1], action_id="pick_a", choice="A")
    assert [b.get("block_id") for b in built.blocks][-1] == "clicks_choice"
