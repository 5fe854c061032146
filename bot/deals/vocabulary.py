"""The deal parser's vocabulary: one TOML file per language, so a language or a team's own
CRM words are a file, not code.

The shipped files are ``bot/deals/words/{en,es,fr}.toml``. A team adds its own with the
``DEAL_WORDS_DIR`` setting: every ``*.toml`` in that folder is read after the shipped ones.
A file named like a shipped one (``en.toml``) replaces it; any other name (``acme.toml``,
``de.toml``) adds its words to all the others.

File format
===========

Every value is a list of phrases. Matching ignores case; a space inside a phrase matches
any run of spaces, "-", "_" or "/"; an accented letter also matches its plain form ("é"
matches "e"), so "Fermée gagnée" and "fermee-gagnee" read alike. Every table and key is
optional; a key not listed below is an error (a typo would otherwise be silently ignored)::

    [stages]             # CRM stage names, by outcome
    won = [...]          # count in a stage field ("Stage: Won"), after a move verb
    lost = [...]         # ("moved to Won") or after an arrow ("Negotiation → Won")
    no_decision = [...]
    proposal_sent = [...]  # the proposal is out: "Proposal Sent", HubSpot's "Contract sent"
    proposal_due = [...]   # moving INTO the proposal stage: "Proposal/Price Quote"
    closed_won = [...]   # unambiguous names that count anywhere on a line:
    closed_lost = [...]  # "Cerrado ganado: Acme", "Fermé gagné : Acme"
    closed_no_decision = [...]
    open = [...]         # stages still open: before an arrow they are the old stage

    [labels]             # field labels, "Label: value" (also a Block Kit field's bold title)
    stage = [...]        # the value is a stage: "Etapa", "Phase de la transaction"
    previous_stage = [...]   # the old side of a change: "From", "Etapa anterior"
    account = [...]      # the value is the account: "Deal", "Negocio", "Société"
    owner = [...]        # the value is the rep, an e-mail or a mention: "Propriétaire"
    amount = [...]       # the value is the amount: "Importe", "Montant"

    [verbs]
    move = [...]         # MOVE [≤ 4 words] MOVE_TO STAGE: "pasó a Cerrada perdida"
    move_to = [...]
    won = [...]          # followed by the account: "ganamos", "on a signé avec", "just closed"
    lost = [...]         # followed by the account: "perdimos", "on a perdu"
    lost_lead = [...]    # first word of a line, then the account: "Lost Acme."
    no_decision = [...]  # followed by the account: "No decision on", "Pas de décision chez"

    [statements]         # an outcome said on its own; the account is found around it
    won = [...]          # "Negocio ganado", "Affaire gagnée", "New Deal Closed"
    lost = [...]
    no_decision = [...]
    proposal_sent = [...]  # "Propuesta enviada", "Proposition envoyée"
    proposal_due = [...]   # about to go out: "Proposal drafted", "Propuesta preparada"

    [reasons]
    lost_after = [...]   # after "ACCOUNT —": "lost on price", "perdu sur le prix"
    lost = [...]         # a loss reason said alone: "went with a cheaper tool"
    no_decision = [...]  # "went quiet", "ne répond plus" (used with [verbs] no_decision)

    [guards]
    hedges = [...]       # single words: in the 8 words before a match they void it
    report = [...]       # words after "closed won" that make it a report ("rate", "taux")

    [ask]                # needs_asking(): a person's post naming someone and one of
    outcome = [...]      # these words, that the rules could not read, is asked about...
    chatter = [...]      # ...unless one of these says it is about something else

    [commands]           # what people type after /loop (bot/deals/commands.py)
    won = [...]          # `/loop deal <outcome> <account>`, with the [stages] names:
    lost = [...]         # "win", "perdida", "perdu"
    no_decision = [...]  # "no decision", "sin decisión", "sans décision"
    tomorrow = [...]     # `/loop snooze tomorrow|mañana|demain`
    minutes = [...]      # `/loop snooze 30min`; the unit after a number: "3d", "3 días",
    hours = [...]        # "3j", "2 heures", "1 semana"
    days = [...]
    weeks = [...]
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

__all__ = ["SCHEMA", "DealWords", "DealWordsError", "load_deal_words"]

SCHEMA: dict[str, tuple[str, ...]] = {
    "stages": (
        "won",
        "lost",
        "no_decision",
        "proposal_sent",
        "proposal_due",
        "closed_won",
        "closed_lost",
        "closed_no_decision",
        "open",
    ),
    "labels": ("stage", "previous_stage", "account", "owner", "amount"),
    "verbs": ("move", "move_to", "won", "lost", "lost_lead", "no_decision"),
    "statements": ("won", "lost", "no_decision", "proposal_sent", "proposal_due"),
    "reasons": ("lost_after", "lost", "no_decision"),
    "guards": ("hedges", "report"),
    "ask": ("outcome", "chatter"),
    "commands": ("won", "lost", "no_decision", "tomorrow", "minutes", "hours", "days", "weeks"),
}
SHIPPED: tuple[str, ...] = ("en", "es", "fr")


class DealWordsError(Exception):
    """A word file is unreadable or malformed; the message names the file and the key."""


@dataclass(frozen=True)
class DealWords:
    """All languages' words merged: ``words["stages"]["won"]`` is one tuple of phrases."""

    words: dict[str, dict[str, tuple[str, ...]]] = field(default_factory=dict)
    files: tuple[str, ...] = ()

    def get(self, table: str, key: str) -> tuple[str, ...]:
        return self.words.get(table, {}).get(key, ())


