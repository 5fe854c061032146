"""Sending a nudge: claim it, render it in the rep's language, post it, record the outcome.

The row is committed before anything is sent and marked `sent` only after Slack says
ok, so a crash can never leave a DM without a record, nor a record of a DM that did
not go out. What happens on each failure is decided here, once:

- 429: nothing was posted; back to pending at Retry-After (the dispatcher also slows
  that workspace down). A DM sent right away waits inside the client instead.
- before chat.postMessage (users.info, conversations.open) a 5xx or a lost connection:
  nothing was posted; back to pending with a back-off, failed after MAX_ATTEMPTS.
- chat.postMessage 5xx / connection lost / fatal_error: it may have posted;
  `uncertain`. Slack has no idempotency key for chat.postMessage, so a blind retry could
  post twice; instead every DM carries message metadata naming its nudge, and a later
  tick reads the DM's recent history (`reconcile_due`): our message is there → `sent`
  with its ts; it is not → `pending`, sent again. History that cannot be read (scope
  missing, Slack down) keeps it uncertain and is tried again with a back-off; after
  RECONCILE_ATTEMPTS failed reads it is left uncertain and logged as an error, never
  resent blind.
- a permanent error (user gone, account inactive, channel missing): `failed`, with why.
- the claim was lost (this worker's lease ran out and another took the row back):
  nothing is posted; the row is the other worker's now.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.logs import bind_ids
from bot.messages import Texts, bundle
from bot.nudges import budget
from bot.nudges.registry import (
    AfterSent,
    KindPolicy,
    NudgeKind,
    Renderable,
    Renderer,
)
from bot.runtime import Runtime
from bot.slack.dm import open_dm
from bot.slack.errors import api_error
from bot.slack.people import load_person
from bot.slack.teams import acting_for
from storage import nudges
from storage.db import unit_of_work
from storage.models import Nudge, Person

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=2)
MAX_ATTEMPTS = 8

# Errors after which trying again cannot help; a nudge that hits one is failed for good.
PERMANENT_ERRORS = frozenset(
    {
        "account_inactive",
        "channel_not_found",
        "cannot_dm_bot",
        "invalid_blocks",
        "is_archived",
        "messages_tab_disabled",
        "msg_too_long",
        "no_text",
        "not_in_channel",
        "user_disabled",
        "user_is_bot",
        "user_not_found",
        "users_not_found",
        "user_not_visible",
    }
)

# The whole workspace's problem, not this nudge's (a revoked or rotated token, a scope
# the admin has not granted yet): failing every queued nudge would lose them all, so
# they wait, attempts refunded, until the admin fixes the install.
WORKSPACE_ERRORS = frozenset(
    {
        "invalid_auth",
        "missing_scope",
        "not_authed",
        "token_revoked",
        "account_inactive_team",
        "team_access_not_granted",
        "team_not_found",
    }
)
WORKSPACE_RETRY = timedelta(minutes=15)

# Answers to chat.postMessage (HTTP 200, ok:false) after which the message may or may
# not have been posted: as uncertain as a 5xx.
UNCERTAIN_ERRORS = frozenset(
    {"fatal_error", "internal_error", "request_timeout", "service_unavailable"}
)
# send_claimed's answer when this worker no longer holds the nudge.
LOST_CLAIM = "lost_claim"

# Message metadata on every DM the bot starts: Slack keeps it with the message (hidden
# from people), and conversations.history returns it with include_all_metadata, so an
# uncertain post can be looked for. event_type: letters, digits, "_" or "-" only, or
# Slack drops the metadata with an `invalid_metadata_schema` warning.
NUDGE_EVENT = "feedback_loop_nudge"
# First look after a post ended uncertain: Slack may answer a 5xx before the message
# it did store shows in the history; waiting a little avoids a resend of a stored post.
RECONCILE_DELAY = timedelta(seconds=30)
RECONCILE_ATTEMPTS = 8
RECONCILE_BATCH = 10
# "A bit before the first attempt": our clock and Slack's may differ by a little.
HISTORY_MARGIN = timedelta(minutes=5)
# A DM holds few messages in minutes; a page or two covers it. More than this many
# messages since the first attempt and we cannot tell: treated as unreadable.
HISTORY_PAGE = 20
HISTORY_PAGES = 5

RateLimited = Callable[[str, float], None]


@dataclass
class Message:
    text: str
    blocks: list[dict[str, Any]] = field(default_factory=list)


def register_kind(
    rt: Runtime,
    kind: str,
    render: Renderer,
    after_sent: AfterSent | None = None,
    *,
    policy: KindPolicy | None = None,
) -> None:
    """One kind added by hand (the tests' and benchmarks' own kinds); rituals declare
    theirs as data (bot/nudges/registry.py)."""
    rt.registry.add(NudgeKind(kind, render, after_sent, policy or KindPolicy()))


def policy_for(rt: Runtime, kind: str) -> KindPolicy:
    return rt.registry.policy(kind)


def _retry_after(e: SlackApiError) -> float:
    try:
        return float(e.response.headers.get("Retry-After", 1))
    except (TypeError, ValueError):
        return 1.0


def _backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(30 * 2 ** max(attempts - 1, 0), 3600))


async def deliver(rt: Runtime, nudge_id: int) -> str | None:
    """Claim this nudge and send it now. None when someone else holds it.

    For a DM the person is waiting for (they just closed a deal or clicked a button):
    it is not paced, and a 429 is waited out inside the client."""
    now = rt.clock.now()

    def take() -> Nudge | None:
        with unit_of_work(rt.engine) as session:
            return nudges.claim(session=session, nudge_id=nudge_id, now=now, lease=LEASE)

    nudge = await rt.db(take)
    if nudge is None:
        return None
    return await send_claimed(rt, nudge)


async def _settle(rt: Runtime, fn: Callable[..., bool], nudge: Nudge, **kwargs: Any) -> bool:
    now = rt.clock.now()

    def write() -> bool:
        with unit_of_work(rt.engine) as session:
            return fn(
                session=session,
                nudge_id=nudge.id,
                now=now,
                claim_token=nudge.claim_token,
                **kwargs,
            )

    return await rt.db(write)


async def skip_claimed(rt: Runtime, rows: list[Nudge], reason: str) -> str:
    """Settle claimed rows as skipped, unsent (OAuth mode: the workspace uninstalled)."""
    for nudge in rows:
        await _settle(rt, nudges.mark_skipped, nudge, reason=reason)
    return nudges.SKIPPED


async def _give_back(
    rt: Runtime, nudge: Nudge, delay: timedelta, error: str, *, refund: bool = False
) -> str:
    if not refund and nudge.attempts >= MAX_ATTEMPTS:
        await _settle(rt, nudges.mark_failed, nudge, error=f"gave up after retries: {error}")
        return nudges.FAILED
    due = rt.clock.now() + delay
    await _settle(rt, nudges.release, nudge, due_at=due, error=error, refund_attempt=refund)
    return nudges.PENDING


async def release_unsent(rt: Runtime, claimed: list[Nudge], reason: str) -> None:
    """Hand back nudges this worker claimed but will not send (paced, shutting down),
    due when they were, and without using up one of their attempts."""
    if not claimed:
        return
    now = rt.clock.now()

    def write() -> None:
        with unit_of_work(rt.engine) as session:
            for n in claimed:
                assert n.id is not None and n.due_at is not None
                nudges.release(
                    session=session,
                    nudge_id=n.id,
                    now=now,
                    due_at=n.due_at,
                    error=reason,
                    refund_attempt=True,
                )

    await rt.db(write)


async def send_claimed(
    rt: Runtime,
    nudge: Nudge,
    *,
    client: AsyncWebClient | None = None,
    lease: timedelta = LEASE,
    on_rate_limited: RateLimited | None = None,
) -> str:
    """Send a nudge this worker has claimed; returns the state it ends in (or
    LOST_CLAIM). `client`: the dispatcher's, which does not wait out 429s itself;
    `on_rate_limited(team_id, retry_after)` lets it slow that workspace down."""
    assert nudge.id is not None
    bind_ids(team=nudge.team_id, user=nudge.user_slack_id, nudge=nudge.id)
    client = client or rt.client
    entry: NudgeKind | None = rt.registry.kinds.get(nudge.kind)
    if entry is None:
        await _settle(rt, nudges.mark_failed, nudge, error=f"no renderer for kind {nudge.kind!r}")
        return nudges.FAILED
    try:
        prepared = await _prepare(rt, nudge, entry, client)
        if isinstance(prepared, str):
            return prepared
        channel, message = prepared
    except SlackApiError as e:
        return await _before_post_error(rt, nudge, e, on_rate_limited)
    except (aiohttp.ClientError, TimeoutError, OSError) as e:
        return await _give_back(rt, nudge, _backoff(nudge.attempts), f"connection: {e!r}")
    except Exception as e:
        # A bug or a database hiccup in a renderer, a quiet check or the person lookup:
        # nothing was posted, so the nudge goes back (with a back-off, failed after
        # MAX_ATTEMPTS) instead of sitting claimed until its lease runs out.
        log.exception("nudge %s (%s) could not be prepared", nudge.id, nudge.kind)
        return await _give_back(rt, nudge, _backoff(nudge.attempts), f"error: {e!r}")

    if not await _settle(rt, nudges.mark_posting, nudge, lease=lease):
        log.warning("nudge %s: claim lost before posting (lease ran out); not sent", nudge.id)
        return LOST_CLAIM
    try:
        resp = await client.chat_postMessage(
            channel=channel,
            text=message.text,
            blocks=message.blocks or None,
            metadata=nudge_metadata(nudge),
        )
    except SlackApiError as e:
        return await _post_error(rt, nudge, e, on_rate_limited)
    except (aiohttp.ClientError, TimeoutError, OSError, asyncio.CancelledError) as e:
        await _uncertain(rt, nudge, f"connection lost while posting: {e!r}")
        if isinstance(e, asyncio.CancelledError):
            raise
        return nudges.UNCERTAIN

    ts = str(resp.get("ts"))
    channel = str(resp.get("channel") or channel)
    return await _sent(rt, nudge, entry, channel, ts)


async def _prepare(
    rt: Runtime, nudge: Nudge, entry: NudgeKind, client: AsyncWebClient
) -> tuple[str, Renderable] | str:
    """Where to post and what, or the state the nudge was settled in instead."""
    if entry.to_channel:
        # A channel post: nobody's quiet time, no DM to open.
        channel_person = Person(team_id=nudge.team_id, slack_id=nudge.user_slack_id)
        policy = replace(entry.policy, respects_quiet=False)
        held = await _hold_back(rt, nudge, channel_person, policy)
        if held is not None:
            return held
        message = await entry.render(rt, nudge, channel_person)
        if message is None:
            await _settle(rt, nudges.mark_skipped, nudge, reason="nothing to send any more")
            return nudges.SKIPPED
        return nudge.user_slack_id, message
    person = await load_person(
        rt, team_id=nudge.team_id, user_id=nudge.user_slack_id, client=client
    )
    if person.deleted:
        await _settle(rt, nudges.mark_failed, nudge, error="user_not_found: deactivated")
        return nudges.FAILED
    held = await _hold_back(rt, nudge, person, entry.policy)
    if held is not None:
        return held
    rendered = await entry.render(rt, nudge, person)
    if rendered is None:
        await _settle(rt, nudges.mark_skipped, nudge, reason="nothing to send any more")
        return nudges.SKIPPED
    return await open_dm(rt, nudge.team_id, nudge.user_slack_id, client=client), rendered


async def _post_error(
    rt: Runtime, nudge: Nudge, e: SlackApiError, on_rate_limited: RateLimited | None
) -> str:
    """What Slack's refusal of chat.postMessage means for the nudge; returns its state."""
    status = e.response.status_code
    error = api_error(e)
    if status == 429:
        # Slack did not process the call, so nothing was posted.
        retry_after = _retry_after(e)
        if on_rate_limited is not None:
            on_rate_limited(nudge.team_id, retry_after)
        return await _give_back(rt, nudge, timedelta(seconds=retry_after), error, refund=True)
    if status >= 500 or error in UNCERTAIN_ERRORS:
        await _uncertain(rt, nudge, f"{error} (HTTP {status})")
        return nudges.UNCERTAIN
    if error in WORKSPACE_ERRORS:
        log.error("Slack refused the bot's token (%s): nudges wait until it is fixed", error)
        return await _give_back(rt, nudge, WORKSPACE_RETRY, error, refund=True)
    if error in ("channel_not_found", "is_archived"):
        # A cached DM channel that no longer works: open it afresh next time.
        rt.dm_channels.pop((nudge.team_id, nudge.user_slack_id), None)
    await _settle(rt, nudges.mark_failed, nudge, error=error)
    log.warning("nudge %s (%s) failed: %s", nudge.id, nudge.kind, error)
    return nudges.FAILED


