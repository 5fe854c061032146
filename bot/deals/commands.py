"""The words a person types after `/loop`, in any of our languages: the outcome of
`/loop deal` ("won", "perdida", "gagné", "no decision", "sin decisión") and the time of
`/loop snooze` ("2h", "3d", "3j", "3 días", "1 semaine", "tomorrow", "mañana", "demain").

The words are the deal parser's vocabulary (bot/deals/words/*.toml, plus a team's
DEAL_WORDS_DIR): a CRM stage name ("Closed Lost", "Cerrada perdida") is read the same in a
channel post and in a command, and one file holds a language's words. Matching ignores
case and accents, and a space matches "-", "_" or "/" ("no-decision", "sin_decision").
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from bot.deals.parser import current_words
from bot.deals.vocabulary import DealWords

__all__ = ["TOMORROW", "closest_account", "command_outcome", "snooze_length"]

CommandOutcome = Literal["won", "lost", "no_decision"]
TOMORROW: Literal["tomorrow"] = "tomorrow"
# The longest outcome phrase a command may open with, in words ("closed lost no decision").
_MAX_WORDS = 5
_GAPS = re.compile(r"[\s\-_/]+")
_AMOUNT_AND_UNIT = re.compile(r"^(?P<n>\d{1,4})\s*(?P<unit>[^\d\s].*)$")
_UNITS = ("minutes", "hours", "days", "weeks")


def _fold(text: str) -> str:
    """Lower case, no accents, any run of spaces/-/_// as one space."""
    plain = unicodedata.normalize("NFKD", text.strip().lower())
    plain = "".join(ch for ch in plain if not unicodedata.combining(ch))
    return _GAPS.sub(" ", plain).strip(" .:!")


@dataclass(frozen=True)
class _Lookups:
    outcomes: dict[str, CommandOutcome]
    units: dict[str, str]
    tomorrow: frozenset[str]


def _build(words: DealWords) -> _Lookups:
    outcomes: dict[str, CommandOutcome] = {}
    for outcome in ("won", "lost", "no_decision"):
        for table in ("commands", "stages"):
            for phrase in words.get(table, outcome):
                outcomes.setdefault(_fold(phrase), outcome)
    return _Lookups(
        outcomes=outcomes,
        units={_fold(p): unit for unit in _UNITS for p in words.get("commands", unit)},
        tomorrow=frozenset(_fold(p) for p in words.get("commands", "tomorrow")),
    )


# Built once per set of words (a team's DEAL_WORDS_DIR replaces the set at start-up).
_BUILT: list[tuple[DealWords, _Lookups]] = []


def _lookups() -> _Lookups:
    words = current_words()
    if not _BUILT or _BUILT[0][0] is not words:
        _BUILT[:] = [(words, _build(words))]
    return _BUILT[0][1]


def command_outcome(args: str) -> tuple[CommandOutcome, str] | None:
    """The outcome `args` opens with and the words after it, the longest phrase first:
    "no decision Acme" -> ("no_decision", "Acme"), "perdu Acme" -> ("lost", "Acme")."""
    tokens = args.split()
    outcomes = _lookups().outcomes
    for n in range(min(len(tokens), _MAX_WORDS), 0, -1):
        outcome = outcomes.get(_fold(" ".join(tokens[:n])))
        if outcome is not None:
            return outcome, " ".join(tokens[n:])
    return None


def snooze_length(text: str) -> timedelta | Literal["tomorrow"] | None:
    """ "2h", "30 min", "3d", "3j", "3 días", "1 semaine" -> a length; "tomorrow",
    "mañana", "demain" -> TOMORROW (the caller knows the person's morning); else None."""
    lookups = _lookups()
    folded = _fold(text)
    if folded in lookups.tomorrow:
        return TOMORROW
    m = _AMOUNT_AND_UNIT.match(folded)
    if m is None or not text.strip()[:1].isdigit():  # "-2h" is no length
        return None
    unit = lookups.units.get(m["unit"].strip())
    n = int(m["n"])
    if unit is None or n <= 0:
        return None
    return timedelta(**{unit: n})


# How alike two names must be (difflib's ratio) to offer one for the other: "Globexx" and
# "Globex" are 0.92, "Initech" and "Intech" 0.92, "Acme" and "Hooli" 0.
_CLOSE_ENOUGH = 0.75


def closest_account(typed: str, accounts: list[str]) -> str | None:
    """The one of `accounts` most like what was typed ("Globexx" -> "Globex"), ignoring case
    and accents, or None when none is close enough to offer."""
    if not accounts:
        return None
    by_folded = {_fold(name): name for name in reversed(accounts)}  # the first one wins
    found = difflib.get_close_matches(_fold(typed), list(by_folded), n=1, cutoff=_CLOSE_ENOUGH)
    return by_folded[found[0]] if found else None
