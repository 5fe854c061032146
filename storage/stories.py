"""Stories, the workspace settings admins change in Slack, and what the stories
channel's monthly post and the win invitations read."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import String, and_, cast, func, literal, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from storage.models import Deal, Lesson, Nudge, Person, Story, WorkspaceSetting
from storage.scope import team_select

STORIES_WEEK = "stories_week"
STORIES_MONTH = "stories_month"
STORY_INVITE = "story_invite"

WAITING = "waiting"
POSTING = "posting"
POSTED = "posted"
DELETED = "deleted"
LIVE = (WAITING, POSTING, POSTED)

# The keys of WorkspaceSetting rows this module writes.
CHANNEL = "stories_channel"
LANGUAGE = "stories_language"
TIMEZONE = "workspace_tz"
# A #name from STORIES_CHANNEL, once resolved: {"name": "#stories", "id": "C…"}.
RESOLVED_NAME = "stories_channel_resolved"


def week_key(team_id: str, channel: str, week: str) -> str:
    return f"stories-week:{team_id}:{channel}:{week}"


def month_key(team_id: str, channel: str, month: str) -> str:
    return f"stories-month:{team_id}:{channel}:{month}"


def invite_key(team_id: str, deal_id: int) -> str:
    # Per deal, not per revision: "at most once per deal", even after a correction.
    return f"story-invite:{team_id}:{deal_id}"


# --- workspace settings --------------------------------------------------------------------


def get_settings(*, session: Session, team_id: str) -> dict[str, dict[str, Any]]:
    rows = session.exec(team_select(WorkspaceSetting, team_id)).all()
    return {r.key: dict(r.value) for r in rows}


def put_setting(
    *,
    session: Session,
    team_id: str,
    key: str,
    value: dict[str, Any] | None,
    by: str | None,
    now: datetime,
) -> None:
    """Set (or, with None, remove) one setting."""
    row = session.exec(
        select(WorkspaceSetting).where(
            WorkspaceSetting.team_id == team_id, WorkspaceSetting.key == key
        )
    ).first()
    if value is None:
        if row is not None:
            session.delete(row)
        return
    if row is None:
        row = WorkspaceSetting(team_id=team_id, key=key)
    row.value = value
    row.updated_by = by
    row.updated_at = now
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        # Two admins at once: the other one's row is there now; ours wins.
        session.execute(
            update(WorkspaceSetting)
            .where(col(WorkspaceSetting.team_id) == team_id, col(WorkspaceSetting.key) == key)
            .values(value=value, updated_by=by, updated_at=now)
        )


def known_teams(*, session: Session) -> list[str]:
    """Workspaces the bot has met (people) or been configured in (settings)."""
    people = session.exec(select(Person.team_id).distinct()).all()
    configured = session.exec(select(WorkspaceSetting.team_id).distinct()).all()
    return sorted({*people, *configured})


# --- the week's thread ---------------------------------------------------------------------


def week_nudge(*, session: Session, team_id: str, channel: str, week: str) -> Nudge | None:
    key = week_key(team_id, channel, week)
    return session.exec(select(Nudge).where(Nudge.idempotency_key == key)).first()


def bring_forward(*, session: Session, nudge_id: int, now: datetime) -> bool:
    """A story came before the week's prompt was due (or after it failed): make the
    prompt due now. Never touches a prompt being sent or sent."""
    result = session.execute(
        update(Nudge)
        .where(col(Nudge.id) == nudge_id, col(Nudge.state).in_(("pending", "failed", "skipped")))
        .values(state="pending", due_at=now, attempts=0, updated_at=now)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def thread_of(
    *, session: Session, team_id: str, channel: str, thread_ts: str
) -> tuple[str, str] | None:
    """(week, thread ts) when `thread_ts` is one of our weekly prompts in `channel`."""
    row = session.exec(
        select(Nudge).where(
            Nudge.kind == STORIES_WEEK,
            Nudge.team_id == team_id,
            Nudge.sent_channel == channel,
            Nudge.sent_ts == thread_ts,
        )
    ).first()
    if row is None:
        return None
    return str(row.payload.get("week") or ""), thread_ts


# --- stories ---------------------------------------------------------------------------------


def add_story(*, session: Session, story: Story) -> Story:
    session.add(story)
    session.flush()
    return story


def add_typed_story(*, session: Session, story: Story) -> Story | None:
    """A message typed in the thread; None when it is known already (a redelivery)."""
    try:
        with session.begin_nested():
            session.add(story)
    except IntegrityError:
        return None
    session.flush()
    return story


def get_story(*, session: Session, story_id: int) -> Story | None:
    return session.get(Story, story_id)


def story_at(*, session: Session, team_id: str, channel: str, ts: str) -> Story | None:
    return session.exec(
        select(Story).where(Story.team_id == team_id, Story.channel == channel, Story.ts == ts)
    ).first()


def claim_to_post(*, session: Session, story_id: int, now: datetime) -> Story | None:
    """Take a waiting story to post it; None when another worker has (or it is gone)."""
    result = session.execute(
        update(Story)
        .where(col(Story.id) == story_id, col(Story.state) == WAITING)
        .values(state=POSTING, updated_at=now)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return None
    return session.get(Story, story_id, populate_existing=True)


def waiting_in_week(*, session: Session, team_id: str, channel: str, week: str) -> list[int]:
    rows = session.exec(
        select(Story.id).where(
            Story.team_id == team_id,
            Story.channel == channel,
            Story.week == week,
            Story.state == WAITING,
        )
    ).all()
    return [int(r) for r in rows if r is not None]


def stale_waiting(
    *, session: Session, team_id: str, before: datetime, limit: int = 20
) -> list[int]:
    """Stories still waiting to be posted, last tried before `before` (the bot was not in
    the channel, Slack failed): the planner tries them again."""
    rows = session.exec(
        team_select(Story, team_id, Story.state == WAITING, col(Story.updated_at) < before)
        .order_by(col(Story.id))
        .limit(limit)
    ).all()
    return [int(r.id) for r in rows if r.id is not None]


def update_story(*, session: Session, story_id: int, now: datetime, **values: Any) -> Story | None:
    story = session.get(Story, story_id)
    if story is None:
        return None
    for name, value in values.items():
        setattr(story, name, value)
    story.updated_at = now
    session.add(story)
    session.flush()
    return story


def posted_by(*, session: Session, team_id: str, rep: str) -> list[tuple[str, str]]:
    """(channel, ts) of the stories the bot posted for `rep`: what forget-me takes down
    from the channel (a story they typed is their own message, theirs to delete)."""
    rows = session.exec(
        select(Story.channel, Story.ts).where(
            Story.team_id == team_id,
            Story.rep_slack_id == rep,
            Story.source == "modal",
            Story.state == POSTED,
            col(Story.ts).is_not(None),
        )
    ).all()
    return [(c, str(t)) for c, t in rows]


def story_of_deal(*, session: Session, team_id: str, deal_id: int) -> bool:
    return (
        session.exec(
            select(Story.id).where(
                Story.team_id == team_id,
                Story.deal_id == deal_id,
                col(Story.state).in_(LIVE),
            )
        ).first()
        is not None
    )


@dataclass(frozen=True)
class DealChoice:
    id: int
    account: str
    outcome: str
    amount: Decimal | None
    currency: str | None


def rep_deals(*, session: Session, team_id: str, rep: str, limit: int = 100) -> list[DealChoice]:
    """The rep's own deals, newest first: what a story may be linked to."""
    rows = session.exec(
        select(Deal)
        .where(Deal.team_id == team_id, Deal.rep_slack_id == rep, Deal.status == "open")
        .order_by(col(Deal.created_at).desc(), col(Deal.id).desc())
        .limit(limit)
    ).all()
    return [DealChoice(int(d.id or 0), d.account, d.outcome, d.amount, d.currency) for d in rows]