def nudge_metadata(nudge: Nudge) -> dict[str, Any]:
    """The metadata a nudge's DM is posted with: how reconciling recognises it."""
    return {
        "event_type": NUDGE_EVENT,
        "event_payload": {"key": nudge.idempotency_key, "nudge_id": nudge.id},
    }


async def _uncertain(rt: Runtime, nudge: Nudge, error: str) -> None:
    await _settle(
        rt,
        nudges.mark_uncertain,
        nudge,
        error=error,
        reconcile_at=rt.clock.now() + RECONCILE_DELAY,
    )
    log.warning("nudge %s (%s) uncertain: %s; will check the DM", nudge.id, nudge.kind, error)


async def _sent(
    rt: Runtime,
    nudge: Nudge,
    entry: NudgeKind | None,
    channel: str,
    ts: str,
    *,
    budgeted: bool = False,
) -> str:
    if not await _settle(rt, nudges.mark_sent, nudge, channel=channel, ts=ts, budgeted=budgeted):
        return LOST_CLAIM
    if entry is not None and entry.after_sent is not None:
        try:
            await entry.after_sent(rt, nudge, channel, ts)
        except Exception:
            # The DM went out and is recorded; a ritual's bookkeeping failing must not
            # stop the dispatcher from sending everyone else's.
            log.exception("after-sent of nudge %s (%s) failed", nudge.id, nudge.kind)
    return nudges.SENT


