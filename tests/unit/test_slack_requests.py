"""The request factory: signatures, wire encodings, and bolt accepting what it builds."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, unquote_plus

import pytest
from slack_bolt import App, BoltRequest
from slack_sdk import WebClient
from slack_sdk.signature import SignatureVerifier

from bot.devkit.requests import (
    SlackRequest,
    SlackRequests,
    checkboxes_value,
    datepicker_value,
    plain_text_value,
    static_select_value,
)
from bot.devkit.standin import SlackStandIn

SECRET = "test-secret-0123456789abcdef"

# The documented example from Slack's "Verifying requests from Slack" guide.
VECTOR_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
VECTOR_TIMESTAMP = 1531420618
VECTOR_BODY = (
    "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow"
    "&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner"
    "&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands"
    "%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN"
    "&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
)
VECTOR_SIGNATURE = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    # Proxies would capture 127.0.0.1 traffic; SLACK_* variables would reconfigure App().
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    for name in (
        "SLACK_CLIENT_ID",
        "SLACK_CLIENT_SECRET",
        "SLACK_BOT_TOKEN",
        "SLACK_SIGNING_SECRET",
    ):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def slack() -> SlackRequests:
    return SlackRequests(SECRET)


def verify(request: SlackRequest, secret: str = SECRET) -> bool:
    return SignatureVerifier(secret).is_valid_request(request.body, request.headers)


def payload_of(request: SlackRequest) -> dict[str, Any]:
    fields = parse_qsl(request.text, keep_blank_values=True)
    assert [k for k, _ in fields] == ["payload"]
    return json.loads(fields[0][1])


# -- signing --------------------------------------------------------------------


def test_official_signing_vector() -> None:
    factory = SlackRequests(VECTOR_SECRET)
    headers = factory.sign(
        VECTOR_BODY.encode(),
        content_type="application/x-www-form-urlencoded",
        timestamp=VECTOR_TIMESTAMP,
    )
    assert headers["X-Slack-Signature"] == VECTOR_SIGNATURE
    assert headers["X-Slack-Request-Timestamp"] == str(VECTOR_TIMESTAMP)
    # The per-call secret override gives the same answer from any factory.
    other = SlackRequests("something-else").sign(
        VECTOR_BODY.encode(),
        content_type="application/x-www-form-urlencoded",
        timestamp=VECTOR_TIMESTAMP,
        secret=VECTOR_SECRET,
    )
    assert other["X-Slack-Signature"] == VECTOR_SIGNATURE


def test_signature_verifier_accepts_every_kind(slack: SlackRequests) -> None:
    message = slack.message_event("deal 42", channel="C0DEALS")
    requests = [
        slack.event_request(message),
        slack.event_request(slack.envelope(message), retry_num=1),
        slack.url_verification("xyz"),
        slack.slash_command("deal 42"),
        slack.block_action("log", value="42"),
        slack.view_submission("log_call", {"notes": {"v": plain_text_value("fine")}}),
        slack.message_shortcut("log_from_message", message),
    ]
    for request in requests:
        assert verify(request), request.headers


def test_wrong_secret_and_stale_timestamp_fail(slack: SlackRequests) -> None:
    event = slack.message_event("hi", channel="C0DEALS")
    assert not verify(slack.event_request(event, secret="nope"))
    stale = slack.event_request(event, timestamp=int(slack.now()) - 301)
    assert not verify(stale)


def test_clock_is_injectable() -> None:
    factory = SlackRequests(SECRET, now=lambda: 1_800_000_000.5)
    request = factory.slash_command("x")
    assert request.headers["X-Slack-Request-Timestamp"] == "1800000000"


# -- wire formats -------------------------------------------------------------------


def test_slash_command_form_order_and_encoding(slack: SlackRequests) -> None:
    request = slack.slash_command(
        "deal won Acme & Co", response_url="https://hooks.slack.com/commands/T0001/1/abc"
    )
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    body = request.text
    fields = parse_qsl(body, keep_blank_values=True)
    assert [k for k, _ in fields] == [
        "token",
        "team_id",
        "team_domain",
        "channel_id",
        "channel_name",
        "user_id",
        "user_name",
        "command",
        "text",
        "api_app_id",
        "is_enterprise_install",
        "response_url",
        "trigger_id",
    ]
    assert "&command=%2Floop&" in body
    assert "&text=deal+won+Acme+%26+Co&" in body
    assert "response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT0001%2F1%2Fabc" in body
    values = dict(fields)
    assert values["channel_name"] == "directmessage"
    assert values["is_enterprise_install"] == "false"
    assert values["trigger_id"].count(".") == 2


def test_interactivity_body_is_urlencoded_json_payload(slack: SlackRequests) -> None:
    request = slack.block_action("log", value="42", response_url="http://x/actions/T/1/z")
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert request.text.startswith("payload=%7B%22type%22%3A%22block_actions%22")
    payload = payload_of(request)
    assert json.loads(unquote_plus(request.text[len("payload=") :])) == payload
    assert payload["container"] == {
        "type": "message",
        "message_ts": payload["message"]["ts"],
        "channel_id": "D0REP1",
        "is_ephemeral": False,
    }
    assert payload["channel"] == {"id": "D0REP1", "name": "directmessage"}
    assert payload["response_url"] == "http://x/actions/T/1/z"
    [action] = payload["actions"]
    assert (action["action_id"], action["value"], action["type"]) == ("log", "42", "button")


def test_block_action_reads_the_clicked_element(slack: SlackRequests) -> None:
    message = {
        "type": "message",
        "ts": "1700000000.000100",
        "text": "How did it go?",
        "blocks": [
            {
                "type": "actions",
                "block_id": "fb",
                "elements": [
                    {
                        "type": "button",
                        "action_id": "won",
                        "text": {"type": "plain_text", "text": "We won"},
                        "value": "deal-42",
                    }
                ],
            }
        ],
    }
    [action] = payload_of(slack.block_action("won", message=message))["actions"]
    assert action["block_id"] == "fb"
    assert action["value"] == "deal-42"
    assert action["text"]["text"] == "We won"


def test_block_action_from_a_view(slack: SlackRequests) -> None:
    view = {"id": "V0HOME", "type": "home", "blocks": [], "callback_id": ""}
    payload = payload_of(
        slack.block_action(
            "pick",
            view=view,
            action_type="static_select",
            selected_option={"text": {"type": "plain_text", "text": "Won"}, "value": "won"},
        )
    )
    assert payload["container"] == {"type": "view", "view_id": "V0HOME"}
    assert payload["view"]["id"] == "V0HOME"
    for absent in ("channel", "message", "response_url"):
        assert absent not in payload
    assert payload["actions"][0]["selected_option"]["value"] == "won"


def test_view_submission_state(slack: SlackRequests) -> None:
    values = {
        "notes": {"v": plain_text_value("went well")},
        "stage": {"s": static_select_value("won", "Won")},
        "follow_up": {"d": datepicker_value("2026-12-01")},
        "tags": {"c": checkboxes_value(["pricing", ("timing", "Timing")])},
        "optional": {"o": plain_text_value(None)},
    }
    payload = payload_of(
        slack.view_submission("log_call", values, private_metadata='{"deal":"42"}')
    )
    assert payload["type"] == "view_submission"
    view = payload["view"]
    assert view["callback_id"] == "log_call"
    assert view["private_metadata"] == '{"deal":"42"}'
    state = view["state"]["values"]
    assert state["notes"]["v"] == {"type": "plain_text_input", "value": "went well"}
    assert state["stage"]["s"]["selected_option"]["value"] == "won"
    assert state["follow_up"]["d"]["selected_date"] == "2026-12-01"
    assert [o["value"] for o in state["tags"]["c"]["selected_options"]] == ["pricing", "timing"]
    assert state["optional"]["o"]["value"] is None
    assert view["root_view_id"] == view["id"]


def test_message_events_for_people_and_bots(slack: SlackRequests) -> None:
    person = slack.message_event("deal 42 status?", channel="C0DEALS")
    assert person["client_msg_id"]
    assert person["blocks"][0]["type"] == "rich_text"
    assert person["blocks"][0]["elements"][0]["elements"][0]["text"] == "deal 42 status?"
    assert person["ts"] == person["event_ts"]

    bot = slack.message_event(
        "Opportunity moved to Closed Won",
        channel="C0DEALS",
        user="U0SFDCBOT",
        bot_id="B0SFDC",
        bot_profile={"id": "B0SFDC", "name": "Salesforce"},
    )
    assert "client_msg_id" not in bot and "blocks" not in bot
    assert bot["bot_id"] == "B0SFDC"

    legacy = slack.message_event(
        "",
        channel="C0DEALS",
        user=None,
        subtype="bot_message",
        bot_id="B0HUB",
        username="HubSpot",
        attachments=[{"fallback": "New deal: Acme"}],
    )
    assert "user" not in legacy and legacy["subtype"] == "bot_message"
    assert legacy["username"] == "HubSpot"

    assert person["channel_type"] == "channel"
    assert slack.message_event("help", channel="D0REP1")["channel_type"] == "im"
    threaded = slack.message_event("reply", channel="C0DEALS", thread_ts=person["ts"])
    assert threaded["thread_ts"] == person["ts"]
    assert len({person["ts"], bot["ts"], legacy["ts"], threaded["ts"]}) == 4


def test_envelope_and_retry_headers(slack: SlackRequests) -> None:
    event = slack.message_event("hi", channel="C0DEALS")
    first, second = slack.envelope(event), slack.envelope(event)
    assert first["event_id"] != second["event_id"]
    assert first["event_id"].startswith("Ev")
    assert first["type"] == "event_callback"
    assert first["authorizations"][0]["user_id"] == "U0FEEDBOT"
    assert first["authorizations"][0]["is_enterprise_install"] is False

    retry = slack.event_request(first, retry_num=2, retry_reason="http_error")
    assert retry.headers["X-Slack-Retry-Num"] == "2"
    assert retry.headers["X-Slack-Retry-Reason"] == "http_error"
    assert json.loads(retry.body)["event_id"] == first["event_id"]
    assert "X-Slack-Retry-Num" not in slack.event_request(first).headers
    # An inner event is wrapped on the way.
    assert json.loads(slack.event_request(event).body)["event"] == event


# -- against real HTTP and real bolt ------------------------------------------------


def test_post_returns_results_for_errors_too(slack: SlackRequests) -> None:
    with SlackStandIn() as standin:
        ok = slack.slash_command("x").post(standin.response_url())
        assert (ok.status, ok.body) == (200, "ok")
        missing = slack.slash_command("x").post(standin.base_url + "/nowhere")
        assert missing.status == 404
        [call] = standin.calls_to("response_url")
        assert call.body["command"] == "/loop"


@pytest.fixture
def bolt() -> Iterator[tuple[App, SlackStandIn, list[dict[str, Any]]]]:
    with SlackStandIn() as standin:
        client = WebClient(token=standin.token, base_url=standin.api_url)
        app = App(client=client, signing_secret=SECRET, process_before_response=True)
        seen: list[dict[str, Any]] = []

        @app.command("/loop")
        def on_command(ack: Any, command: dict[str, Any]) -> None:
            ack()
            seen.append({"kind": "command", **command})

        @app.message("deal")
        def on_message(message: dict[str, Any]) -> None:
            seen.append({"kind": "message", **message})

        @app.action("log")
        def on_action(ack: Any, body: dict[str, Any]) -> None:
            ack()
            seen.append({"kind": "action", **body})

        @app.view("log_call")
        def on_view(ack: Any, view: dict[str, Any]) -> None:
            ack()
            seen.append({"kind": "view", **view})

        @app.shortcut("log_from_message")
        def on_shortcut(ack: Any, shortcut: dict[str, Any]) -> None:
            ack()
            seen.append({"kind": "shortcut", **shortcut})

        yield app, standin, seen


def dispatch(app: App, request: SlackRequest) -> int:
    response = app.dispatch(BoltRequest(body=request.text, headers=request.bolt_headers()))
    return response.status


def test_bolt_routes_every_kind(
    bolt: tuple[App, SlackStandIn, list[dict[str, Any]]], slack: SlackRequests
) -> None:
    app, standin, seen = bolt
    assert standin.calls_to("auth.test"), "App() checks its token against the stand-in"
    message = slack.message_event("deal 42 closed", channel="C0DEALS")
    assert dispatch(app, slack.event_request(message)) == 200
    assert dispatch(app, slack.slash_command("deal won Acme")) == 200
    assert dispatch(app, slack.block_action("log", value="42")) == 200
    values = {"notes": {"v": plain_text_value("ok")}}
    assert dispatch(app, slack.view_submission("log_call", values)) == 200
    assert dispatch(app, slack.message_shortcut("log_from_message", message)) == 200
    assert [s["kind"] for s in seen] == ["message", "command", "action", "view", "shortcut"]
    assert seen[1]["text"] == "deal won Acme" and seen[1]["command"] == "/loop"
    assert seen[3]["state"]["values"]["notes"]["v"]["value"] == "ok"

    challenge = app.dispatch(
        BoltRequest(
            body=slack.url_verification("c1").text,
            headers=slack.url_verification("c1").bolt_headers(),
        )
    )
    assert json.loads(challenge.body) == {"challenge": "c1"}
    assert dispatch(app, slack.slash_command("x", secret="wrong")) == 401
