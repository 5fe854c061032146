"""Feedback-session prep: the opener / exchange / closer cheat sheet, and what we
already know about the account (last outcome and debrief, open concerns, tee-up)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.messages import Built, Texts, as_built, outcome_word, reasons
from bot.messages.blocks import Block, context, divider, header, section
from bot.messages.focus import escape
from bot.messages.manager import door_word


@dataclass(frozen=True)
class AccountKnowledge:
    """Plain values read from the database, so the builder needs no session."""

    outcome: str | None = None
    outcome_date: str = ""
    client: dict[str, Any] = field(default_factory=dict)  # a logged loss debrief
    win: dict[str, Any] = field(default_factory=dict)  # a logged win debrief
    concerns: Sequence[tuple[str, str]] = ()  # (concern, since date)
    teed_up: bool = False
    shared_by: str | None = None  # the teammate whose shared lesson this is

    @property
    def empty(self) -> bool:
        return not (self.outcome or self.client or self.win or self.concerns or self.teed_up)


def _text(value: Any) -> str:
    if isinstance(value, list | tuple):
        return "; ".join(str(v).strip() for v in value if str(v).strip())
    return str(value or "").strip()


def _bullets(value: Any) -> str:
    items = value if isinstance(value, list | tuple) else str(value or "").splitlines()
    return "\n".join(f"• {str(item).strip()}" for item in items if str(item).strip())


def _known_lines(t: Texts, account: str, known: AccountKnowledge) -> list[str]:
    parts: list[str] = []
    if known.outcome:
        word = outcome_word(t, known.outcome)
        parts.append(t("prep.know_outcome", outcome=word, date=known.outcome_date))
    if known.shared_by and (known.client or known.win):
        # Said before the lesson, so nobody mistakes a teammate's notes for their own.
        parts.append(t("privacy.shared_lesson", rep=f"<@{known.shared_by}>"))
    client = known.client
    # The kind of reason the client gave last time (and who they chose, for a competitor).
    kind = reasons.reason_text(t, client, key="reasons.prep_reason")
    if kind:
        parts.append(kind)
    for key, name in (("log.loop_missed", "missed"), ("log.loop_gap", "gap")):
        if _text(client.get(name)):
            parts.append(t(key, **{name: _text(client.get(name))}))
    if _bullets(client.get("takeaways")):
        parts.append(t("prep.know_takeaways") + "\n" + _bullets(client.get("takeaways")))
    # What a manager's (or colleague's) call left for next time: the call's other job is
    # to leave the door open, and whoever pitches the account next should know.
    if door_word(t, _text(client.get("door"))):
        parts.append(t("call.result_door", door=door_word(t, _text(client.get("door")))))
    if _text(client.get("next")):
        parts.append(t("call.result_next", next=_text(client.get("next"))))
    win = known.win
    said = _text(win.get("quote")) if win.get("quote_ok") else ""
    said = said or _text(win.get("why")) or _text(win.get("appealed"))
    if said:
        parts.append(t("prep.know_quotes") + f"\n> {said}")
    if known.concerns:
        lines = [
            t("concern.list_item", account=account, concern=concern, date=since)
            for concern, since in known.concerns
        ]
        parts.append(t("prep.know_concerns") + "\n" + "\n".join(lines))
    if known.teed_up:
        parts.append(t("prep.know_teeup", account=account))
    return parts


def prep_sheet(
    t: Texts,
    *,
    account: str,
    known: AccountKnowledge,
    quotes: str = "",
    focus: str | None = None,
    lessons: str = "",
) -> Built:
    """`quotes`: the "Quotes you could use" section (bot/messages/quotes.py), from any
    account, placed last. `focus`: the reader's practice focus, named in the exchange
    (seed 000: "I'm working on … and need your help")."""
    blocks: list[Block] = [
        header(t("prep.header", account=account)),
        section(t("prep.intro", account=account)),
        section(t("prep.opener")),
        # The articles' "I'm sorry" and "you've given me a lot to think about".
        section(t("prep.exchange") + "\n" + t("debrief.words.prep_exchange")),
        *([context(t("focus.prep_line", focus=escape(focus)))] if focus else []),
        section(t("prep.closer") + "\n" + t("debrief.words.prep_closer")),
        divider(),
        header(t("prep.know_header", account=account)),
    ]
    if known.outcome == "no_decision":
        # "Not now" last time: the visit is the moment to ask what has changed.
        blocks.insert(3, section(t("no_decision.script.prep_line")))
    if known.empty:
        blocks.append(section(t("prep.know_empty", account=account)))
    else:
        blocks.extend(section(part) for part in _known_lines(t, account, known))
    if lessons:
        # Teammates' shared lessons from a similar spot (bot/messages/lessons.py).
        blocks.append(section(lessons))
    if quotes:
        blocks.append(section(quotes))
    text = t("prep.header", account=account)
    return as_built(text, blocks)