async def reconcile_due(
    rt: Runtime,
    *,
    client: AsyncWebClient | None = None,
    limit: int = RECONCILE_BATCH,
    lease: timedelta = LEASE,
) -> int:
    """Settle the uncertain nudges whose next look is due against their DM's history.
    Returns how many were looked at. Run by the dispatcher before it claims due rows,
    so a nudge found missing is sent again in the same pass."""
    now = rt.clock.now()

    def take() -> list[Nudge]:
        with unit_of_work(rt.engine, immediate=True) as session:
            return nudges.claim_uncertain(
                session=session,
                now=now,
                limit=limit,
                lease=lease,
                max_attempts=RECONCILE_ATTEMPTS,
            )

    claimed = await rt.db(take)
    for nudge in claimed:
        with acting_for(nudge.team_id):
            await reconcile_claimed(rt, nudge, client=client or rt.client)
    return len(claimed)


class _CannotTell(Exception):
    """The history since the first attempt is longer than we read."""


async def reconcile_claimed(rt: Runtime, nudge: Nudge, *, client: AsyncWebClient) -> str:
    """Look for this nudge's DM in the DM's history; returns the state it ends in."""
    assert nudge.id is not None
    try:
        kind = rt.registry.kinds.get(nudge.kind)
        if kind is not None and kind.to_channel:
            channel = nudge.user_slack_id
        else:
            channel = await open_dm(rt, nudge.team_id, nudge.user_slack_id, client=client)
        ts = await _find_posted(client, channel, nudge)
    except SlackApiError as e:
        error = api_error(e)
        if e.response.status_code == 429:
            delay = timedelta(seconds=_retry_after(e))
            return await _still_uncertain(rt, nudge, error, delay, count=False)
        if error in WORKSPACE_ERRORS:
            return await _still_uncertain(rt, nudge, error, WORKSPACE_RETRY)
        if error in PERMANENT_ERRORS:
            # The DM itself is gone (or the rep is): nobody can read it whatever we do,
            # and sending again cannot reach them either.
            rt.dm_channels.pop((nudge.team_id, nudge.user_slack_id), None)
            await _settle(rt, nudges.mark_failed, nudge, error=f"could not check the DM: {error}")
            log.warning(
                "nudge %s (%s) failed while checking its DM: %s", nudge.id, nudge.kind, error
            )
            return nudges.FAILED
        return await _still_uncertain(rt, nudge, error, _backoff(nudge.reconcile_attempts + 1))
    except (aiohttp.ClientError, TimeoutError, OSError) as e:
        delay = _backoff(nudge.reconcile_attempts + 1)
        return await _still_uncertain(rt, nudge, f"connection: {e!r}", delay)
    except _CannotTell as e:
        delay = _backoff(nudge.reconcile_attempts + 1)
        return await _still_uncertain(rt, nudge, str(e), delay)
    except Exception as e:
        log.exception("nudge %s: reconciling failed", nudge.id)
        delay = _backoff(nudge.reconcile_attempts + 1)
        return await _still_uncertain(rt, nudge, f"error: {e!r}", delay)

    if ts is not None:
        log.info("nudge %s (%s): found in the DM after an uncertain post", nudge.id, nudge.kind)
        # Sent by a dispatcher (an uncertain post is one of its): it counts in the budget.
        entry = rt.registry.kinds.get(nudge.kind)
        return await _sent(rt, nudge, entry, channel, ts, budgeted=budget.applies(rt, nudge))
    # Not in the history: nothing reached the rep, so sending again cannot double it,
    # unless its kind says it is too late by now (reads failed for hours, say).
    max_late = policy_for(rt, nudge.kind).max_late
    first = nudge.first_post_at
    if max_late is not None and first is not None and rt.clock.now() - first > max_late:
        reason = "not posted, and too late to send again"
        await _settle(rt, nudges.mark_skipped, nudge, reason=reason)
        return nudges.SKIPPED
    log.info("nudge %s (%s): not in the DM; sending it again", nudge.id, nudge.kind)
    return await _give_back(rt, nudge, timedelta(0), f"not posted: {nudge.last_error}")


