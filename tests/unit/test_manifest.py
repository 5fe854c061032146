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
    "reactions_add": "reactions:write",
    "conversations_join": "channels:join",
    "conversations_list": "channels:read",
    "chat_delete": "chat:write",
    "files_upload_v2": "files:write",
}
# Methods that need no scope of their own: views answer a trigger or the App Home event,
# and a workflow step is completed (functions.completeSuccess / completeError, through
# Bolt's complete() and fail()) with the execution's own token.
# chat.getPermalink needs no scope (Slack's method reference lists none).
NO_SCOPE = {
    "auth_test",
    "chat_getPermalink",
    "views_open",
    "views_update",
    "views_publish",
    "views_push",
}
EVENT_SUBSCRIPTIONS = {
    "message": {"message.channels", "message.groups"},
    "app_home_opened": {"app_home_opened"},
    "function_executed": {"function_executed"},
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


def test_every_web_api_method_we_call_is_known_here() -> None:
    """A method the code starts calling must be added to SCOPE_FOR or NO_SCOPE, so its
    scope is decided, not forgotten."""
    called = set(re.findall(r"client\.(\w+_\w+)\(", _source()))
    assert {"users_lookupByEmail", "views_open", "views_update"} <= called
    assert called <= set(SCOPE_FOR) | NO_SCOPE, called - set(SCOPE_FOR) - NO_SCOPE


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


def _registered(kind: str) -> set[str]:
    """Callback ids registered with `app.<kind>(ids.NAME)` or `app.<kind>("literal")`."""
    from bot.slack import ids

    source = _source()
    names = re.findall(rf"\bapp\.{kind}\(\s*ids\.(\w+)", source)
    literals = re.findall(rf'\bapp\.{kind}\(\s*"([^"]+)"', source)
    return {getattr(ids, n) for n in names} | set(literals)


def test_every_shortcut_we_listen_to_is_in_the_manifest() -> None:
    declared = {s["callback_id"]: s for s in MANIFEST["features"].get("shortcuts", [])}
    listened = _registered("shortcut")
    assert listened, "expected the deal shortcuts"
    assert listened == set(declared)
    for shortcut in declared.values():
        assert shortcut["type"] in ("message", "global")
        assert 1 <= len(shortcut["name"]) <= 24 and 1 <= len(shortcut["description"]) <= 150
    assert "commands" in MANIFEST["oauth_config"]["scopes"]["bot"]  # shortcuts need it


def test_every_workflow_step_is_declared_with_the_inputs_and_outputs_the_code_uses() -> None:
    functions = MANIFEST.get("functions") or {}
    listened = _registered("function")
    assert listened and listened == set(functions)
    settings = MANIFEST["settings"]
    # Custom steps need an org-ready app, run by our own code, told by function_executed.
    assert settings["org_deploy_enabled"] is True
    assert settings["function_runtime"] == "remote"
    assert "function_executed" in settings["event_subscriptions"]["bot_events"]
    step = (ROOT / "handlers" / "deal_step.py").read_text()
    read = set(re.findall(r'inputs\.get\(\s*"(\w+)"', step))
    written = set(re.findall(r'outputs=\{"(\w+)":[^,]+, "(\w+)"', step)[0])
    for spec in functions.values():
        inputs = spec["input_parameters"]["properties"]
        assert read == set(inputs), "the step reads exactly the inputs it declares"
        assert set(spec["input_parameters"]["required"]) <= set(inputs)
        assert written == set(spec["output_parameters"]["properties"])
        assert set(spec["output_parameters"]["required"]) == written
        assert inputs["rep"]["type"] == "slack#/types/user_id"


def test_the_install_flow_asks_for_the_manifests_bot_scopes() -> None:
    from bot.slack.install import BOT_SCOPES

    assert sorted(BOT_SCOPES) == sorted(MANIFEST["oauth_config"]["scopes"]["bot"])
