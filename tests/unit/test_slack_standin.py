"""The Slack stand-in, driven by slack_sdk's real clients."""

from __future__ import annotations

import asyncio
import json
import threading
import urllib.request
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import ConnectionErrorRetryHandler
from slack_sdk.http_retry.builtin_interval_calculators import FixedValueRetryIntervalCalculator
from slack_sdk.web.async_client import AsyncWebClient

from bot.devkit.standin import SlackStandIn, check_message_blocks, check_view

TOKEN = "xoxb-standin"


def plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text}


def mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text}


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": mrkdwn(text)}


@pytest.fixture(autouse=True)
def _no_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    # slack_sdk honours proxy variables but not NO_PROXY, which would route 127.0.0.1 away.
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def slack() -> Iterator[SlackStandIn]:
    with SlackStandIn() as standin:
        standin.add_user(
            "U0REP1",
            name="rita",
            real_name="Rita Rep",
            tz="Europe/Berlin",
            locale="de-DE",
            email="rita@acme.example.com",
        )
        standin.add_user("U0GONE", name="gone", deleted=True)
        standin.add_channel("C0DEALS", "deals")
        yield standin


@pytest.fixture
def client(slack: SlackStandIn) -> WebClient:
    # No retry handlers: each test sees exactly what one request got back.
    return WebClient(token=TOKEN, base_url=slack.api_url, retry_handlers=[])


def error_of(excinfo: pytest.ExceptionInfo[SlackApiError]) -> str:
    return str(excinfo.value.response["error"])


# -- auth -------------------------------------------------------------------


def test_auth_test_returns_bot_identity_and_scopes(slack: SlackStandIn, client: WebClient) -> None:
    resp = client.auth_test()
    assert resp["ok"] is True
    assert resp["url"] == "https://acme-sales.slack.com/"
    assert resp["team"] == "Acme Sales"
    assert (resp["team_id"], resp["user_id"], resp["bot_id"]) == ("T0001", "U0FEEDBOT", "B0FEEDBOT")
    # bolt reads this exact lower-case key from the sync client's plain header dict.
    assert "chat:write" in resp.headers["x-oauth-scopes"]
    call = slack.calls_to("auth.test")[0]
    assert call.headers["authorization"] == f"Bearer {TOKEN}"
    assert call.status == 200 and call.ok


def test_bad_or_missing_token(slack: SlackStandIn) -> None:
    with pytest.raises(SlackApiError) as bad:
        WebClient(token="xoxb-wrong", base_url=slack.api_url).auth_test()
    assert error_of(bad) == "invalid_auth"
    with pytest.raises(SlackApiError) as missing:
        WebClient(base_url=slack.api_url).users_info(user="U0REP1")
    assert error_of(missing) == "not_authed"


def test_unknown_method_is_recorded(slack: SlackStandIn, client: WebClient) -> None:
    with pytest.raises(SlackApiError) as e:
        client.api_call("pins.add", params={"channel": "C0DEALS"})
    assert error_of(e) == "unknown_method"
    assert slack.calls_to("pins.add")[0].body == {"channel": "C0DEALS"}


# -- conversations and messages -----------------------------------------------


def test_open_dm_then_post_records_parsed_blocks(slack: SlackStandIn, client: WebClient) -> None:
    opened = client.conversations_open(users="U0REP1")
    dm = opened["channel"]["id"]
    assert dm == slack.dm_channel_id("U0REP1") and dm.startswith("D")
    assert "already_open" not in opened.data
    again = client.conversations_open(users="U0REP1")
    assert again["channel"]["id"] == dm
    assert again["no_op"] is True and again["already_open"] is True

    blocks = [section("How did the *Acme* call go?"), {"type": "divider"}]
    first = client.chat_postMessage(channel=dm, text="How did it go?", blocks=blocks)
    second = client.chat_postMessage(channel=dm, text="Still there?")
    assert first["channel"] == dm
    assert first["ts"] < second["ts"]
    assert first["message"]["bot_id"] == "B0FEEDBOT"
    assert first["message"]["user"] == "U0FEEDBOT"
    assert first["message"]["text"] == "How did it go?"

    call = slack.calls_to("chat.postMessage")[0]
    assert call.body["channel"] == dm
    assert call.body["blocks"] == blocks  # parsed, not a JSON string
    assert call.headers["content-type"].startswith("application/json")
    assert slack.block_errors == []
    assert [m["text"] for m in slack.messages(dm)] == ["How did it go?", "Still there?"]