async def _find_posted(client: AsyncWebClient, channel: str, nudge: Nudge) -> str | None:
    """The ts of this nudge's message in the DM since a bit before its first post."""
    started = nudge.first_post_at or nudge.post_started_at or nudge.updated_at
    assert started is not None
    oldest = f"{(started - HISTORY_MARGIN).timestamp():.6f}"
    cursor: str | None = None
    for _ in range(HISTORY_PAGES):
        resp = await client.conversations_history(
            channel=channel,
            oldest=oldest,
            limit=HISTORY_PAGE,
            include_all_metadata=True,
            cursor=cursor,
        )
        for message in resp.get("messages") or []:
            metadata = message.get("metadata") or {}
            payload = metadata.get("event_payload") or {}
            keys = [payload.get("key"), *(payload.get("keys") or [])]
            if metadata.get("event_type") == NUDGE_EVENT and nudge.idempotency_key in keys:
                return str(message["ts"])
        cursor = (resp.get("response_metadata") or {}).get("next_cursor") or None
        if not resp.get("has_more") or cursor is None:
            return None
    raise _CannotTell(f"more than {HISTORY_PAGES * HISTORY_PAGE} messages since the post")


async def _still_uncertain(
    rt: Runtime, nudge: Nudge, error: str, delay: timedelta, *, count: bool = True
) -> str:
    """The history could not be read: keep doubting, look again later, never resend."""
    why = f"could not read the DM's history: {error}"
    await _settle(
        rt,
        nudges.still_uncertain,
        nudge,
        reconcile_at=rt.clock.now() + delay,
        error=why,
        count_attempt=count,
    )
    tries = nudge.reconcile_attempts + (1 if count else 0)
    if count and tries >= RECONCILE_ATTEMPTS:
        log.error(
            "nudge %s (%s) to %s left uncertain: %s (%d tries); not resent, to avoid a "
            "double DM. Check the im:history scope and Slack's status.",
            nudge.id,
            nudge.kind,
            nudge.user_slack_id,
            error,
            tries,
        )
    else:
        log.warning("nudge %s (%s) still uncertain: %s", nudge.id, nudge.kind, why)
    return nudges.UNCERTAIN


