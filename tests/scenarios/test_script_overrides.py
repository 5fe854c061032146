"""An admin's script overrides, end to end: one changed line reaches the DM while every
other line stays shipped, and a malformed override stops `feedback-loop run` with one
line naming the file and the line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.cli import main
from bot.clock import FakeClock
from bot.devkit.standin import SlackStandIn
from bot.slack.people import load_person
from tests.conftest import REP, REP2, RunningBot, start_bot

CUSTOM = "_“Quick favour before I send it: if it's a no, can we do a 5-minute call?”_"


@pytest.fixture
def overrides(tmp_path: Path) -> Path:
    folder = tmp_path / "scripts"
    folder.mkdir()
    (folder / "en.toml").write_text(f'[teeup]\nscript = "{CUSTOM}"\n', encoding="utf-8")
    # Spanish overrides another key only: the Spanish tee-up stays as shipped.
    (folder / "es.toml").write_text('[help]\nheader = "Feedback Loop: ayuda"\n', encoding="utf-8")
    return folder


@pytest.fixture
def custom_bot(
    standin: SlackStandIn, clock: FakeClock, sqlite_url: str, overrides: Path
) -> Iterator[RunningBot]:
    running, stop = start_bot(standin, clock, sqlite_url, extra_env={"SCRIPTS_DIR": str(overrides)})
    yield running
    stop()


def dm_blocks(bot: RunningBot, user: str) -> str:
    [message] = bot.standin.messages(bot.standin.dm_channel(user))
    return json.dumps(message["blocks"], ensure_ascii=False)


def test_an_override_changes_one_line_of_a_dm_and_the_rest_stays_shipped(
    custom_bot: RunningBot,
) -> None:
    custom_bot.send(custom_bot.slack.slash_command("tee-up Acme Corp", user=REP))
    blocks = dm_blocks(custom_bot, REP)
    catalog = custom_bot.rt.catalog
    assert json.dumps(CUSTOM, ensure_ascii=False)[1:-1] in blocks
    assert catalog.shipped("en")["teeup.script"][:30] not in blocks
    shipped_intro = catalog.shipped("en")["teeup.intro"].format(account="Acme Corp")
    assert json.dumps(shipped_intro, ensure_ascii=False)[1:-1] in blocks


def test_a_key_missing_from_an_override_falls_back_to_the_shipped_text(
    custom_bot: RunningBot,
) -> None:
    # REP2 reads Spanish; es.toml overrides only the help header.
    # Their Slack locale is known once their profile is loaded (as after any first DM).
    custom_bot.run(load_person(custom_bot.rt, team_id="T0001", user_id=REP2))
    custom_bot.send(custom_bot.slack.slash_command("tee-up Globex", user=REP2))
    blocks = dm_blocks(custom_bot, REP2)
    spanish = custom_bot.rt.catalog.shipped("es")["teeup.script"]
    assert json.dumps(spanish, ensure_ascii=False)[1:-1] in blocks
    assert json.dumps(CUSTOM, ensure_ascii=False)[1:-1] not in blocks
    help_body = custom_bot.send(custom_bot.slack.slash_command("help", user=REP2)).json()
    assert "Feedback Loop: ayuda" in json.dumps(help_body["blocks"], ensure_ascii=False)


def test_run_with_a_malformed_override_exits_with_one_line_naming_file_and_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    folder = tmp_path / "scripts"
    folder.mkdir()
    bad = folder / "fr.toml"
    bad.write_text('[teeup]\nheader = "Avant la proposition\n', encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "secret")
    monkeypatch.setenv("SCRIPTS_DIR", str(folder))
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'fl.db'}")
    monkeypatch.delenv("SLACK_APP_TOKEN", raising=False)
    assert main(["run", "--http"]) != 0
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0, err
    assert str(bad) in err and "line 2" in err