def test_post_to_user_id_goes_to_their_dm(slack: SlackStandIn, client: WebClient) -> None:
    resp = client.chat_postMessage(channel="U0REP1", text="hi")
    assert resp["channel"] == slack.dm_channel_id("U0REP1")


@pytest.mark.filterwarnings("ignore:The top-level `text` argument is missing")
def test_post_errors(slack: SlackStandIn, client: WebClient) -> None:
    with pytest.raises(SlackApiError) as missing:
        client.chat_postMessage(channel="C0NOPE", text="hi")
    assert error_of(missing) == "channel_not_found"
    with pytest.raises(SlackApiError) as empty:
        client.chat_postMessage(channel="C0DEALS", text="")
    assert error_of(empty) == "no_text"
    with pytest.raises(SlackApiError) as long_text:
        client.chat_postMessage(channel="C0DEALS", text="x" * 4001)
    assert error_of(long_text) == "msg_too_long"
    assert slack.block_errors and "4000" in slack.block_errors[-1]
    with pytest.raises(SlackApiError) as unknown:
        client.conversations_open(users="U0NOBODY")
    assert error_of(unknown) == "user_not_found"
    with pytest.raises(SlackApiError) as gone:
        client.conversations_open(users="U0GONE")
    assert error_of(gone) == "user_disabled"


def test_update_and_delete(slack: SlackStandIn, client: WebClient) -> None:
    posted = client.chat_postMessage(channel="C0DEALS", text="v1", blocks=[section("one")])
    ts = posted["ts"]
    updated = client.chat_update(channel="C0DEALS", ts=ts, text="v2")
    assert updated["ts"] == ts and updated["text"] == "v2"
    # Blocks left out of an update are kept, as Slack does.
    assert slack.messages("C0DEALS")[0]["blocks"][0]["text"]["text"] == "one"
    with pytest.raises(SlackApiError) as wrong:
        client.chat_update(channel="C0DEALS", ts="1.000001", text="x")
    assert error_of(wrong) == "message_not_found"
    deleted = client.chat_delete(channel="C0DEALS", ts=ts)
    assert deleted["ts"] == ts
    assert slack.messages("C0DEALS") == []


def test_post_ephemeral(slack: SlackStandIn, client: WebClient) -> None:
    resp = client.chat_postEphemeral(channel="C0DEALS", user="U0REP1", text="only you")
    assert resp["message_ts"]
    with pytest.raises(SlackApiError) as e:
        client.chat_postEphemeral(channel="C0DEALS", user="U0NOBODY", text="x")
    assert error_of(e) == "user_not_found"