async def _hold_back(rt: Runtime, nudge: Nudge, person: Person, policy: KindPolicy) -> str | None:
    """Too late to make sense, or the person is quiet: settle without sending."""
    now = rt.clock.now()
    if policy.max_late is not None and nudge.due_at and now - nudge.due_at > policy.max_late:
        late = now - nudge.due_at
        await _settle(rt, nudges.mark_skipped, nudge, reason=f"too late to send ({late} late)")
        return nudges.SKIPPED
    if not policy.respects_quiet:
        return None
    for check in rt.registry.quiet_checks:
        until = await check(rt, nudge, person)
        if until is None or until <= now:
            continue
        if policy.when_quiet == "skip":
            await _settle(rt, nudges.mark_skipped, nudge, reason="person was quiet")
            return nudges.SKIPPED
        # Refunded: a paused rep's nudge is looked at every hour, and those looks must
        # not use up the retries it may need once they are back.
        await _settle(
            rt,
            nudges.release,
            nudge,
            due_at=until,
            error="waiting: person is quiet",
            refund_attempt=True,
        )
        return nudges.PENDING
    return None


async def _before_post_error(
    rt: Runtime, nudge: Nudge, e: SlackApiError, on_rate_limited: RateLimited | None = None
) -> str:
    """An error before chat.postMessage: nothing was posted, so retrying is safe."""
    status = e.response.status_code
    error = api_error(e)
    if status == 429:
        retry_after = _retry_after(e)
        if on_rate_limited is not None:
            on_rate_limited(nudge.team_id, retry_after)
        return await _give_back(rt, nudge, timedelta(seconds=retry_after), error, refund=True)
    if error in WORKSPACE_ERRORS:
        log.error("Slack refused the bot's token (%s): nudges wait until it is fixed", error)
        return await _give_back(rt, nudge, WORKSPACE_RETRY, error, refund=True)
    transient = status >= 500 or error in UNCERTAIN_ERRORS or error == f"http_{status}"
    if error in PERMANENT_ERRORS or not transient:
        await _settle(rt, nudges.mark_failed, nudge, error=error)
        log.warning("nudge %s (%s) failed: %s", nudge.id, nudge.kind, error)
        return nudges.FAILED
    return await _give_back(rt, nudge, _backoff(nudge.attempts), error)