def is_rep_deal(*, session: Session, team_id: str, rep: str, deal_id: int) -> bool:
    deal = session.get(Deal, deal_id)
    return bool(
        deal and deal.team_id == team_id and deal.rep_slack_id == rep and deal.status == "open"
    )


# --- the monthly post ------------------------------------------------------------------------


@dataclass(frozen=True)
class MonthStory:
    id: int
    rep: str
    lesson: str
    permalink: str | None
    channel: str
    ts: str | None
    deal_id: int | None
    account: str | None
    share: int | None
    amount: Decimal | None
    currency: str | None
    origin: str | None = None  # whose kept lesson it applied, when a teammate's


def month_stories(
    *, session: Session, team_id: str, channel: str, start: datetime, end: datetime
) -> list[MonthStory]:
    """The posted stories of [start, end) in `channel`, oldest first, with their deals."""
    rows = session.exec(
        select(Story, Deal)
        .join(
            Deal, and_(col(Deal.id) == col(Story.deal_id), col(Deal.status) == "open"), isouter=True
        )
        .where(
            Story.team_id == team_id,
            Story.channel == channel,
            Story.state == POSTED,
            col(Story.created_at) >= start,
            col(Story.created_at) < end,
        )
        .order_by(col(Story.created_at), col(Story.id))
    ).all()
    lesson_ids = sorted({s.lesson_id for s, _ in rows if s.lesson_id is not None})
    owners = dict(
        session.exec(
            select(Lesson.id, Lesson.owner_slack_id).where(col(Lesson.id).in_(lesson_ids))
        ).all()
        if lesson_ids
        else []
    )
    out: list[MonthStory] = []
    for story, deal in rows:
        origin = owners.get(story.lesson_id) if story.lesson_id is not None else None
        out.append(_month_story(story, deal, origin if origin != story.rep_slack_id else None))
    return out


