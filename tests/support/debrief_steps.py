"""What a rep or manager does in Slack during a debrief, as small steps for the tests:
close a deal, click a button on a message the bot sent, fill in the modal it opened."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, select

from bot.devkit.requests import (
    HttpResult,
    plain_text_value,
    static_select_value,
    users_select_value,
)
from bot.devkit.standin import check_message_blocks
from storage.models import Deal, Nudge, Person, RitualRun
from tests.conftest import DEALS, MANAGER, RunningBot

LOSS_ANSWERS = {
    "reason": "The other vendor could start a month earlier",
    "missed": "We never talked about their rollout date",
    "needs": "Live before the spring hiring wave",
    "solution": "A standard three-month onboarding",
    "gap": "Timeline: they needed speed, we offered process",
    "takeaways": "Ask for the go-live date in the first meeting",
}


# The caller's own form (what they told you, is the door open, next step), as a manager
# writes it after a lost deal's call; the shape of seed 001's manager call.
CALL_ANSWERS = {
    "heard": "Budget moved to a Q3 platform review; our price was never the problem",
    "door": "open",
    "next": "Call their CFO the first week of July, before the review starts",
    "missed": "We never met the CFO who owned the budget",
}


@dataclass(frozen=True)
class Pick:
    """A static select's chosen option in a submitted form (`value` None: none picked),
    such as a kind of reason: `submit(..., {"reason_category": Pick("price")})`."""

    value: str | None


def close_deal(bot: RunningBot, outcome: str, account: str, rep: str) -> None:
    words = {"lost": "Closed Lost", "won": "Closed Won", "no_decision": "Closed - No Decision"}
    event = bot.slack.message_event(
        f"{words[outcome]}: {account} <@{rep}>", channel=DEALS, user=MANAGER
    )
    assert bot.send(bot.slack.event_request(event)).status == 200


def dm_messages(bot: RunningBot, user: str) -> list[dict[str, Any]]:
    """The user's DM with the bot as it stands now (after in-place updates)."""
    return bot.standin.messages(bot.standin.dm_channel(user))


def find_message(bot: RunningBot, user: str, action_id: str) -> dict[str, Any]:
    """The latest DM holding a button with this action id."""
    for message in reversed(dm_messages(bot, user)):
        if action_id in action_ids(message):
            return message
    raise AssertionError(f"no DM to {user} has a {action_id!r} button")


def action_ids(message: dict[str, Any]) -> list[str]:
    return [
        el["action_id"]
        for block in message.get("blocks", [])
        if block["type"] == "actions"
        for el in block["elements"]
    ]


def texts(message: dict[str, Any]) -> str:
    """Everything a reader sees in a message's blocks, as one string."""
    return json.dumps(message.get("blocks", []), ensure_ascii=False)


def click(bot: RunningBot, user: str, action_id: str, *, value: str | None = None) -> HttpResult:
    message = find_message(bot, user, action_id)
    request = bot.slack.block_action(
        action_id,
        user=user,
        channel=bot.standin.dm_channel(user),
        message=message,
        value=value,
    )
    result = bot.send(request)
    assert result.status == 200
    return result


def stale_click(
    bot: RunningBot, user: str, action_id: str, old_message: dict[str, Any]
) -> HttpResult:
    """A click on an older copy of a message (a notification, a second device) whose
    buttons have since been replaced in place."""
    request = bot.slack.block_action(
        action_id, user=user, channel=bot.standin.dm_channel(user), message=old_message
    )
    result = bot.send(request)
    assert result.status == 200
    return result


def last_modal(bot: RunningBot) -> dict[str, Any]:
    [*_, call] = bot.standin.calls_to("views.open", ok=True)
    return dict(call.body["view"])


