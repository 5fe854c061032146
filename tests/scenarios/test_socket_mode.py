"""Socket Mode against a local WebSocket end that speaks Slack's envelopes: the app
opens the link with its app-level token, gets `hello`, acks every envelope (with a
payload where Slack accepts one), and reconnects when Slack says `disconnect`.
The ritual scenario modules listed in tests/conftest.py run over Socket Mode too."""

from __future__ import annotations

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from tests.conftest import DEALS, MANAGER, REP, RunningBot
from tests.support.debrief_steps import dm_messages

pytestmark = pytest.mark.parametrize("transport", ["socket"], indirect=True)


def test_the_app_connects_with_its_app_token_and_gets_hello(bot: RunningBot) -> None:
    assert bot.socket is not None
    [opened] = bot.standin.calls_to("apps.connections.open")
    assert opened.ok and opened.headers["authorization"] == f"Bearer {bot.standin.app_token}"
    assert bot.socket.hellos == 1 and bot.socket.open_connections == 1


def test_a_slash_command_is_acked_with_its_reply_as_the_payload(bot: RunningBot) -> None:
    assert bot.socket is not None
    result = bot.send(bot.slack.slash_command("help", user=REP))
    assert result.status == 200
    [ack] = bot.socket.received
    assert ack["envelope_id"] == bot.socket.sent[-1]["envelope_id"]
    reply = ack["payload"]
    assert reply["response_type"] == "ephemeral" and "/loop" in reply["text"]


def test_an_event_is_acked_empty_and_the_deal_dm_goes_out(bot: RunningBot) -> None:
    assert bot.socket is not None
    event = bot.slack.message_event(f"Closed Lost: Globex <@{REP}>", channel=DEALS, user=MANAGER)
    assert bot.send(bot.slack.event_request(event)).status == 200
    assert bot.socket.sent[-1]["type"] == "events_api"
    assert bot.socket.sent[-1]["accepts_response_payload"] is False
    assert not bot.socket.received[-1].get("payload")
    assert any("Globex" in m.get("text", "") for m in dm_messages(bot, REP))


def test_after_slack_asks_to_reconnect_the_app_opens_a_new_link_and_keeps_working(
    bot: RunningBot,
) -> None:
    assert bot.socket is not None
    bot.socket.disconnect("refresh_requested")
    bot.socket.wait_connected(hellos=2)
    assert len(bot.standin.calls_to("apps.connections.open")) == 2
    result = bot.send(bot.slack.slash_command("help", user=REP))
    assert result.status == 200 and "/loop" in result.json()["text"]


def test_an_envelope_no_listener_takes_is_not_acked(bot: RunningBot) -> None:
    """Bolt acks nothing it has no listener for; Slack would then retry. The stand-in
    reports the missing ack rather than hanging."""
    assert bot.socket is not None
    ack = bot.socket.deliver("interactive", {"type": "no_such_thing"}, timeout=2)
    assert ack.payload is None


def test_the_two_tokens_are_not_interchangeable(bot: RunningBot) -> None:
    wrong = WebClient(token=bot.standin.token, base_url=bot.standin.api_url)
    with pytest.raises(SlackApiError) as refused:
        wrong.apps_connections_open(app_token=bot.standin.token)
    assert refused.value.response["error"] == "not_allowed_token_type"
    app_token = WebClient(token=bot.standin.app_token, base_url=bot.standin.api_url)
    with pytest.raises(SlackApiError) as also_refused:
        app_token.chat_postMessage(channel=DEALS, text="hi")
    assert also_refused.value.response["error"] == "not_allowed_token_type"
