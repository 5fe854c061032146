"""manifest.yml matches what the code uses: scopes for every Web API method we call,
events for every listener, the /loop command, interactivity and App Home."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
MANIFEST: dict[str, Any] = yaml.safe_load((ROOT / "manifest.yml").read_text())

# Web API method -> the bot scope it needs.
SCOPE_FOR = {
    "chat_postMessage": "chat:write",
    "chat_update": "chat:write",
    "chat_postEphemeral": "chat:write",
    "conversations_open": "im:write",
    "conversations_history": "im:history",
    "conversations_info": "channels:read",
    "users_info": "users:read",
    "users_lookupByEmail": "users:read.email",
    "dnd_info": "dnd:read",
    "files_upload_v2": "files:write",
}
EVENT_SUBSCRIPTIONS = {
    "message": {"message.channels", "message.groups"},
    "app_home_opened": {"app_home_opened"},
}


def _source() -> str:
    files = [*ROOT.joinpath("bot").rglob("*.py"), *ROOT.joinpath("handlers").rglob("*.py")]
    # The devkit (stand-in, request factory, demo) is not the bot: what it calls is not
    # what the bot needs scopes for.
    devkit = ROOT.joinpath("bot", "devkit")
    return "\n".join(f.read_text() for f in files if devkit not in f.parents)


def test_display_information_is_within_slack_limits() -> None:
    info = MANIFEST["display_information"]
    assert 1 <= len(info["name"]) <= 35
    assert 1 <= len(info["description"]) <= 140
    assert 175 <= len(info["long_description"]) <= 4000
    assert MANIFEST["features"]["bot_user"]["display_name"]


def test_every_web_api_method_we_call_has_its_scope() -> None:
    scopes = set(MANIFEST["oauth_config"]["scopes"]["bot"])
    called = set(re.findall(r"\.(\w+_\w+)\(", _source())) & set(SCOPE_FOR)
    assert called, "expected to find Web API calls in the code"
    missing = {m: SCOPE_FOR[m] for m in called if SCOPE_FOR[m] not in scopes}
    assert not missing


def test_every_event_we_listen_to_is_subscribed() -> None:
    subscribed = set(MANIFEST["settings"]["event_subscriptions"]["bot_events"])
    # `@app.event("x")` on a listener, or `app.event("x")(listener)` in a register().
    listened = set(re.findall(r'\bapp\.event\(\s*"(\w+)"', _source()))
    for event in listened:
        assert EVENT_SUBSCRIPTIONS.get(event, {event}) <= subscribed, event
    history = {"message.channels": "channels:history", "message.groups": "groups:history"}
    scopes = set(MANIFEST["oauth_config"]["scopes"]["bot"])
    assert all(history[e] in scopes for e in subscribed if e in history)


def test_loop_command_interactivity_home_and_socket_mode() -> None:
    [command] = MANIFEST["features"]["slash_commands"]
    assert command["command"] == "/loop" and command["should_escape"] is True
    assert "commands" in MANIFEST["oauth_config"]["scopes"]["bot"]
    assert MANIFEST["settings"]["interactivity"]["is_enabled"] is True
    assert MANIFEST["features"]["app_home"]["home_tab_enabled"] is True
    assert MANIFEST["settings"]["socket_mode_enabled"] is True


def test_no_scope_is_requested_without_a_reason_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    for scope in MANIFEST["oauth_config"]["scopes"]["bot"]:
        assert f"`{scope}`" in readme, f"README does not say why we need {scope}"
