"""Lessons (seed 004: lesson -> applied -> story, with credit). A rep keeps a takeaway of a
logged debrief, a manager's call or a win interview as a lesson, private or shared with
the team. A `lesson_try` nudge asks a week later "Did you get to try …?" (Yes opens the
story modal with the lesson; Not yet asks once more; Drop it ends it). A story that
applies a teammate's shared lesson credits them, and a `lesson_credit` nudge tells them.

Who reads what: a private lesson is its owner's alone; a shared one may be picked by
anyone on the team for a story and shows in teammates' prep."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, col, or_, select

from storage import nudges
from storage.debriefs import call_data, debrief_data
from storage.kinds import CallState, DebriefState, Ritual
from storage.models import Deal, Lesson, Nudge, Person, RitualRun, Story

LESSON_TRY = "lesson_try"
LESSON_CREDIT = "lesson_credit"
OPEN, TRIED, DROPPED = "open", "tried", "dropped"
YES, NOT_YET, DROP = "yes", "not_yet", "drop"
ANSWERS = (YES, NOT_YET, DROP)
LAST_ROUND = 2
TEXT_MAX = 300
PICKER_MAX = 100  # Slack's static_select holds at most 100 options
# Which answers of a logged debrief can become a lesson, by where they came from.
LOSS_ITEMS = ("takeaways",)
CALL_ITEMS = ("missed", "next")
WIN_ITEMS = ("appealed", "why", "strengths")


# A list's bullet or number ("- ", "• ", "2. ", "3) "): the takeaway is what follows.
_ITEM = re.compile(r"^\s*(?:[-*•·–—]+|\d{1,2}[.)])\s*")


def clean(text: str) -> str:
    one_line = " ".join(str(text or "").split())
    return _ITEM.sub("", one_line).strip()[:TEXT_MAX]


def _key(text: str) -> str:
    return clean(text).casefold()


def _lines(value: Any) -> list[str]:
    return [clean(line) for line in str(value or "").splitlines() if clean(line)]


@dataclass(frozen=True)
class Candidate:
    source: str  # debrief | call | win
    text: str


def candidates(run: RitualRun | None, call: RitualRun | None = None) -> list[Candidate]:
    """What a deal's logged debrief and manager's call offer to keep, one per line: a
    loss's takeaways, the call's "what we missed" and "next step", a win's "what
    appealed", "why us" and strengths. Read from the stored rows, never from a click;
    the order is stable, so a modal's option (its index) names the same line later."""
    found: list[Candidate] = []
    if run is not None and run.state == DebriefState.LOGGED:
        data = debrief_data(run)
        if run.ritual == Ritual.WIN_DEBRIEF:
            win = data.win or {}
            found += [Candidate("win", i) for name in WIN_ITEMS for i in _lines(win.get(name))]
        else:
            source = "call" if data.logged_by == "manager" else "debrief"
            client = data.client or {}
            found += [Candidate(source, i) for name in LOSS_ITEMS for i in _lines(client.get(name))]
    if call is not None and call.state == CallState.LOGGED:
        answers = call_data(call).client or {}
        found += [Candidate("call", i) for name in CALL_ITEMS for i in _lines(answers.get(name))]
    unique: list[Candidate] = []
    for candidate in found:
        if all(_key(c.text) != _key(candidate.text) for c in unique):
            unique.append(candidate)
    return unique[:10]


def _try_key(lesson_id: int, round_: int) -> str:
    return f"lesson-try:{lesson_id}:{round_}"


