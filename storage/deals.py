"""Deals, the announcements that name them, and the events that create them."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Table, bindparam, update
from sqlalchemy import select as sql_select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from storage.db import insert_or_skip, run_prepared
from storage.debriefs import write_debrief
from storage.kinds import AskState, DealStatus, DebriefState
from storage.models import Deal, DealAsk, DealSource, RitualRun, SeenEvent

OPEN = DealStatus.OPEN
WITHDRAWN = DealStatus.WITHDRAWN

# Legal forms a CRM adds and a rep leaves out ("Initech, Inc." / "Initech"). Compared
# after dots are dropped, so "S.A." is "sa" and "Inc." is "inc".
LEGAL_SUFFIXES = frozenset(
    {
        "inc", "incorporated", "llc", "llp", "lp", "ltd", "limited", "gmbh", "mbh", "ag",
        "kg", "sa", "sas", "sasu", "sarl", "sl", "slu", "srl", "spa", "bv", "nv", "corp",
        "corporation", "co", "company", "plc", "pty", "oy", "ab", "as", "aps", "kk", "pte",
        "sau", "sca", "scs", "se", "ug", "lda", "cia",
    }
)  # fmt: skip
_DROPPED = re.compile(r"[.'’`´]")
_SEPARATORS = re.compile(r"[^0-9a-z]+")


def account_key(name: str) -> str:
    """How two spellings of one account compare: no case, accents, punctuation or
    trailing legal form ("Société Générale S.A." == "societe generale")."""
    text = name or ""
    if not text.isascii():  # most names: nothing to decompose (it runs twice per deal)
        text = unicodedata.normalize("NFKD", text)
        text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = text.lower()
    text = text.replace("&", " and ").replace("+", " and ")
    words = _SEPARATORS.sub(" ", _DROPPED.sub("", text)).split()
    if words and words[0] == "the" and len(words) > 1:
        words = words[1:]
    while len(words) > 1 and words[-1] in LEGAL_SUFFIXES:
        words.pop()
    return " ".join(words)[:200]


@dataclass(frozen=True)
class NewDeal:
    team_id: str
    account: str
    outcome: str
    rep_slack_id: str | None
    source: str
    reported_by: str | None = None
    amount: Decimal | None = None
    currency: str | None = None
    source_channel: str | None = None
    source_ts: str | None = None
    external_id: str | None = None
    raw_text: str | None = None


def mark_event_seen(*, session: Session, team_id: str, event_id: str, now: datetime) -> bool:
    """True the first time an event_id is seen, False for a retry or redelivery."""
    if session.get(SeenEvent, (team_id, event_id)) is not None:
        return False
    try:
        with session.begin_nested():
            session.add(SeenEvent(team_id=team_id, event_id=event_id, received_at=now))
    except IntegrityError:
        return False
    return True


def add_deal(*, session: Session, new: NewDeal, now: datetime) -> int | None:
    """Insert a deal and return its id; None when the same source message or external id
    is a deal already (the unique constraints decide, so a concurrent copy loses too)."""
    return insert_or_skip(
        session,
        Deal,
        {
            "team_id": new.team_id,
            "account": new.account,
            "outcome": new.outcome,
            "amount": new.amount,
            "currency": new.currency,
            "rep_slack_id": new.rep_slack_id,
            "reported_by": new.reported_by,
            "source": new.source,
            "source_channel": new.source_channel,
            "source_ts": new.source_ts,
            "external_id": new.external_id,
            "raw_text": (new.raw_text or "")[:2000] or None,
            "created_at": now,
            "updated_at": now,
            "account_key": account_key(new.account),
            "status": OPEN.value,
            "revision": 0,
        },
    )


def message_seen(*, session: Session, team_id: str, channel: str, ts: str) -> bool:
    """Was this Slack message already read as a deal or as another announcement of one?"""
    linked = session.exec(
        select(DealSource.id).where(
            DealSource.team_id == team_id, DealSource.channel == channel, DealSource.ts == ts
        )
    ).first()
    if linked is not None:
        return True
    return deal_by_message(session=session, team_id=team_id, channel=channel, ts=ts) is not None


def add_source(
    *, session: Session, deal_id: int, new: NewDeal, duplicate: bool, now: datetime
) -> bool:
    """Link an announcement to its deal; False when that message is linked already."""
    return (
        insert_or_skip(
            session,
            DealSource,
            {
                "team_id": new.team_id,
                "deal_id": deal_id,
                "source": new.source,
                "channel": new.source_channel if new.source_ts else None,
                "ts": new.source_ts,
                "external_id": new.external_id,
                "reported_by": new.reported_by,
                "duplicate": duplicate,
                "created_at": now,
            },
        )
        is not None
    )


_DEALS: Table = Deal.__table__  # type: ignore[attr-defined]
# Built once: the intake asks them for every announcement, and building a statement
# costs more than running it.
_BY_EXTERNAL_ID = (
    sql_select(_DEALS.c.id)
    .where(
        _DEALS.c.team_id == bindparam("team_id"),
        _DEALS.c.external_id == bindparam("external_id"),
    )
    .limit(1)
)
_REPEATS = (
    sql_select(_DEALS.c.id, _DEALS.c.external_id)
    .where(
        _DEALS.c.team_id == bindparam("team_id"),
        _DEALS.c.account_key == bindparam("account_key"),
        _DEALS.c.outcome == bindparam("outcome"),
        _DEALS.c.status == OPEN.value,
        _DEALS.c.created_at >= bindparam("since"),
    )
    .order_by(_DEALS.c.created_at, _DEALS.c.id)
)
_REPEATS_BY_REP = _REPEATS.where(_DEALS.c.rep_slack_id == bindparam("rep"))
_REPEATS_NO_REP = _REPEATS.where(_DEALS.c.rep_slack_id.is_(None))


def same_deal(*, session: Session, new: NewDeal, since: datetime) -> Deal | None:
    """The open deal this announcement repeats: same account (as compared), outcome and
    rep since `since`. A different CRM record (external id) is a different deal.

    Ids are looked for first (almost every announcement is new), and only a match is
    loaded."""
    found: int | None = None
    if new.external_id:
        row = run_prepared(
            session, _BY_EXTERNAL_ID, {"team_id": new.team_id, "external_id": new.external_id}
        ).fetchone()
        found = None if row is None else row[0]
    if found is None:
        params = {
            "team_id": new.team_id,
            "account_key": account_key(new.account),
            "outcome": new.outcome,
            "since": since,
        }
        if new.rep_slack_id:
            candidates = run_prepared(
                session, _REPEATS_BY_REP, {**params, "rep": new.rep_slack_id}
            ).fetchall()
        else:
            candidates = run_prepared(session, _REPEATS_NO_REP, params).fetchall()
        found = next(
            (
                deal_id
                for deal_id, external_id in candidates
                if not (new.external_id and external_id and new.external_id != external_id)
            ),
            None,
        )
    return None if found is None else session.get(Deal, found)


def other_outcome_deal(
    *, session: Session, team_id: str, account: str, outcome: str, rep_slack_id: str
) -> Deal | None:
    """The rep's latest open deal for this account, when it was logged with another
    outcome: a second `/loop deal` for it is most likely a correction."""
    latest = session.exec(
        select(Deal)
        .where(
            Deal.team_id == team_id,
            Deal.account_key == account_key(account),
            Deal.rep_slack_id == rep_slack_id,
            Deal.status == OPEN,
        )
        .order_by(col(Deal.created_at).desc(), col(Deal.id).desc())
    ).first()
    return latest if latest is not None and latest.outcome != outcome else None


def deal_by_message(*, session: Session, team_id: str, channel: str, ts: str) -> Deal | None:
    """The deal first announced by this message (its root source, not a repeat)."""
    return session.exec(
        select(Deal).where(
            Deal.team_id == team_id, Deal.source_channel == channel, Deal.source_ts == ts
        )
    ).first()


def add_ask(
    *, session: Session, team_id: str, channel: str, ts: str, user: str, text: str, now: datetime
) -> DealAsk | None:
    """Record that this message's poster is being asked; None if they were already."""
    seen = session.exec(
        select(DealAsk).where(
            DealAsk.team_id == team_id, DealAsk.channel == channel, DealAsk.ts == ts
        )
    ).first()
    if seen is not None:
        return None
    ask = DealAsk(
        team_id=team_id,
        channel=channel,
        ts=ts,
        user_slack_id=user,
        text=text[:2000],
        created_at=now,
    )
    try:
        with session.begin_nested():
            session.add(ask)
    except IntegrityError:
        return None
    return ask


