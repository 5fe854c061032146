"""The Workflow Builder step "Start a deal debrief": a signed `function_executed` event
(as Slack sends it when a workflow, e.g. one started by a Salesforce or HubSpot record
change, reaches the step) → the one intake → the rep's DM → functions.completeSuccess
with the outputs, or functions.completeError with words the workflow's author can act on."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlmodel import Session, select

from bot.slack import ids
from storage.models import Deal, IntakeProblem
from tests.conftest import ADMIN, DEALS, MANAGER, REP, REP2, RunningBot

RECORD = "https://acme.my.salesforce.com/lightning/r/Opportunity/0065g00000AbCdEAAV/view"


def run(bot: RunningBot, inputs: dict[str, Any], *, event_id: str | None = None) -> str:
    """Send the step's event; returns its function_execution_id."""
    execution = f"Fx{len(bot.standin.function_results) + 1:04d}TEST"
    token = bot.standin.function_token(execution)
    event = bot.slack.function_executed(
        ids.DEAL_STEP_FUNCTION, inputs, bot_access_token=token, function_execution_id=execution
    )
    envelope = bot.slack.envelope(event, event_id=event_id)
    assert bot.send(bot.slack.event_request(envelope)).status == 200
    return execution


def result(bot: RunningBot, execution: str) -> dict[str, Any]:
    [done] = bot.standin.function_results[execution]
    return done


def deals(bot: RunningBot) -> list[Deal]:
    with Session(bot.rt.engine) as s:
        return list(s.exec(select(Deal)).all())


def deal_dms(bot: RunningBot, user: str) -> list[dict[str, Any]]:
    channel = bot.standin.dm_channel(user)
    return [
        c.body
        for c in bot.standin.calls_to("chat.postMessage")
        if c.response.get("ok") and c.body.get("channel") in {user, channel}
    ]


INPUTS = {
    "rep": REP,
    "account": "Stark Industries",
    "outcome": "Closed Won",
    "amount": 250000,
    "crm_record_link": RECORD,
}


def test_the_step_logs_the_deal_dms_the_rep_and_completes_with_its_outputs(
    bot: RunningBot,
) -> None:
    execution = run(bot, INPUTS)
    [deal] = deals(bot)
    assert (deal.account, deal.outcome, deal.rep_slack_id, deal.source) == (
        "Stark Industries",
        "won",
        REP,
        "workflow",
    )
    assert str(deal.amount) == "250000.00"
    assert len(deal_dms(bot, REP)) == 1
    assert result(bot, execution) == {
        "ok": True,
        "outputs": {"deal_id": str(deal.id), "dm_sent": True},
    }
    # Completed with the execution's own short-lived token, as Slack requires.
    [call] = bot.standin.calls_to("functions.completeSuccess", ok=True)
    assert call.headers["authorization"].startswith("Bearer xwfp-")


def test_running_the_same_record_again_completes_with_the_same_deal_and_no_dm(
    bot: RunningBot,
) -> None:
    first = run(bot, INPUTS)
    again = run(bot, INPUTS)
    deal_id = result(bot, first)["outputs"]["deal_id"]
    assert result(bot, again)["outputs"] == {"deal_id": deal_id, "dm_sent": False}
    assert len(deals(bot)) == 1 and len(deal_dms(bot, REP)) == 1


def test_a_redelivered_event_is_one_deal(bot: RunningBot) -> None:
    execution = run(bot, {**INPUTS, "crm_record_link": ""}, event_id="Ev0STEP0001")
    token = bot.standin.function_token(execution)
    event = bot.slack.function_executed(
        ids.DEAL_STEP_FUNCTION,
        {**INPUTS, "crm_record_link": ""},
        bot_access_token=token,
        function_execution_id=execution,
    )
    retry = bot.slack.event_request(bot.slack.envelope(event, event_id="Ev0STEP0001"), retry_num=1)
    assert bot.send(retry).status == 200
    assert len(deals(bot)) == 1 and len(deal_dms(bot, REP)) == 1
    assert len(bot.standin.function_results[execution]) == 1