def _read(name: str, text: str) -> dict[str, dict[str, list[str]]]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise DealWordsError(f"{name}: not valid TOML: {e}") from e
    out: dict[str, dict[str, list[str]]] = {}
    for table, keys in data.items():
        if table not in SCHEMA:
            known = ", ".join(SCHEMA)
            raise DealWordsError(f"{name}: unknown table [{table}] (known: {known})")
        if not isinstance(keys, dict):
            raise DealWordsError(f"{name}: [{table}] must be a table of lists")
        for key, value in keys.items():
            if key not in SCHEMA[table]:
                known = ", ".join(SCHEMA[table])
                raise DealWordsError(f"{name}: unknown key {table}.{key} (known: {known})")
            if not isinstance(value, list) or not all(
                isinstance(item, str) and item.strip() for item in value
            ):
                raise DealWordsError(f"{name}: {table}.{key} must be a list of non-empty strings")
            out.setdefault(table, {})[key] = [item.strip() for item in value]
    return out


def _shipped(lang: str) -> tuple[str, str]:
    source = resources.files("bot.deals").joinpath("words", f"{lang}.toml")
    return f"bot/deals/words/{lang}.toml", source.read_text(encoding="utf-8")


def load_deal_words(directory: Path | None = None) -> DealWords:
    """The shipped words, with a team's folder of ``*.toml`` files on top (see above)."""
    texts: dict[str, tuple[str, str]] = {lang: _shipped(lang) for lang in SHIPPED}
    if directory is not None:
        if not directory.is_dir():
            raise DealWordsError(f"{directory}: not a folder of deal word files")
        for path in sorted(directory.glob("*.toml")):
            try:
                texts[path.stem] = (str(path), path.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError) as e:
                raise DealWordsError(f"{path}: cannot read it: {e}") from e
    merged: dict[str, dict[str, list[str]]] = {}
    for name, text in texts.values():
        for table, keys in _read(name, text).items():
            for key, phrases in keys.items():
                bucket = merged.setdefault(table, {}).setdefault(key, [])
                bucket.extend(p for p in phrases if p not in bucket)
    frozen: dict[str, Any] = {
        table: {key: tuple(values) for key, values in keys.items()}
        for table, keys in merged.items()
    }
    return DealWords(words=frozen, files=tuple(name for name, _ in texts.values()))