def get_deal(*, session: Session, deal_id: int) -> Deal | None:
    return session.get(Deal, deal_id)


def recent_deals(
    *, session: Session, team_id: str, rep_slack_id: str, limit: int = 10
) -> list[Deal]:
    return list(
        session.exec(
            select(Deal)
            .where(Deal.team_id == team_id, Deal.rep_slack_id == rep_slack_id, Deal.status == OPEN)
            .order_by(col(Deal.created_at).desc(), col(Deal.id).desc())
            .limit(limit)
        ).all()
    )


def get_ask(*, session: Session, ask_id: int) -> DealAsk | None:
    return session.get(DealAsk, ask_id)


def settle_ask(*, session: Session, ask_id: int, state: str) -> bool:
    """asked -> answered | dismissed, once: a double click does nothing the second time."""
    result = session.execute(
        update(DealAsk)
        .where(col(DealAsk.id) == ask_id, col(DealAsk.state) == AskState.ASKED)
        .values(state=state)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def link_ask(*, session: Session, ask_id: int, deal_id: int | None) -> None:
    """The deal an answered ask became, so forgetting the poster finds it."""
    ask = session.get(DealAsk, ask_id)
    if ask is not None:
        ask.deal_id = deal_id
        session.add(ask)


def mark_deal_dm_sent(
    *, session: Session, run_id: int, channel: str, ts: str, now: datetime
) -> None:
    """Where the deal DM went (corrections update it in place); a withdrawn deal stays
    withdrawn."""
    run = session.get(RitualRun, run_id)
    if run is not None and run.state != WITHDRAWN:
        write_debrief(run, now, state=DebriefState.DM_SENT, dm_channel=channel, dm_ts=ts)
        session.add(run)
