"""Who manages whom: `/loop team` for admins in Slack, `feedback-loop import-team` for
a whole team from a CSV file."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import Session, select

from bot.cli import main
from bot.devkit.standin import SlackStandIn
from storage.db import make_engine
from storage.models import Person
from tests.conftest import ADMIN, MANAGER, REP, REP2, RunningBot

TEAM = "T0001"


def manager_of(engine: object, rep: str) -> str | None:
    with Session(engine) as s:  # type: ignore[arg-type]
        person = s.exec(select(Person).where(Person.slack_id == rep)).first()
        return person.manager_slack_id if person else None


def team(bot: RunningBot, args: str, *, user: str = ADMIN) -> str:
    """The ephemeral answer, from the ack or (after Slack lookups) the response_url."""
    before = len(bot.standin.calls_to("response_url"))
    resp = bot.send(bot.slack.slash_command(f"team {args}".strip(), user=user))
    assert resp.status == 200
    body = resp.json()
    if body:
        assert body["response_type"] == "ephemeral"
        return str(body["text"])
    calls = bot.standin.calls_to("response_url")
    assert len(calls) == before + 1
    assert calls[-1].body["response_type"] == "ephemeral"
    return str(calls[-1].body["text"])


def test_admin_sets_a_reps_manager(bot: RunningBot) -> None:
    text = team(bot, f"<@{REP2}|sam> manager <@{MANAGER}|maya>")
    assert text == f"Done: <@{MANAGER}> is now <@{REP2}>'s manager."
    assert manager_of(bot.rt.engine, REP2) == MANAGER


def test_a_rep_who_is_not_an_admin_cannot_set_managers(bot: RunningBot) -> None:
    text = team(bot, f"<@{REP2}|sam> manager <@{REP}|rita>", user=REP)
    assert text == bot.rt.catalog.text("en", "errors.admin_only")
    assert manager_of(bot.rt.engine, REP2) is None


def test_team_alone_lists_who_manages_whom(bot: RunningBot) -> None:
    assert "No managers are set yet" in team(bot, "", user=REP)
    team(bot, f"<@{REP}|rita> manager <@{MANAGER}|maya>")
    team(bot, f"<@{REP2}|sam> manager <@{MANAGER}|maya>")
    listing = team(bot, "", user=REP)
    assert f"<@{REP}> → <@{MANAGER}>" in listing and f"<@{REP2}> → <@{MANAGER}>" in listing


def test_manager_none_clears_it(bot: RunningBot) -> None:
    team(bot, f"<@{REP}|rita> manager <@{MANAGER}|maya>")
    assert (
        team(bot, f"<@{REP}|rita> manager none") == f"Done: <@{REP}> no longer has a manager set."
    )
    assert manager_of(bot.rt.engine, REP) is None


@pytest.mark.parametrize(
    "args, expected",
    [
        ("rita manager maya", "/loop team @rep manager @manager"),
        (f"<@{REP}|rita> boss <@{MANAGER}|maya>", "/loop team @rep manager none"),
        (f"<@{REP}|rita> manager <@{REP}|rita>", "can't be their own manager"),
    ],
)
def test_wrong_team_commands_say_what_to_type(bot: RunningBot, args: str, expected: str) -> None:
    assert expected in team(bot, args)
    assert manager_of(bot.rt.engine, REP) is None


def test_an_unknown_user_is_named_in_the_error(bot: RunningBot) -> None:
    text = team(bot, f"<@{REP}|rita> manager <@U0NOBODY|ghost>")
    assert "I can't find <@U0NOBODY>" in text
    assert manager_of(bot.rt.engine, REP) is None


# --- feedback-loop import-team ------------------------------------------------------------


@pytest.fixture
def cli_env(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, standin: SlackStandIn, sqlite_url: str
) -> str:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SLACK_BOT_TOKEN", standin.token)
    monkeypatch.setenv("SLACK_API_URL", standin.api_url)
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    monkeypatch.delenv("SLACK_APP_TOKEN", raising=False)
    return sqlite_url


def write_csv(tmp_path: Path, text: str) -> str:
    path = tmp_path / "team.csv"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_import_team_sets_managers_by_id_and_email(
    cli_env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_csv(tmp_path, f"rep,manager\nrita@acme.test,maya@acme.test\n{REP2},{MANAGER}\n")
    assert main(["import-team", path]) == 0
    out = capsys.readouterr().out
    assert f"line 2: rita ({REP}) -> manager maya ({MANAGER})" in out
    assert f"line 3: sam ({REP2}) -> manager maya ({MANAGER})" in out
    engine = make_engine(cli_env)
    assert manager_of(engine, REP) == MANAGER and manager_of(engine, REP2) == MANAGER
    with Session(engine) as s:
        sam = s.exec(select(Person).where(Person.slack_id == REP2)).one()
    assert (sam.team_id, sam.locale, sam.tz) == (TEAM, "es-ES", "Europe/Madrid")
    engine.dispose()


def test_import_team_clears_a_manager_with_none(
    cli_env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["import-team", write_csv(tmp_path, f"rep,manager\n{REP},{MANAGER}\n")]) == 0
    assert main(["import-team", write_csv(tmp_path, f"manager,rep\nnone,{REP}\n")]) == 0
    assert f"line 2: rita ({REP}) -> no manager" in capsys.readouterr().out
    engine = make_engine(cli_env)
    assert manager_of(engine, REP) is None
    engine.dispose()


def test_import_team_with_a_bad_line_imports_nothing_and_names_the_line(
    cli_env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_csv(
        tmp_path,
        f"rep,manager\n{REP},{MANAGER}\nnobody@acme.test,{MANAGER}\n\n{REP2},{REP2}\n"
        f"rita,{MANAGER}\n",
    )
    assert main(["import-team", path]) == 1
    err = capsys.readouterr().err
    assert "line 3: rep: no Slack user 'nobody@acme.test'" in err
    assert "line 5: a rep can't be their own manager" in err
    assert "line 6: rep: 'rita' is neither a Slack user ID" in err
    assert "nothing was imported" in err
    engine = make_engine(cli_env)
    assert manager_of(engine, REP) is None
    engine.dispose()


def test_import_team_without_the_header_says_what_is_expected(
    cli_env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_csv(tmp_path, f"{REP},{MANAGER}\n")
    assert main(["import-team", path]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "line 1: expected the header 'rep,manager'" in err
