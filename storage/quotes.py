"""The quotes library: what clients said about us after a win, where they allowed us to
reuse it (the win log's permission box). Read from the win debriefs themselves, so an
edit, a withdrawn deal or `/loop forget-me` takes a quote out at once: there is no copy
to keep in step.

A quote the client allowed is the team's (the permission box says so); nothing else
of a win debrief ever leaves the rep through here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from storage.kinds import DealStatus, DebriefState, Ritual
from storage.models import Deal, RitualRun

TAG_MAX = 40
# The tags offered in the win log's select: the most used first (Slack allows 100).
TAGS_OFFERED = 25


@dataclass(frozen=True)
class Quote:
    deal_id: int
    account: str
    rep: str | None
    won_at: datetime | None
    tag: str
    text: str


def clean_tag(text: str) -> str:
    """One line; no backticks, since a tag is shown as `code`."""
    return " ".join(str(text or "").replace("`", "").split())[:TAG_MAX]


def _wins(session: Session, team_id: str) -> list[tuple[RitualRun, Deal]]:
    rows = session.exec(
        select(RitualRun, Deal)
        .join(Deal, col(Deal.id) == col(RitualRun.deal_id))
        .where(
            RitualRun.team_id == team_id,
            RitualRun.ritual == Ritual.WIN_DEBRIEF,
            RitualRun.state == DebriefState.LOGGED,
            Deal.outcome == "won",
            Deal.status != DealStatus.WITHDRAWN,
        )
        .order_by(col(Deal.created_at).desc(), col(Deal.id).desc())
    ).all()
    return [(run, deal) for run, deal in rows]


def _win(run: RitualRun) -> dict[str, Any]:
    win = (run.data or {}).get("win")
    return win if isinstance(win, dict) else {}


def allowed_quotes(*, session: Session, team_id: str) -> list[Quote]:
    """Every quote a client allowed us to reuse, newest win first."""
    out: list[Quote] = []
    for run, deal in _wins(session, team_id):
        win = _win(run)
        text = str(win.get("quote") or "").strip()
        if win.get("quote_ok") is not True or not text:
            continue
        out.append(
            Quote(
                deal_id=int(deal.id or 0),
                account=deal.account,
                rep=deal.rep_slack_id,
                won_at=deal.created_at,
                tag=clean_tag(str(win.get("quote_tag") or "")),
                text=text,
            )
        )
    return out


def matches(quote: Quote, word: str) -> bool:
    """A word (or words) found in the quote, its account or its tag, ignoring case."""
    needle = " ".join(word.split()).casefold()
    haystack = " ".join((quote.text, quote.account, quote.tag)).casefold()
    return needle in haystack


def search_quotes(*, session: Session, team_id: str, word: str = "") -> list[Quote]:
    quotes = allowed_quotes(session=session, team_id=team_id)
    return [q for q in quotes if matches(q, word)] if word.strip() else quotes


def team_tags(*, session: Session, team_id: str) -> list[str]:
    """The tags the team has put on quotes, most used first, each spelled as first used."""
    counts: dict[str, int] = {}
    spelling: dict[str, str] = {}
    for run, _deal in reversed(_wins(session, team_id)):
        tag = clean_tag(str(_win(run).get("quote_tag") or ""))
        if not tag:
            continue
        key = tag.casefold()
        spelling.setdefault(key, tag)
        counts[key] = counts.get(key, 0) + 1
    ordered = sorted(counts, key=lambda k: (-counts[k], spelling[k].casefold()))
    return [spelling[k] for k in ordered[:TAGS_OFFERED]]


def canonical_tag(*, session: Session, team_id: str, tag: str) -> str:
    """A typed tag in the spelling the team already uses ("healthcare" -> "Healthcare"),
    so one industry does not split in two."""
    tag = clean_tag(tag)
    for known in team_tags(session=session, team_id=team_id):
        if known.casefold() == tag.casefold():
            return known
    return tag


def prep_quotes(
    *, session: Session, team_id: str, account: str, tag: str = "", limit: int = 3
) -> tuple[str, list[Quote]]:
    """Quotes to show when preparing for `account`: those tagged `tag` (or, with none
    given, the tag of the account's own quotes), from any account; without a tag or a
    match, the newest. Returns the tag used ("" when none) and the quotes."""
    quotes = allowed_quotes(session=session, team_id=team_id)
    wanted = clean_tag(tag).casefold()
    if not wanted:
        own = [q.tag for q in quotes if q.account.casefold() == account.casefold() and q.tag]
        wanted = own[0].casefold() if own else ""
    if wanted:
        tagged = [q for q in quotes if q.tag.casefold() == wanted]
        if tagged:
            return tagged[0].tag, tagged[:limit]
    return "", quotes[:limit]