# --- one DM for several nudges (the noise budget, bot/nudges/budget.py) ---------------------


def bundle_metadata(rows: list[Nudge]) -> dict[str, Any]:
    """A bundle's metadata names every nudge in it, so reconciling finds each one."""
    lead = rows[0]
    return {
        "event_type": NUDGE_EVENT,
        "event_payload": {
            "key": lead.idempotency_key,
            "nudge_id": lead.id,
            "keys": [n.idempotency_key for n in rows],
        },
    }


async def _too_late(rt: Runtime, nudge: Nudge) -> bool:
    max_late = policy_for(rt, nudge.kind).max_late
    now = rt.clock.now()
    if max_late is None or nudge.due_at is None or now - nudge.due_at <= max_late:
        return False
    late = now - nudge.due_at
    await _settle(rt, nudges.mark_skipped, nudge, reason=f"too late to send ({late} late)")
    return True


async def _quiet_until(rt: Runtime, nudge: Nudge, person: Person) -> datetime | None:
    now = rt.clock.now()
    for check in rt.registry.quiet_checks:
        until = await check(rt, nudge, person)
        if until is not None and until > now:
            return until
    return None


async def _wait_all(rt: Runtime, rows: list[Nudge], until: datetime, why: str) -> None:
    """Hold these nudges back until `until`, or skip those whose kind is skipped rather
    than kept when the person cannot be nudged now (an evening reflection). Waiting for
    the hour's slot to end is never a reason to skip: it is minutes, and the weekly
    digest falls due exactly an hour after the reflection's DM."""
    may_skip = why != budget.SLOTTED
    for nudge in rows:
        if may_skip and policy_for(rt, nudge.kind).when_quiet == "skip":
            await _settle(rt, nudges.mark_skipped, nudge, reason=why)
        else:
            # Refunded: waiting is not a failed attempt.
            await _settle(
                rt,
                nudges.release,
                nudge,
                due_at=max(until, nudge.due_at or until),
                error=why,
                refund_attempt=True,
            )


