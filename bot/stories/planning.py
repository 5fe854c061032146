"""What the dispatcher does for the stories channel: the planner that keeps each
workspace's next weekly prompt and monthly post (and each recent win's invitation) as
nudges, and the renderers of those nudges. Keys make each one once, however many
dispatchers run."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from bot.clock import zone_of
from bot.messages import Built, Texts
from bot.messages import stories as msg
from bot.nudges.registry import KindPolicy
from bot.nudges.story_schedule import (
    MONTH_LATE,
    PROMPT_LATE,
    month_bounds,
    months_to_plan,
    this_week,
    weeks_to_plan,
)
from bot.runtime import Runtime, installed_teams
from bot.slack.teams import acting_for
from bot.stories.config import Config, config_of
from bot.stories.thread import ensure_member, permalink, post_story, share
from storage import nudges as nudge_store
from storage import stories as store
from storage.models import Nudge, Person

log = logging.getLogger(__name__)

# A win's invitation comes a day after the deal closed (the win debrief comes first),
# and is not sent more than three days late.
INVITE_AFTER = timedelta(days=1)
INVITE_POLICY = KindPolicy(max_late=timedelta(days=3), when_quiet="wait")
INVITE_LOOKBACK = INVITE_AFTER + timedelta(days=3)
WEEK_POLICY = KindPolicy(max_late=PROMPT_LATE, respects_quiet=False)
MONTH_POLICY = KindPolicy(max_late=MONTH_LATE, respects_quiet=False)
WAITING_RETRY = timedelta(hours=1)


def _plan_rows(team_id: str, cfg: Config, now: datetime) -> list[dict[str, Any]]:
    assert cfg.channel is not None
    zone = zone_of(cfg.tz)
    rows = [
        {
            "kind": store.STORIES_WEEK,
            "due_at": slot,
            "idempotency_key": store.week_key(team_id, cfg.channel, week),
            "payload": {"week": week},
        }
        for week, slot in weeks_to_plan(now, zone)
    ]
    rows += [
        {
            "kind": store.STORIES_MONTH,
            "due_at": slot,
            "idempotency_key": store.month_key(team_id, cfg.channel, month),
            "payload": {"month": month},
        }
        for month, slot in months_to_plan(now, zone)
    ]
    return rows


def _schedule_all(
    *, session: Any, team_id: str, channel: str, rows: list[dict[str, Any]], now: datetime
) -> None:
    for row in rows:
        nudge = nudge_store.schedule(
            session=session, team_id=team_id, user_slack_id=channel, now=now, **row
        )
        due = nudge.due_at
        if nudge.state == nudge_store.PENDING and due and due > now and due != row["due_at"]:
            # The workspace's zone changed since it was planned (a brought-forward
            # prompt is due already and is left alone).
            nudge.due_at = row["due_at"]
            nudge.updated_at = now
            session.add(nudge)


def _schedule_invites(*, session: Any, wins: list[store.Win], now: datetime) -> None:
    for win in wins:
        nudge_store.schedule(
            session=session,
            team_id=win.team_id,
            user_slack_id=win.rep,
            kind=store.STORY_INVITE,
            due_at=win.created_at + INVITE_AFTER,
            idempotency_key=store.invite_key(win.team_id, win.deal_id),
            payload={"deal_id": win.deal_id},
            now=now,
        )


async def plan(rt: Runtime) -> None:
    """Every tick: each workspace with a stories channel has its next prompts and monthly
    posts as nudges, and each of its recent wins one invitation (keys make both once)."""
    now = rt.clock.now()
    teams = await rt.tx(store.known_teams, write=False)
    configured: set[str] = set()
    installed = await installed_teams(rt)
    for team_id in teams:
        if installed is not None and team_id not in installed:
            continue  # OAuth mode: uninstalled (its data goes after the grace period)
        # Any Slack call planning makes (a #name resolved, a waiting story posted) is
        # this workspace's, with its token.
        with acting_for(team_id):
            cfg = await config_of(rt, team_id)
            if cfg.channel is None:
                continue
            configured.add(team_id)
            await rt.tx(
                _schedule_all,
                team_id=team_id,
                channel=cfg.channel,
                rows=_plan_rows(team_id, cfg, now),
                now=now,
            )
            await _retry_waiting(rt, team_id, cfg, now)
    if not configured:
        return
    wins = await rt.tx(store.wins_to_invite, write=False, since=now - INVITE_LOOKBACK, until=now)
    wins = [w for w in wins if w.team_id in configured]
    if wins:
        await rt.tx(_schedule_invites, wins=wins, now=now)


async def _retry_waiting(rt: Runtime, team_id: str, cfg: Config, now: datetime) -> None:
    """A story that could not be posted (the bot was removed from the channel, Slack
    failed) is kept; once an hour it is tried again, in this week's thread of the
    channel as it is set now, so an admin's `/invite` or a new channel brings it out."""
    assert cfg.channel is not None
    stale = await rt.tx(
        store.stale_waiting, write=False, team_id=team_id, before=now - WAITING_RETRY
    )
    week, _ = this_week(now, zone_of(cfg.tz))
    for story_id in stale:
        await rt.tx(store.update_story, story_id=story_id, now=now, week=week, channel=cfg.channel)
        error = await share(rt, story_id)
        if error is not None:
            log.warning("story %s still not posted: %s", story_id, error)


