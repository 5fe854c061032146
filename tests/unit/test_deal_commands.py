"""What people type after /loop, in any of our languages (bot/deals/commands.py): outcomes,
snooze lengths and the closest account to a typo. The words are the deal words' files."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from bot.deals.commands import TOMORROW, closest_account, command_outcome, snooze_length
from bot.deals.parser import use_deal_words


@pytest.mark.parametrize(
    ("args", "found"),
    [
        ("won Acme", ("won", "Acme")),
        ("win Acme", ("won", "Acme")),
        ("no decision Acme Corp", ("no_decision", "Acme Corp")),
        ("no-decision Acme", ("no_decision", "Acme")),
        ("No_Decision Acme", ("no_decision", "Acme")),
        ("nd Acme", ("no_decision", "Acme")),
        ("closed lost Acme", ("lost", "Acme")),
        ("perdido Acme", ("lost", "Acme")),
        ("perdida Acme", ("lost", "Acme")),
        ("ganado Peña SL", ("won", "Peña SL")),
        ("sin decisión Acme", ("no_decision", "Acme")),
        ("sin decision Acme", ("no_decision", "Acme")),
        ("cerrada perdida Acme", ("lost", "Acme")),
        ("perdu Lefèvre", ("lost", "Lefèvre")),
        ("gagné Acme", ("won", "Acme")),
        ("gagnee Acme", ("won", "Acme")),
        ("sans décision Acme", ("no_decision", "Acme")),
        ("pas de décision Acme", ("no_decision", "Acme")),
        ("won Won Industries", ("won", "Won Industries")),
        ("lost No Decision Corp", ("lost", "No Decision Corp")),
    ],
)
def test_the_outcome_is_read_in_any_language(args: str, found: tuple[str, str]) -> None:
    assert command_outcome(args) == found


@pytest.mark.parametrize("args", ["", "maybe Acme", "proposal Acme", "no Acme", "Acme won"])
def test_anything_else_is_no_outcome(args: str) -> None:
    assert command_outcome(args) is None


@pytest.mark.parametrize(
    ("word", "length"),
    [
        ("2h", timedelta(hours=2)),
        ("30m", timedelta(minutes=30)),
        ("30 min", timedelta(minutes=30)),
        ("2d", timedelta(days=2)),
        ("3 days", timedelta(days=3)),
        ("3 días", timedelta(days=3)),
        ("3 dias", timedelta(days=3)),
        ("3d", timedelta(days=3)),
        ("3j", timedelta(days=3)),
        ("3 jours", timedelta(days=3)),
        ("2 heures", timedelta(hours=2)),
        ("1 hora", timedelta(hours=1)),
        ("1w", timedelta(weeks=1)),
        ("1 semana", timedelta(weeks=1)),
        ("2 semaines", timedelta(weeks=2)),
        ("1sem", timedelta(weeks=1)),
        ("3J", timedelta(days=3)),
    ],
)
def test_snooze_lengths_in_any_language(word: str, length: timedelta) -> None:
    assert snooze_length(word) == length


@pytest.mark.parametrize("word", ["tomorrow", "mañana", "manana", "demain", "Demain"])
def test_tomorrow_in_any_language(word: str) -> None:
    assert snooze_length(word) == TOMORROW


@pytest.mark.parametrize("word", ["", "0d", "3", "3x", "d3", "-2h", "three days", "3 lunes"])
def test_what_is_not_a_length(word: str) -> None:
    assert snooze_length(word) is None


def test_a_teams_word_file_adds_command_words(tmp_path: Path) -> None:
    (tmp_path / "de.toml").write_text(
        '[commands]\nlost = ["verloren"]\ndays = ["tag", "tage"]\ntomorrow = ["morgen"]\n',
        encoding="utf-8",
    )
    try:
        use_deal_words(tmp_path)
        assert command_outcome("verloren Acme") == ("lost", "Acme")
        assert snooze_length("3 Tage") == timedelta(days=3)
        assert snooze_length("morgen") == TOMORROW
    finally:
        use_deal_words(None)
    assert command_outcome("verloren Acme") is None


@pytest.mark.parametrize(
    ("typed", "accounts", "guess"),
    [
        ("Globexx", ["Acme", "Globex", "Initech"], "Globex"),
        ("globex", ["Globex"], "Globex"),
        ("Intech", ["Initech", "Acme"], "Initech"),
        ("Acme Cop", ["Acme Corp", "Acme Widgets"], "Acme Corp"),
        ("Pena", ["Peña"], "Peña"),
        ("Hooli", ["Acme", "Globex"], None),
        ("Globex", [], None),
    ],
)
def test_the_closest_account(typed: str, accounts: list[str], guess: str | None) -> None:
    assert closest_account(typed, accounts) == guess