async def _prepare_group(
    rt: Runtime, rows: list[Nudge], client: AsyncWebClient, lease: timedelta
) -> tuple[list[Nudge], Message, str] | str:
    """Everything before the post: the person, lateness, quiet, the budget, the other
    nudges due this hour, the sections. Returns (rows in the DM, the DM, its channel),
    or the state the group ended in without a post."""
    lead = rows[0]
    person = await load_person(rt, team_id=lead.team_id, user_id=lead.user_slack_id, client=client)
    if person.deleted:
        for nudge in rows:
            await _settle(rt, nudges.mark_failed, nudge, error="user_not_found: deactivated")
        return nudges.FAILED
    # In place: the caller settles every row it holds if something below fails.
    rows[:] = [n for n in rows if not await _too_late(rt, n)]
    if not rows:
        return nudges.SKIPPED
    quiet = await _quiet_until(rt, rows[0], person)
    held = (quiet, "waiting: person is quiet") if quiet else await budget.hold_until(rt, person)
    if held is not None:
        await _wait_all(rt, rows, *held)
        return nudges.PENDING
    rows.extend(await budget.gather(rt, rows[0], len(rows), lease))
    sections: list[tuple[Nudge, Renderable]] = []
    for nudge in rows:
        if await _too_late(rt, nudge):
            continue
        rendered = await rt.registry.kinds[nudge.kind].render(rt, nudge, person)
        if rendered is None:
            await _settle(rt, nudges.mark_skipped, nudge, reason="nothing to send any more")
            continue
        sections.append((nudge, rendered))
    if not sections:
        return nudges.SKIPPED
    in_dm, message = _compose(rt, person, sections)
    # What did not fit in Slack's limits goes in the next slot's DM.
    rest = [n for n, _ in sections if n not in in_dm]
    for nudge in rest:
        due = max(nudge.due_at or rt.clock.now(), rt.clock.now())
        await _settle(
            rt,
            nudges.release,
            nudge,
            due_at=due,
            error="next DM: this one was full",
            refund_attempt=True,
        )
    channel = await open_dm(rt, lead.team_id, lead.user_slack_id, client=client)
    return in_dm, message, channel


def _compose(
    rt: Runtime, person: Person, sections: list[tuple[Nudge, Renderable]]
) -> tuple[list[Nudge], Message]:
    if len(sections) == 1:
        nudge, rendered = sections[0]
        return [nudge], Message(rendered.text, list(rendered.blocks))
    built, ids_in = bundle.compose(
        Texts(rt.catalog, person.locale),
        [bundle.Section(int(n.id or 0), r.text, list(r.blocks)) for n, r in sections],
    )
    return [n for n, _ in sections if n.id in ids_in], Message(built.text, built.blocks)