def keep(
    *,
    session: Session,
    team_id: str,
    owner: str,
    deal_id: int | None,
    text: str,
    shared: bool,
    source: str,
    now: datetime,
    ask_after: timedelta,
) -> tuple[Lesson, bool] | None:
    """Keep `text` as the owner's lesson and plan "Did you get to try it?" after
    `ask_after`. The same lesson again (a second submit, the same words from another
    debrief) is the same row: only the sharing choice changes, and no second ask.
    Returns (lesson, new), or None for an empty text."""
    text = clean(text)
    if not text:
        return None
    row = session.exec(
        select(Lesson).where(
            Lesson.team_id == team_id, Lesson.owner_slack_id == owner, Lesson.key == _key(text)
        )
    ).first()
    if row is not None:
        row.shared, row.updated_at = shared, now
        if row.state == DROPPED:
            row.state = OPEN  # kept again on purpose: it is back on the list
        session.add(row)
        session.flush()
        return row, False
    deal = session.get(Deal, deal_id) if deal_id else None
    row = Lesson(
        team_id=team_id,
        owner_slack_id=owner,
        key=_key(text),
        text=text,
        source=source if source in ("debrief", "call", "win") else "debrief",
        deal_id=deal.id if deal is not None else None,
        account=deal.account if deal is not None else "",
        outcome=deal.outcome if deal is not None else None,
        shared=shared,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    session.flush()
    assert row.id is not None
    nudges.schedule(
        session=session,
        team_id=team_id,
        user_slack_id=owner,
        kind=LESSON_TRY,
        due_at=now + ask_after,
        idempotency_key=_try_key(row.id, 1),
        payload={"lesson_id": row.id, "round": 1},
        now=now,
    )
    return row, True


def all_kept(*, session: Session, team_id: str, owner: str, texts: Sequence[str]) -> bool:
    """Every one of `texts` is a lesson the owner kept (so "Did you get to try it?" asks
    about them, and "Follow it up" need not ask again)."""
    keys = {_key(text) for text in texts if _key(text)}
    if not keys:
        return False
    found = session.exec(
        select(Lesson.key).where(
            Lesson.team_id == team_id,
            Lesson.owner_slack_id == owner,
            col(Lesson.key).in_(sorted(keys)),
        )
    ).all()
    return keys <= set(found)


def lesson(*, session: Session, lesson_id: int) -> Lesson | None:
    return session.get(Lesson, lesson_id)


def visible_lesson(*, session: Session, team_id: str, viewer: str, lesson_id: int) -> Lesson | None:
    """The lesson when `viewer` may use it: their own, or a teammate's shared one."""
    row = session.get(Lesson, lesson_id)
    if (
        row is None
        or row.team_id != team_id
        or row.state == DROPPED
        and row.owner_slack_id != viewer
    ):
        return None
    if row.owner_slack_id != viewer and not row.shared:
        return None
    return row


@dataclass(frozen=True)
class Pickable:
    id: int
    text: str
    owner: str
    owner_name: str
    account: str
    mine: bool


def picker(*, session: Session, team_id: str, viewer: str) -> list[Pickable]:
    """The lessons `viewer` may pick for a story: their own not dropped, newest first,
    then teammates' shared ones, newest first; at most PICKER_MAX in all."""
    rows = session.exec(
        select(Lesson)
        .where(
            Lesson.team_id == team_id,
            Lesson.state != DROPPED,
            or_(Lesson.owner_slack_id == viewer, col(Lesson.shared).is_(True)),
        )
        .order_by(col(Lesson.id).desc())
        .limit(PICKER_MAX * 2)
    ).all()
    names = _names(session, team_id, {r.owner_slack_id for r in rows})
    mine = [r for r in rows if r.owner_slack_id == viewer]
    theirs = [r for r in rows if r.owner_slack_id != viewer]
    return [
        Pickable(
            int(r.id or 0),
            r.text,
            r.owner_slack_id,
            names.get(r.owner_slack_id) or "",
            r.account,
            r.owner_slack_id == viewer,
        )
        for r in (mine + theirs)[:PICKER_MAX]
    ]


def _names(session: Session, team_id: str, ids: set[str]) -> dict[str, str]:
    if not ids:
        return {}
    people = session.exec(
        select(Person).where(Person.team_id == team_id, col(Person.slack_id).in_(sorted(ids)))
    ).all()
    return {p.slack_id: p.name or "" for p in people}


def own_lessons(*, session: Session, team_id: str, owner: str, limit: int = 50) -> list[Lesson]:
    """The owner's lessons not dropped, newest first (App Home)."""
    return list(
        session.exec(
            select(Lesson)
            .where(
                Lesson.team_id == team_id,
                Lesson.owner_slack_id == owner,
                Lesson.state != DROPPED,
            )
            .order_by(col(Lesson.id).desc())
            .limit(limit)
        ).all()
    )


def for_prep(
    *,
    session: Session,
    team_id: str,
    viewer: str,
    account: str,
    outcome: str | None,
    limit: int = 3,
) -> list[Pickable]:
    """Teammates' shared lessons for a similar situation: from the same account first,
    then from deals that ended the same way; newest first."""
    rows = session.exec(
        select(Lesson)
        .where(
            Lesson.team_id == team_id,
            Lesson.owner_slack_id != viewer,
            col(Lesson.shared).is_(True),
            Lesson.state != DROPPED,
        )
        .order_by(col(Lesson.id).desc())
        .limit(200)
    ).all()
    folded = account.casefold()
    same_account = [r for r in rows if r.account and r.account.casefold() == folded]
    same_outcome = [r for r in rows if outcome and r.outcome == outcome and r not in same_account]
    chosen = (same_account + same_outcome)[:limit]
    names = _names(session, team_id, {r.owner_slack_id for r in chosen})
    return [
        Pickable(
            int(r.id or 0),
            r.text,
            r.owner_slack_id,
            names.get(r.owner_slack_id) or "",
            r.account,
            False,
        )
        for r in chosen
    ]


# --- "Did you get to try …?" -----------------------------------------------------------------


@dataclass(frozen=True)
class TryAsk:
    nudge: Nudge
    lesson: Lesson

    @property
    def round(self) -> int:
        return nudges.asked_round(self.nudge)

    @property
    def answer(self) -> str | None:
        return nudges.asked_answer(self.nudge, ANSWERS)


def try_ask(*, session: Session, nudge_id: int) -> TryAsk | None:
    """The ask a nudge is, while its lesson is there."""
    nudge = session.get(Nudge, nudge_id)
    if nudge is None or nudge.kind != LESSON_TRY:
        return None
    row = session.get(Lesson, int(nudge.payload.get("lesson_id") or 0))
    if row is None or row.owner_slack_id != nudge.user_slack_id:
        return None
    return TryAsk(nudge, row)


def record_try(
    *, session: Session, nudge_id: int, answer: str, now: datetime, again_after: timedelta
) -> tuple[TryAsk, bool] | None:
    """The rep's answer, once: (ask, True) when recorded now, (ask, False) when this ask
    was answered already and nothing changed. "Not yet" in the first round plans the
    last ask; "Drop it" ends the lesson; "Yes" marks it tried (the story is the modal's)."""
    found = try_ask(session=session, nudge_id=nudge_id)
    if found is None or answer not in ANSWERS:
        return None
    if found.answer is not None:
        return found, False
    nudge, row = found.nudge, found.lesson
    nudges.record_asked_answer(session=session, nudge=nudge, answer=answer, now=now)
    if answer == YES:
        row.state = TRIED
    elif answer == DROP:
        row.state = DROPPED
    elif found.round < LAST_ROUND:
        assert row.id is not None
        nudges.schedule(
            session=session,
            team_id=nudge.team_id,
            user_slack_id=nudge.user_slack_id,
            kind=LESSON_TRY,
            due_at=now + again_after,
            idempotency_key=_try_key(row.id, found.round + 1),
            payload={"lesson_id": row.id, "round": found.round + 1},
            now=now,
        )
    row.updated_at = now
    session.add(row)
    session.flush()
    return found, True


# --- credit --------------------------------------------------------------------------------------


def credit_after_post(*, session: Session, story_id: int, now: datetime) -> bool:
    """A posted story that applies a teammate's lesson: tell the lesson's owner once (a
    `lesson_credit` nudge keyed by the story, so an edit or a re-post tells nobody again)."""
    story = session.get(Story, story_id)
    if story is None or story.lesson_id is None or story.state != "posted":
        return False
    row = session.get(Lesson, story.lesson_id)
    if row is None or row.owner_slack_id == story.rep_slack_id or row.team_id != story.team_id:
        return False
    nudges.schedule(
        session=session,
        team_id=story.team_id,
        user_slack_id=row.owner_slack_id,
        kind=LESSON_CREDIT,
        due_at=now,
        idempotency_key=f"lesson-credit:{story_id}",
        payload={"story_id": story_id, "lesson_id": row.id},
        now=now,
    )
    return True


@dataclass(frozen=True)
class Credit:
    story: Story
    lesson: Lesson


def credit(*, session: Session, nudge_id: int) -> Credit | None:
    """What a credit nudge tells, while the story is posted and the lesson is there."""
    nudge = session.get(Nudge, nudge_id)
    if nudge is None or nudge.kind != LESSON_CREDIT:
        return None
    story = session.get(Story, int(nudge.payload.get("story_id") or 0))
    row = session.get(Lesson, int(nudge.payload.get("lesson_id") or 0))
    if story is None or row is None or story.state != "posted":
        return None
    return Credit(story, row)


def lessons_by_id(*, session: Session, ids: Sequence[int]) -> dict[int, Lesson]:
    if not ids:
        return {}
    rows = session.exec(select(Lesson).where(col(Lesson.id).in_(sorted(set(ids))))).all()
    return {int(r.id or 0): r for r in rows}