def test_form_encoded_blocks_are_decoded(slack: SlackStandIn) -> None:
    blocks = [section("from a form")]
    data = urllib.parse.urlencode(
        {"channel": "C0DEALS", "text": "t", "blocks": json.dumps(blocks)}
    ).encode()
    request = urllib.request.Request(
        slack.api_url + "chat.postMessage",
        data=data,
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(request, timeout=5) as resp:
        assert json.loads(resp.read())["ok"] is True
    assert slack.calls_to("chat.postMessage")[0].body["blocks"] == blocks


def test_conversations_info(slack: SlackStandIn, client: WebClient) -> None:
    assert client.conversations_info(channel="C0DEALS")["channel"]["name"] == "deals"
    dm = client.conversations_open(users="U0REP1")["channel"]["id"]
    info = client.conversations_info(channel=dm)["channel"]
    assert info["is_im"] is True and info["user"] == "U0REP1"


# -- users, dnd, team -----------------------------------------------------------


def test_users_info_with_locale_and_tz(slack: SlackStandIn, client: WebClient) -> None:
    user = client.users_info(user="U0REP1", include_locale=True)["user"]
    assert user["id"] == "U0REP1"
    assert user["locale"] == "de-DE"
    assert user["tz"] == "Europe/Berlin"
    assert user["tz_offset"] in (3600, 7200)
    assert user["tz_label"] in ("Central European Time", "Central European Summer Time")
    assert user["profile"]["email"] == "rita@acme.example.com"
    assert user["deleted"] is False and user["is_bot"] is False
    assert slack.calls_to("users.info")[0].body["include_locale"] == "1"

    assert "locale" not in client.users_info(user="U0REP1")["user"]
    gone = client.users_info(user="U0GONE")["user"]
    assert gone["deleted"] is True
    assert "tz" not in gone  # Slack strips deactivated accounts
    with pytest.raises(SlackApiError) as e:
        client.users_info(user="U0NOBODY")
    assert error_of(e) == "user_not_found"


def test_lookup_by_email(slack: SlackStandIn, client: WebClient) -> None:
    found = client.users_lookupByEmail(email="RITA@acme.example.com")
    assert found["user"]["id"] == "U0REP1"
    with pytest.raises(SlackApiError) as e:
        client.users_lookupByEmail(email="nobody@acme.example.com")
    assert error_of(e) == "users_not_found"


def test_dnd_info(slack: SlackStandIn, client: WebClient) -> None:
    default = client.dnd_info(user="U0REP1")
    assert default["dnd_enabled"] is False and default["snooze_enabled"] is False
    assert default["next_dnd_start_ts"] < default["next_dnd_end_ts"]
    assert default["next_dnd_end_ts"] - default["next_dnd_start_ts"] in (36000, 32400, 39600)

    slack.set_dnd("U0REP1", snooze_enabled=True, snooze_endtime=4_102_444_800)
    snoozed = client.dnd_info(user="U0REP1")
    assert snoozed["snooze_enabled"] is True
    assert snoozed["snooze_endtime"] == 4_102_444_800
    assert snoozed["snooze_remaining"] > 0


def test_team_info(client: WebClient) -> None:
    team = client.team_info()["team"]
    assert (team["id"], team["name"], team["domain"]) == ("T0001", "Acme Sales", "acme-sales")


# -- fault injection ------------------------------------------------------------


def test_injected_429(slack: SlackStandIn, client: WebClient) -> None:
    slack.fail_next("chat.postMessage", status=429, retry_after=7)
    with pytest.raises(SlackApiError) as e:
        client.chat_postMessage(channel="C0DEALS", text="hi")
    assert e.value.response.status_code == 429
    assert e.value.response.headers["Retry-After"] == "7"
    assert e.value.response.data == {"ok": False, "error": "ratelimited"}
    assert client.chat_postMessage(channel="C0DEALS", text="hi")["ok"] is True
    assert [c.status for c in slack.calls_to("chat.postMessage")] == [429, 200]


def test_injected_account_inactive(slack: SlackStandIn, client: WebClient) -> None:
    slack.fail_next("conversations.open", error="account_inactive", times=2)
    for _ in range(2):
        with pytest.raises(SlackApiError) as e:
            client.conversations_open(users="U0REP1")
        assert e.value.response.status_code == 200
        assert error_of(e) == "account_inactive"
    assert client.conversations_open(users="U0REP1")["ok"] is True


def test_injected_server_errors(slack: SlackStandIn, client: WebClient) -> None:
    slack.fail_next("chat.postMessage", status=500)
    slack.fail_next("chat.postMessage", status=503)
    with pytest.raises(SlackApiError) as e500:
        client.chat_postMessage(channel="C0DEALS", text="hi")
    assert e500.value.response.status_code == 500
    assert error_of(e500) == "internal_error"
    with pytest.raises(SlackApiError) as e503:
        client.chat_postMessage(channel="C0DEALS", text="hi")
    assert e503.value.response.status_code == 503
    assert slack.calls_to("chat.postMessage")[1].response == {"raw": "Service Unavailable"}


def test_connection_reset_raises(slack: SlackStandIn, client: WebClient) -> None:
    slack.fail_connection_next("chat.postMessage")
    with pytest.raises((ConnectionError, OSError)):
        client.chat_postMessage(channel="C0DEALS", text="hi")
    assert slack.calls_to("chat.postMessage")[0].status == 0
    assert client.chat_postMessage(channel="C0DEALS", text="hi")["ok"] is True


def test_single_reset_is_retried_by_slack_sdk_default_handler(slack: SlackStandIn) -> None:
    handler = ConnectionErrorRetryHandler(
        interval_calculator=FixedValueRetryIntervalCalculator(fixed_internal=0.0)
    )
    retrying = WebClient(token=TOKEN, base_url=slack.api_url, retry_handlers=[handler])
    slack.fail_connection_next("auth.test")
    assert retrying.auth_test()["ok"] is True
    assert [c.status for c in slack.calls_to("auth.test")] == [0, 200]


def test_reset_after_processing_means_a_retry_posts_twice(slack: SlackStandIn) -> None:
    handler = ConnectionErrorRetryHandler(
        interval_calculator=FixedValueRetryIntervalCalculator(fixed_internal=0.0)
    )
    retrying = WebClient(token=TOKEN, base_url=slack.api_url, retry_handlers=[handler])
    slack.fail_connection_next("chat.postMessage", after_processing=True)
    assert retrying.chat_postMessage(channel="C0DEALS", text="once?")["ok"] is True
    assert [m["text"] for m in slack.messages("C0DEALS")] == ["once?", "once?"]


def test_server_error_after_processing(slack: SlackStandIn, client: WebClient) -> None:
    slack.fail_next("chat.postMessage", status=500, after_processing=True)
    with pytest.raises(SlackApiError) as e:
        client.chat_postMessage(channel="C0DEALS", text="posted anyway")
    assert e.value.response.status_code == 500
    assert [m["text"] for m in slack.messages("C0DEALS")] == ["posted anyway"]


def test_rate_limit_token_bucket(slack: SlackStandIn, client: WebClient) -> None:
    slack.set_rate_limit("chat.postMessage", 0.01, burst=2)
    client.chat_postMessage(channel="C0DEALS", text="1")
    client.chat_postMessage(channel="C0DEALS", text="2")
    with pytest.raises(SlackApiError) as e:
        client.chat_postMessage(channel="C0DEALS", text="3")
    assert e.value.response.status_code == 429
    retry_after = e.value.response.headers["Retry-After"]
    assert retry_after.isdigit() and int(retry_after) >= 1
    # Other methods keep their own budget.
    assert client.auth_test()["ok"] is True
    slack.set_rate_limit("chat.postMessage", None)
    assert client.chat_postMessage(channel="C0DEALS", text="4")["ok"] is True


# -- Block Kit validation -------------------------------------------------------


def test_too_long_section_is_invalid_blocks(slack: SlackStandIn, client: WebClient) -> None:
    with pytest.raises(SlackApiError) as e:
        client.chat_postMessage(channel="C0DEALS", text="t", blocks=[section("x" * 3001)])
    assert error_of(e) == "invalid_blocks"
    assert e.value.response["errors"]
    assert any("3000" in problem for problem in slack.block_errors)
    assert slack.messages("C0DEALS") == []


def test_modal_without_title_is_flagged(slack: SlackStandIn, client: WebClient) -> None:
    view = {"type": "modal", "blocks": [section("hello")]}
    assert any("title" in p for p in check_view(view))
    with pytest.raises(SlackApiError) as e:
        client.views_open(trigger_id="123.456.abc", view=view)
    assert error_of(e) == "invalid_arguments"
    assert any("title" in p for p in slack.block_errors)


def test_views_open_update_publish(slack: SlackStandIn, client: WebClient) -> None:
    modal = {
        "type": "modal",
        "callback_id": "log_call",
        "title": plain("Log call"),
        "submit": plain("Save"),
        "blocks": [
            {
                "type": "input",
                "block_id": "notes",
                "label": plain("Notes"),
                "element": {"type": "plain_text_input", "action_id": "v"},
            }
        ],
    }
    opened = client.views_open(trigger_id="123.456.abc", view=modal)["view"]
    assert opened["id"].startswith("V") and opened["callback_id"] == "log_call"
    assert opened["state"] == {"values": {}} and opened["hash"]
    updated = client.views_update(view_id=opened["id"], view=modal, hash=opened["hash"])["view"]
    assert updated["id"] == opened["id"] and updated["hash"] != opened["hash"]
    with pytest.raises(SlackApiError) as stale:
        client.views_update(view_id=opened["id"], view=modal, hash=opened["hash"])
    assert error_of(stale) == "hash_conflict"
    with pytest.raises(SlackApiError) as missing:
        client.views_update(view_id="V0NOPE", view=modal)
    assert error_of(missing) == "not_found"
    with pytest.raises(SlackApiError) as no_trigger:
        client.views_open(trigger_id="", view=modal)
    assert error_of(no_trigger) == "invalid_trigger_id"

    home = {"type": "home", "blocks": [section("Your rituals")]}
    first = client.views_publish(user_id="U0REP1", view=home)["view"]
    second = client.views_publish(user_id="U0REP1", view=home)["view"]
    assert first["type"] == "home" and first["id"] == second["id"]
    assert slack.block_errors == []


def test_check_message_blocks_accepts_well_formed_blocks() -> None:
    blocks = [
        {"type": "header", "text": plain("Deal won: Acme")},
        section("*Acme* closed"),
        {"type": "section", "fields": [mrkdwn("*Stage*\nWon"), mrkdwn("*Amount*\n$50k")]},
        {"type": "context", "elements": [mrkdwn("via Salesforce")]},
        {"type": "divider"},
        {
            "type": "actions",
            "block_id": "fb",
            "elements": [
                {
                    "type": "button",
                    "text": plain("Log"),
                    "action_id": "log",
                    "value": "42",
                    "style": "primary",
                },
                {
                    "type": "static_select",
                    "action_id": "pick",
                    "placeholder": plain("Outcome"),
                    "options": [{"text": plain("Won"), "value": "won"}],
                },
            ],
        },
    ]
    assert check_message_blocks(blocks) == []
    assert check_message_blocks([]) == []


@pytest.mark.parametrize(
    ("blocks", "needle"),
    [
        ([section("ok")] * 51, "50"),
        ([{"type": "header", "text": mrkdwn("Hi")}], "plain_text"),
        ([{"type": "header", "text": plain("x" * 151)}], "150"),
        ([{"type": "section", "fields": [mrkdwn("x" * 2001)]}], "2000"),
        ([section("")], "non-empty"),
        ([{"type": "context", "elements": [plain("")]}], "non-empty"),
        ([{"type": "actions", "elements": []}], "at least 1"),
        ([{"type": "bogus"}], "unknown block type"),
        ([{"type": "section", "text": mrkdwn("x"), "colour": "red"}], "colour"),
        ([{"type": "section", "text": "bare string"}], "section text"),
        ([{**section("a"), "block_id": "x"}, {**section("b"), "block_id": "x"}], "duplicate"),
        (
            [
                {
                    "type": "actions",
                    "elements": [
                        {"type": "button", "text": mrkdwn("Go"), "action_id": "go"},
                    ],
                }
            ],
            "button text",
        ),
        (
            [
                {
                    "type": "actions",
                    "elements": [
                        {"type": "button", "text": plain("A"), "action_id": "same"},
                        {"type": "button", "text": plain("B"), "action_id": "same"},
                    ],
                }
            ],
            "used twice",
        ),
        (
            [
                {
                    "type": "actions",
                    "elements": [
                        {
                            "type": "static_select",
                            "action_id": "s",
                            "options": [{"text": plain("o" * 76), "value": "v"}],
                        }
                    ],
                }
            ],
            "75",
        ),
        ("not json", "JSON array"),
    ],
)
def test_check_message_blocks_flags(blocks: Any, needle: str) -> None:
    problems = check_message_blocks(blocks)
    assert problems, f"expected a problem mentioning {needle!r}"
    assert any(needle in p for p in problems), problems
    assert all("[json-pointer:/blocks" in p for p in problems)


def test_check_view_rules() -> None:
    good = {"type": "modal", "title": plain("Feedback"), "blocks": [section("hi")]}
    assert check_view(good) == []
    needs_submit = {
        **good,
        "blocks": [
            {
                "type": "input",
                "label": plain("Notes"),
                "element": {"type": "plain_text_input", "action_id": "v"},
            }
        ],
    }
    assert any("submit" in p for p in check_view(needs_submit))
    assert any("24" in p for p in check_view({**good, "title": plain("t" * 25)}))
    assert any("plain_text" in p for p in check_view({**good, "title": mrkdwn("Feedback")}))
    assert check_view({"type": "modal", "title": plain("x"), "blocks": [section("x")] * 101})
    assert check_view({"type": "home", "blocks": [section("x")], "submit": plain("no")})
    assert any("unknown block type" in p for p in check_view({**good, "blocks": [{"type": "x"}]}))


def test_validation_can_be_turned_off() -> None:
    with SlackStandIn(validate_blocks=False) as loose:
        loose.add_channel("C0DEALS", "deals")
        client = WebClient(token=TOKEN, base_url=loose.api_url, retry_handlers=[])
        assert client.chat_postMessage(channel="C0DEALS", text="t", blocks=[{"type": "x"}])["ok"]
        assert loose.block_errors == []


# -- recording, response_url, async client -------------------------------------------


def test_response_url_posts_are_recorded(slack: SlackStandIn) -> None:
    url = slack.response_url()
    assert url.startswith(slack.base_url + "/commands/T0001/")
    request = urllib.request.Request(
        url,
        data=json.dumps({"text": "done", "response_type": "ephemeral"}).encode(),
        headers={"Content-Type": "application/json"},
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(request, timeout=5) as resp:
        assert resp.read() == b"ok"
    call = slack.wait_for("response_url")[0]
    assert call.body == {"text": "done", "response_type": "ephemeral"}
    assert call.path.startswith("/commands/")
    assert slack.response_url("actions").startswith(slack.base_url + "/actions/")


def test_wait_for_across_threads_and_timeout(slack: SlackStandIn, client: WebClient) -> None:
    worker = threading.Thread(
        target=lambda: [client.chat_postMessage(channel="C0DEALS", text=str(i)) for i in range(3)]
    )
    worker.start()
    calls = slack.wait_for("chat.postMessage", count=3, timeout=5)
    worker.join(timeout=5)
    assert len(calls) == 3
    with pytest.raises(AssertionError) as e:
        slack.wait_for("views.open", timeout=0.05)
    assert "chat.postMessage x3" in str(e.value)
    slack.reset_calls()
    assert slack.calls == []


def test_async_client_over_keep_alive(slack: SlackStandIn) -> None:
    async def run() -> list[str]:
        client = AsyncWebClient(token=TOKEN, base_url=slack.api_url, retry_handlers=[])
        async with aiohttp.ClientSession() as session:
            client.session = session
            await client.auth_test()
            user = await client.users_info(user="U0REP1", include_locale=True)
            dm = (await client.conversations_open(users="U0REP1"))["channel"]["id"]
            posts = await asyncio.gather(
                *(client.chat_postMessage(channel=dm, text=f"n{i}") for i in range(5))
            )
            assert user["user"]["locale"] == "de-DE"
            slack.fail_connection_next("chat.postMessage")
            with pytest.raises(aiohttp.ClientError):
                await client.chat_postMessage(channel=dm, text="lost")
            return [p["ts"] for p in posts]

    stamps = asyncio.run(run())
    assert len(set(stamps)) == 5
    assert slack.calls_to("conversations.open")[0].body == {"users": "U0REP1"}


# -- conversations.history and message metadata --------------------------------
# Shapes from Slack's conversations.history reference (messages newest first, has_more,
# pin_count, response_metadata.next_cursor) and its message metadata guide (metadata
# returned only with include_all_metadata; an invalid event_type is dropped with an
# `invalid_metadata_schema` warning).

META = {"event_type": "feedback_loop_nudge", "event_payload": {"key": "k1", "nudge_id": 7}}


def test_history_is_newest_first_and_pages_with_a_cursor(
    slack: SlackStandIn, client: WebClient
) -> None:
    dm = client.conversations_open(users="U0REP1")["channel"]["id"]
    posted = [client.chat_postMessage(channel=dm, text=f"m{i}")["ts"] for i in range(5)]
    first = client.conversations_history(channel=dm, limit=2)
    assert [m["text"] for m in first["messages"]] == ["m4", "m3"]
    assert first["has_more"] is True and first["pin_count"] == 0
    cursor = first["response_metadata"]["next_cursor"]
    assert cursor
    second = client.conversations_history(channel=dm, limit=2, cursor=cursor)
    third = client.conversations_history(
        channel=dm, limit=2, cursor=second["response_metadata"]["next_cursor"]
    )
    assert [m["text"] for m in second["messages"] + third["messages"]] == ["m2", "m1", "m0"]
    assert third["has_more"] is False and third["response_metadata"]["next_cursor"] == ""
    message = first["messages"][0]
    assert (message["ts"], message["bot_id"], message["app_id"]) == (
        posted[4],
        "B0FEEDBOT",
        "A0FEEDLOOP",
    )
    # oldest/latest are exclusive unless inclusive is set.
    window = client.conversations_history(channel=dm, oldest=posted[1], latest=posted[3])
    assert [m["text"] for m in window["messages"]] == ["m2"]
    closed = client.conversations_history(
        channel=dm, oldest=posted[1], latest=posted[3], inclusive=True
    )
    assert [m["text"] for m in closed["messages"]] == ["m3", "m2", "m1"]


def test_history_shows_metadata_only_when_asked(slack: SlackStandIn, client: WebClient) -> None:
    client.chat_postMessage(channel="U0REP1", text="with metadata", metadata=META)
    dm = slack.dm_channel("U0REP1")
    [plain_read] = client.conversations_history(channel=dm)["messages"]
    assert "metadata" not in plain_read
    [full] = client.conversations_history(channel=dm, include_all_metadata=True)["messages"]
    assert full["metadata"] == META


def test_invalid_metadata_is_dropped_with_slacks_warning(
    slack: SlackStandIn, client: WebClient
) -> None:
    bad = {"event_type": "feedback.loop", "event_payload": {"key": "k"}}
    resp = client.chat_postMessage(channel="C0DEALS", text="hi", metadata=bad)
    assert resp["ok"] is True and resp["warning"] == "invalid_metadata_schema"
    [message] = slack.messages("C0DEALS")
    assert "metadata" not in message


def test_history_leaves_out_thread_replies_and_keeps_peoples_messages(
    slack: SlackStandIn, client: WebClient
) -> None:
    root = client.chat_postMessage(channel="C0DEALS", text="root")["ts"]
    client.chat_postMessage(channel="C0DEALS", text="reply", thread_ts=root)
    slack.post_as_user("U0REP1", "C0DEALS", "a person")
    texts = [m["text"] for m in client.conversations_history(channel="C0DEALS")["messages"]]
    assert texts == ["a person", "root"]


def test_history_errors(slack: SlackStandIn, client: WebClient) -> None:
    with pytest.raises(SlackApiError) as missing:
        client.conversations_history(channel="C0NOPE")
    assert error_of(missing) == "channel_not_found"
    client.chat_postMessage(channel="U0REP1", text="hi")
    slack.scopes = "chat:write,im:write"
    with pytest.raises(SlackApiError) as scope:
        client.conversations_history(channel=slack.dm_channel("U0REP1"))
    assert error_of(scope) == "missing_scope"
    assert scope.value.response["needed"] == "im:history"


def test_a_500_before_posting_stores_nothing_and_after_posting_stores_it(
    slack: SlackStandIn, client: WebClient
) -> None:
    slack.fail_next("chat.postMessage", status=500)
    slack.fail_next("chat.postMessage", status=500, after_processing=True)
    for text in ("before", "after"):
        with pytest.raises(SlackApiError):
            client.chat_postMessage(channel="U0REP1", text=text, metadata=META)
    read = client.conversations_history(
        channel=slack.dm_channel("U0REP1"), include_all_metadata=True
    )
    assert [(m["text"], m["metadata"]) for m in read["messages"]] == [("after", META)]


def test_follow_clock_stamps_ts_by_that_clock(slack: SlackStandIn, client: WebClient) -> None:
    slack.follow_clock(lambda: 1_800_000_000.5)
    a = client.chat_postMessage(channel="C0DEALS", text="a")["ts"]
    b = client.chat_postMessage(channel="C0DEALS", text="b")["ts"]
    # The same instant twice still gives two distinct, rising ts.
    assert (a, b) == ("1800000000.500000", "1800000000.500001")


def test_a_workflow_step_is_completed_once_and_only_with_its_own_token(
    slack: SlackStandIn, client: WebClient
) -> None:
    token = slack.function_token("Fx0001")
    other = slack.function_token("Fx0002")
    step = WebClient(token=token, base_url=slack.api_url)
    with pytest.raises(SlackApiError) as e:
        client.functions_completeSuccess(function_execution_id="Fx0001", outputs={})
    assert error_of(e) == "invalid_auth"  # the bot token does not complete a step
    with pytest.raises(SlackApiError) as e:
        WebClient(token=other, base_url=slack.api_url).functions_completeError(
            function_execution_id="Fx0001", error="no"
        )
    assert error_of(e) == "invalid_auth"  # nor another run's token
    step.functions_completeSuccess(function_execution_id="Fx0001", outputs={"deal_id": "7"})
    assert slack.function_results["Fx0001"] == [{"ok": True, "outputs": {"deal_id": "7"}}]
    with pytest.raises(SlackApiError) as e:
        step.functions_completeError(function_execution_id="Fx0001", error="late")
    assert error_of(e) == "function_execution_already_completed"


# -- the stories channel's methods (shapes and errors from Slack's method references) ----


def test_reactions_add_once_per_name_and_its_errors(slack: SlackStandIn, client: WebClient) -> None:
    ts = slack.post_as_user("U0REP1", "C0DEALS", "a story")
    assert client.reactions_add(channel="C0DEALS", timestamp=ts, name="sparkles").data == {
        "ok": True
    }
    [message] = [m for m in slack.messages("C0DEALS") if m["ts"] == ts]
    assert message["reactions"] == [{"name": "sparkles", "users": [slack.bot_user_id], "count": 1}]
    for kwargs, error in [
        ({"channel": "C0DEALS", "timestamp": ts, "name": "sparkles"}, "already_reacted"),
        ({"channel": "C0DEALS", "timestamp": "1.000001", "name": "tada"}, "message_not_found"),
        ({"channel": "C0NOPE", "timestamp": ts, "name": "tada"}, "channel_not_found"),
        ({"channel": "C0DEALS", "timestamp": ts, "name": ""}, "invalid_name"),
    ]:
        with pytest.raises(SlackApiError) as e:
            client.reactions_add(**kwargs)
        assert error_of(e) == error
    slack.add_channel("C0OUT", "elsewhere", is_member=False)
    out_ts = slack.post_as_user("U0REP1", "C0OUT", "hi")
    with pytest.raises(SlackApiError) as e:
        client.reactions_add(channel="C0OUT", timestamp=out_ts, name="tada")
    assert error_of(e) == "not_in_channel"


def test_get_permalink_names_the_thread_of_a_reply(slack: SlackStandIn, client: WebClient) -> None:
    root = client.chat_postMessage(channel="C0DEALS", text="the week's thread")["ts"]
    reply = client.chat_postMessage(channel="C0DEALS", text="a story", thread_ts=root)["ts"]
    link = client.chat_getPermalink(channel="C0DEALS", message_ts=root).data
    archive = f"https://{slack.team_domain}.slack.com/archives/C0DEALS"
    assert link == {
        "ok": True,
        "channel": "C0DEALS",
        "permalink": f"{archive}/p{root.replace('.', '')}",
    }
    threaded = client.chat_getPermalink(channel="C0DEALS", message_ts=reply)["permalink"]
    assert threaded.endswith(f"?thread_ts={root}&cid=C0DEALS")
    with pytest.raises(SlackApiError) as e:
        client.chat_getPermalink(channel="C0DEALS", message_ts="1.000001")
    assert error_of(e) == "message_not_found"


def test_conversations_join_public_only(slack: SlackStandIn, client: WebClient) -> None:
    slack.add_channel("C0STORIES", "stories", is_member=False)
    slack.add_channel("G0PRIV", "private", is_private=True, is_member=False)
    with pytest.raises(SlackApiError) as e:
        client.chat_postMessage(channel="C0STORIES", text="hi")
    assert error_of(e) == "not_in_channel"
    joined = client.conversations_join(channel="C0STORIES").data
    assert joined["ok"] and joined["channel"]["id"] == "C0STORIES" and "warning" not in joined
    assert client.conversations_join(channel="C0STORIES")["warning"] == "already_in_channel"
    client.chat_postMessage(channel="C0STORIES", text="now I can")
    with pytest.raises(SlackApiError) as e:
        client.conversations_join(channel="G0PRIV")
    assert error_of(e) == "method_not_supported_for_channel_type"
    with pytest.raises(SlackApiError) as e:
        client.conversations_join(channel="C0NOPE")
    assert error_of(e) == "channel_not_found"


def test_conversations_list_pages_through_channels(slack: SlackStandIn, client: WebClient) -> None:
    for n in range(5):
        slack.add_channel(f"C0LIST{n}", f"list-{n}")
    names: list[str] = []
    cursor = None
    while True:
        page = client.conversations_list(types="public_channel", limit=2, cursor=cursor)
        names += [c["name"] for c in page["channels"]]
        cursor = page["response_metadata"]["next_cursor"] or None
        if cursor is None:
            break
    assert sorted(names) == sorted(["deals", *(f"list-{n}" for n in range(5))])


def test_stories_scopes_are_checked(client: WebClient) -> None:
    with SlackStandIn(scopes="chat:write") as narrow:
        narrow.add_channel("C0X", "x")
        ts = narrow.post_as_user("U0X", "C0X", "story")
        c = WebClient(token=TOKEN, base_url=narrow.api_url)
        with pytest.raises(SlackApiError) as e:
            c.reactions_add(channel="C0X", timestamp=ts, name="tada")
        assert error_of(e) == "missing_scope"