async def send_group(
    rt: Runtime,
    claimed: list[Nudge],
    *,
    client: AsyncWebClient | None = None,
    lease: timedelta = LEASE,
    on_rate_limited: RateLimited | None = None,
) -> str:
    """Send one person's claimed nudges, and those of theirs due within the hour, as one
    DM (a section each), within the noise budget. The guarantees are send_claimed's, for
    every row of the DM: each is `sending` with its post recorded before the post, all
    become `sent` with the same ts, and an uncertain post leaves each uncertain, to be
    found in the DM by its own key (the metadata names them all)."""
    client = client or rt.client
    lead = claimed[0]
    bind_ids(team=lead.team_id, user=lead.user_slack_id, nudge=lead.id)
    rows: list[Nudge] = []
    for nudge in claimed:
        if nudge.kind in rt.registry.kinds:
            rows.append(nudge)
        else:
            why = f"no renderer for kind {nudge.kind!r}"
            await _settle(rt, nudges.mark_failed, nudge, error=why)
    if not rows:
        return nudges.FAILED
    try:
        prepared = await _prepare_group(rt, rows, client, lease)
    except SlackApiError as e:
        api_err = e
        return await _each(
            rows,
            lambda n, first: _before_post_error(rt, n, api_err, on_rate_limited if first else None),
        )
    except (aiohttp.ClientError, TimeoutError, OSError) as e:
        why = f"connection: {e!r}"
        return await _each(rows, lambda n, _: _give_back(rt, n, _backoff(n.attempts), why))
    except Exception as e:
        log.exception("nudges %s could not be prepared", [n.id for n in rows])
        why = f"error: {e!r}"
        return await _each(rows, lambda n, _: _give_back(rt, n, _backoff(n.attempts), why))
    if isinstance(prepared, str):
        return prepared
    in_dm, message, channel = prepared
    return await _post_group(rt, in_dm, message, channel, client, lease, on_rate_limited)


async def _each(rows: list[Nudge], settle: Callable[[Nudge, bool], Awaitable[str]]) -> str:
    """Settle every row the same way; the first row's state is the group's."""
    states = [await settle(nudge, i == 0) for i, nudge in enumerate(rows)]
    return states[0]


async def _post_group(
    rt: Runtime,
    rows: list[Nudge],
    message: Message,
    channel: str,
    client: AsyncWebClient,
    lease: timedelta,
    on_rate_limited: RateLimited | None,
) -> str:
    for nudge in rows:
        if not await _settle(rt, nudges.mark_posting, nudge, lease=lease):
            # One row's claim was taken over: post nothing, hand back the others.
            log.warning("nudge %s: claim lost before posting; the DM waits", nudge.id)
            for other in rows:
                # Only rows still ours (the claim token): a lease that ran out for one
                # may have run out for all.
                await _settle(
                    rt,
                    nudges.release,
                    other,
                    due_at=other.due_at or rt.clock.now(),
                    error="a nudge of this DM changed hands",
                    refund_attempt=True,
                )
            return LOST_CLAIM
    metadata = nudge_metadata(rows[0]) if len(rows) == 1 else bundle_metadata(rows)
    try:
        resp = await client.chat_postMessage(
            channel=channel, text=message.text, blocks=message.blocks or None, metadata=metadata
        )
    except SlackApiError as e:
        post_err = e
        return await _each(
            rows, lambda n, first: _post_error(rt, n, post_err, on_rate_limited if first else None)
        )
    except (aiohttp.ClientError, TimeoutError, OSError, asyncio.CancelledError) as e:
        for nudge in rows:
            await _uncertain(rt, nudge, f"connection lost while posting: {e!r}")
        if isinstance(e, asyncio.CancelledError):
            raise
        return nudges.UNCERTAIN
    ts = str(resp.get("ts"))
    channel = str(resp.get("channel") or channel)
    kinds = rt.registry.kinds
    return await _each(
        rows, lambda n, _: _sent(rt, n, kinds.get(n.kind), channel, ts, budgeted=True)
    )