def test_the_step_and_a_channel_post_of_the_same_deal_send_one_dm(bot: RunningBot) -> None:
    post = bot.slack.message_event(f"Closed won: Stark Industries <@{REP}>", channel=DEALS)
    bot.send(bot.slack.event_request(post))
    execution = run(bot, INPUTS)
    assert result(bot, execution)["outputs"]["dm_sent"] is False
    assert len(deals(bot)) == 1 and len(deal_dms(bot, REP)) == 1


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"outcome": "Negotiation"}, 'The outcome "Negotiation" is not one of won, lost'),
        ({"outcome": None}, "is not one of won, lost or no decision"),
        ({"account": "  "}, "The account is empty"),
        ({"rep": "U0NOBODY"}, "no Slack user has the id U0NOBODY"),
        ({"rep": None}, "Could not find the rep"),
        ({"amount": "lots"}, 'The amount "lots" is not a number'),
    ],
)
def test_a_bad_input_fails_the_step_with_words_for_the_workflow_author(
    bot: RunningBot, change: dict[str, Any], words: str
) -> None:
    execution = run(bot, {**INPUTS, **change})
    done = result(bot, execution)
    assert done["ok"] is False and words in done["error"]
    assert deals(bot) == [] and deal_dms(bot, REP) == []
    # The admins see it in App Home as well.
    [problem] = _problems(bot)
    assert problem.source == "workflow" and words in problem.detail


def test_the_rep_by_e_mail_as_the_crm_connectors_give_it(bot: RunningBot) -> None:
    execution = run(bot, {**INPUTS, "rep": None, "rep_email": "Sam@Acme.test"})
    assert result(bot, execution)["ok"] is True
    assert [d.rep_slack_id for d in deals(bot)] == [REP2]
    unknown = run(bot, {**INPUTS, "rep": None, "rep_email": "ghost@acme.test", "account": "B"})
    assert "ghost@acme.test" in result(bot, unknown)["error"]


def test_a_bot_as_rep_is_refused_and_shown_to_admins(bot: RunningBot) -> None:
    bot.standin.add_user("U0SOMEBOT", name="somebot", is_bot=True)
    execution = run(bot, {**INPUTS, "rep": "U0SOMEBOT"})
    assert "bot or a deactivated user" in result(bot, execution)["error"]
    home = {"type": "app_home_opened", "user": ADMIN, "channel": "D0HOME", "tab": "home"}
    bot.send(bot.slack.event_request(home))
    [call] = bot.standin.calls_to("views.publish")
    assert "Workflow step" in json.dumps(call.body["view"])


def test_no_decision_and_lost_outcomes_and_a_spanish_rep(bot: RunningBot) -> None:
    first = run(bot, {**INPUTS, "rep": REP2, "outcome": "no-decision", "crm_record_link": ""})
    second = run(bot, {**INPUTS, "rep": MANAGER, "outcome": "lost", "account": "Globex"})
    assert result(bot, first)["ok"] and result(bot, second)["ok"]
    assert sorted(d.outcome for d in deals(bot)) == ["lost", "no_decision"]
    # REP2 reads Spanish: the DM the step started is in their language.
    [dm] = deal_dms(bot, REP2)
    assert "Stark Industries" in json.dumps(dm, ensure_ascii=False)
    assert "sin decisión" in bot.standin.messages(bot.standin.dm_channel(REP2))[0]["text"]


def test_a_completion_slack_refuses_does_not_lose_the_deal(bot: RunningBot) -> None:
    bot.standin.fail_next("functions.completeSuccess", error="function_execution_not_found")
    run(bot, INPUTS)
    assert len(deals(bot)) == 1 and len(deal_dms(bot, REP)) == 1


def _problems(bot: RunningBot) -> list[IntakeProblem]:
    with Session(bot.rt.engine) as s:
        return list(s.exec(select(IntakeProblem)).all())