def _month_story(story: Story, deal: Deal | None, origin: str | None = None) -> MonthStory:
    """A story as its readers see it, with the deal it helped (None: no deal, or the deal
    is no longer one) and whose kept lesson it applied (`origin`, a teammate's)."""
    return MonthStory(
        id=int(story.id or 0),
        rep=story.rep_slack_id,
        lesson=story.lesson or story.text,
        permalink=story.permalink,
        channel=story.channel,
        ts=story.ts,
        deal_id=deal.id if deal is not None else None,
        account=deal.account if deal is not None else None,
        share=story.share if deal is not None else None,
        amount=deal.amount if deal is not None else None,
        currency=deal.currency if deal is not None else None,
        origin=origin,
    )


def recent_stories(*, session: Session, team_id: str, rep: str, limit: int = 5) -> list[MonthStory]:
    """The rep's own latest stories (not deleted), newest first, with the deal each helped:
    what their App Home lists. Only ever called for the person whose Home it is."""
    rows = session.exec(
        select(Story, Deal)
        .join(
            Deal,
            and_(
                col(Deal.id) == col(Story.deal_id),
                col(Deal.team_id) == col(Story.team_id),
                col(Deal.status) == "open",
            ),
            isouter=True,
        )
        .where(Story.team_id == team_id, Story.rep_slack_id == rep, col(Story.state).in_(LIVE))
        .order_by(col(Story.created_at).desc(), col(Story.id).desc())
        .limit(limit)
    ).all()
    return [_month_story(story, deal) for story, deal in rows]


def story_counts(
    *, session: Session, team_id: str, reps: Sequence[str], since: datetime
) -> dict[str, int]:
    """Stories (not deleted) each of `reps` shared since `since`: a manager's team table."""
    if not reps:
        return {}
    rows = session.exec(
        select(Story.rep_slack_id, func.count())
        .where(
            Story.team_id == team_id,
            col(Story.rep_slack_id).in_(list(reps)),
            col(Story.state).in_(LIVE),
            col(Story.created_at) >= since,
        )
        .group_by(col(Story.rep_slack_id))
    ).all()
    return {str(rep): int(n) for rep, n in rows}


def set_permalink(*, session: Session, story_id: int, permalink: str) -> None:
    session.execute(update(Story).where(col(Story.id) == story_id).values(permalink=permalink))


# --- win invitations -------------------------------------------------------------------------


@dataclass(frozen=True)
class Win:
    deal_id: int
    team_id: str
    rep: str
    created_at: datetime


def wins_to_invite(
    *, session: Session, since: datetime, until: datetime, limit: int = 500
) -> list[Win]:
    """Won deals with a rep, closed in [since, until), that have no invitation yet."""
    key = literal("story-invite:") + Deal.team_id + literal(":") + cast(Deal.id, String)
    invited = select(Nudge.id).where(Nudge.idempotency_key == key).exists()
    rows = session.exec(
        select(Deal.id, Deal.team_id, Deal.rep_slack_id, Deal.created_at)
        .where(
            Deal.outcome == "won",
            Deal.status == "open",
            col(Deal.rep_slack_id).is_not(None),
            col(Deal.created_at) >= since,
            col(Deal.created_at) < until,
            ~invited,
        )
        .order_by(col(Deal.id))
        .limit(limit)
    ).all()
    return [Win(int(i or 0), t, str(r), c) for i, t, r, c in rows if c is not None]


def count_stories(*, session: Session, team_id: str) -> int:
    return int(
        session.exec(select(func.count()).select_from(Story).where(Story.team_id == team_id)).one()
    )


def deals_by_id(*, session: Session, ids: Sequence[int]) -> dict[int, Deal]:
    if not ids:
        return {}
    rows = session.exec(select(Deal).where(col(Deal.id).in_(list(ids)))).all()
    return {int(d.id or 0): d for d in rows}