def submit(bot: RunningBot, user: str, view: dict[str, Any], answers: dict[str, Any]) -> HttpResult:
    values: dict[str, dict[str, dict[str, Any]]] = {}
    for name, answer in answers.items():
        if isinstance(answer, Pick):
            values[name] = {"v": static_select_value(answer.value)}
        elif isinstance(answer, bool):
            chosen = [{"text": {"type": "plain_text", "text": "ok"}, "value": "yes"}]
            values[name] = {
                "v": {"type": "checkboxes", "selected_options": chosen if answer else []}
            }
        else:
            values[name] = {"v": plain_text_value(answer or None)}
    request = bot.slack.view_submission(
        view["callback_id"],
        values,
        user=user,
        private_metadata=view.get("private_metadata", ""),
        blocks=view.get("blocks"),
    )
    result = bot.send(request)
    assert result.status == 200
    return result


def ephemeral_replies(bot: RunningBot) -> list[str]:
    return [str(c.body.get("text")) for c in bot.standin.calls_to("response_url")]


def assert_all_block_kit_valid(bot: RunningBot) -> None:
    """Response-url bodies bypass the stand-in's own checks; check them here too."""
    for call in bot.standin.calls_to("response_url"):
        if call.body.get("blocks") is not None:
            assert check_message_blocks(call.body["blocks"]) == []
    for method in ("chat.postMessage", "chat.update", "views.open"):
        assert bot.standin.calls_to(method, ok=False) == [], method


def runs(bot: RunningBot, ritual: str) -> list[RitualRun]:
    with Session(bot.rt.engine) as s:
        return list(s.exec(select(RitualRun).where(RitualRun.ritual == ritual)).all())


def nudges_of(bot: RunningBot, kind: str) -> list[Nudge]:
    with Session(bot.rt.engine) as s:
        return list(s.exec(select(Nudge).where(Nudge.kind == kind)).all())


def deal_ids(bot: RunningBot) -> list[int]:
    with Session(bot.rt.engine) as s:
        return [int(d.id or 0) for d in s.exec(select(Deal)).all()]


def set_manager(bot: RunningBot, rep: str, manager: str | None) -> None:
    """Managers come from `/loop team` (another module); here they are set directly."""
    with Session(bot.rt.engine) as s:
        person = s.exec(select(Person).where(Person.slack_id == rep)).first()
        if person is None:
            person = Person(team_id=bot.slack.team_id, slack_id=rep)
        person.manager_slack_id = manager
        s.add(person)
        s.commit()


def submit_call(
    bot: RunningBot, user: str, view: dict[str, Any], answers: dict[str, str]
) -> HttpResult:
    """The caller's form: text fields, and the door (and, when given, the kind of
    reason) as the selects' chosen options."""
    values: dict[str, dict[str, dict[str, Any]]] = {
        name: {"v": plain_text_value(answers.get(name) or None)}
        for name in ("heard", "next", "missed")
    }
    values["door"] = {"v": static_select_value(answers.get("door") or None)}
    if "reason_category" in answers:
        values["reason_category"] = {"v": static_select_value(answers["reason_category"])}
    if "competitor" in answers:
        values["competitor"] = {"v": plain_text_value(answers["competitor"])}
    request = bot.slack.view_submission(
        view["callback_id"],
        values,
        user=user,
        private_metadata=view.get("private_metadata", ""),
        blocks=view.get("blocks"),
    )
    result = bot.send(request)
    assert result.status == 200
    return result


def log_the_call(bot: RunningBot, caller: str, answers: dict[str, str] = CALL_ANSWERS) -> None:
    """The caller opens "Log the call", fills in their form and confirms the loop-back."""
    click(bot, caller, "manager_log_open")
    view = last_modal(bot)
    assert view["callback_id"] == "call_log"
    submit_call(bot, caller, view, answers)
    click(bot, caller, "log_confirm")


def pick_caller(bot: RunningBot, rep: str, caller: str) -> HttpResult:
    """ "Ask a colleague instead", then pick `caller` in the modal."""
    click(bot, rep, "call_pick_open")
    view = last_modal(bot)
    assert view["callback_id"] == "call_pick"
    request = bot.slack.view_submission(
        "call_pick",
        {"caller": {"v": users_select_value(caller)}},
        user=rep,
        private_metadata=view.get("private_metadata", ""),
        blocks=view.get("blocks"),
    )
    result = bot.send(request)
    assert result.status == 200
    return result