def make_planner() -> Any:
    return plan


# --- rendering the channel posts and the invitation --------------------------------------------


async def render_week(rt: Runtime, nudge: Nudge, person: Person) -> Built | None:
    cfg = await config_of(rt, nudge.team_id)
    if cfg.channel != nudge.user_slack_id:
        return None  # the channel changed since it was planned
    await ensure_member(rt, cfg.channel)
    return msg.weekly_prompt(Texts(rt.catalog, cfg.language))


async def after_week(rt: Runtime, nudge: Nudge, channel: str, ts: str) -> None:
    """The thread exists now: post the stories that were waiting for it."""
    week = str(nudge.payload.get("week") or "")
    waiting = await rt.tx(
        store.waiting_in_week, write=False, team_id=nudge.team_id, channel=channel, week=week
    )
    for story_id in waiting:
        await post_story(rt, story_id, thread_ts=ts)


async def render_month(rt: Runtime, nudge: Nudge, person: Person) -> Built | None:
    cfg = await config_of(rt, nudge.team_id)
    if cfg.channel != nudge.user_slack_id:
        return None
    month = str(nudge.payload.get("month") or "")
    start, end = month_bounds(month, zone_of(cfg.tz))
    rows = await rt.tx(
        store.month_stories,
        write=False,
        team_id=nudge.team_id,
        channel=cfg.channel,
        start=start,
        end=end,
    )
    entries = []
    for row in rows:
        link = row.permalink
        if link is None:
            link = await permalink(rt, row.channel, row.ts)
            if link:
                await rt.tx(store.set_permalink, story_id=row.id, permalink=link)
        entries.append(
            msg.MonthEntry(
                row.rep,
                row.lesson,
                link,
                row.account,
                row.share,
                row.amount,
                row.currency,
                row.deal_id,
                row.origin,
            )
        )
    return msg.month_post(Texts(rt.catalog, cfg.language), month=month, entries=entries)


async def render_invite(rt: Runtime, nudge: Nudge, person: Person) -> Built | None:
    deal_id = int(nudge.payload.get("deal_id") or 0)
    cfg = await config_of(rt, nudge.team_id)
    if cfg.channel is None:
        return None
    told = await rt.tx(store.story_of_deal, write=False, team_id=nudge.team_id, deal_id=deal_id)
    deals = await rt.tx(store.deals_by_id, write=False, ids=[deal_id])
    deal = deals.get(deal_id)
    if told or deal is None or deal.status != "open" or deal.outcome != "won":
        return None
    return msg.invitation(Texts(rt.catalog, person.locale), deal_id=deal_id, account=deal.account)
