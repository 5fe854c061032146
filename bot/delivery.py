"""Sending a nudge: claim it, render it in the rep's language, post it, record the outcome.

The row is committed before anything is sent and marked `sent` only after Slack says
ok, so a crash can never leave a DM without a record, nor a record of a DM that did
not go out. What happens on each failure is decided here, once:

- 429 (after the client's own Retry-After wait): nothing was posted; try again later.
- conversations.open failing: nothing was posted; try again later, or fail if permanent.
- chat.postMessage 5xx / connection lost: it may have posted; `uncertain`, not retried.
- a permanent error (user gone, account inactive, channel missing): `failed`, with why.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError

from bot.people import load_person
from bot.runtime import Runtime
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
        "invalid_auth",
        "invalid_blocks",
        "is_archived",
        "messages_tab_disabled",
        "missing_scope",
        "msg_too_long",
        "no_text",
        "not_authed",
        "not_in_channel",
        "token_revoked",
        "user_disabled",
        "user_is_bot",
        "user_not_found",
        "users_not_found",
        "user_not_visible",
    }
)


@dataclass
class Message:
    text: str
    blocks: list[dict[str, Any]] = field(default_factory=list)


Renderer = Callable[[Runtime, Nudge, Person], Awaitable[Message | None]]
AfterSent = Callable[[Runtime, Nudge, str, str], Awaitable[None]]
# Returns when a quiet person may next be nudged (None: not quiet now).
QuietCheck = Callable[[Runtime, Nudge, Person], Awaitable[datetime | None]]


@dataclass(frozen=True)
class KindPolicy:
    """How a kind of nudge behaves when it cannot go out on time.

    max_late: past its due time by more than this, it is skipped instead of sent
      (an end-of-day reflection at 3 a.m. makes no sense; a concern check-in a day
      late still does). None = always worth sending.
    when_quiet: "wait" keeps it until the person is reachable again; "skip" drops it.
    respects_quiet: False for messages the person asked for just now (a deal DM
      they triggered themselves), which go out even while snoozed."""

    max_late: timedelta | None = None
    when_quiet: str = "wait"
    respects_quiet: bool = True


@dataclass
class _Kind:
    render: Renderer
    after_sent: AfterSent | None
    policy: KindPolicy


def register_kind(
    rt: Runtime,
    kind: str,
    render: Renderer,
    after_sent: AfterSent | None = None,
    *,
    policy: KindPolicy | None = None,
) -> None:
    """Each ritual declares how its nudges look and behave; delivery stays ignorant of
    rituals."""
    rt.kinds[kind] = _Kind(render, after_sent, policy or KindPolicy())


def policy_for(rt: Runtime, kind: str) -> KindPolicy:
    entry = rt.kinds.get(kind)
    return entry.policy if isinstance(entry, _Kind) else KindPolicy()


def add_quiet_check(rt: Runtime, check: QuietCheck) -> None:
    """Pause, snooze, vacations, holidays and Slack's Do Not Disturb each add one."""
    rt.quiet_checks.append(check)


def _retry_after(e: SlackApiError) -> float:
    try:
        return float(e.response.headers.get("Retry-After", 1))
    except (TypeError, ValueError):
        return 1.0


def _backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(30 * 2 ** max(attempts - 1, 0), 3600))


async def deliver(rt: Runtime, nudge_id: int) -> str | None:
    """Claim this nudge and send it now. None when someone else holds it."""
    now = rt.clock.now()

    def take() -> Nudge | None:
        with unit_of_work(rt.engine) as session:
            return nudges.claim(session=session, nudge_id=nudge_id, now=now, lease=LEASE)

    nudge = await rt.db(take)
    if nudge is None:
        return None
    return await send_claimed(rt, nudge)


async def _settle(rt: Runtime, fn: Callable[..., bool], nudge: Nudge, **kwargs: Any) -> None:
    now = rt.clock.now()

    def write() -> None:
        with unit_of_work(rt.engine) as session:
            fn(session=session, nudge_id=nudge.id, now=now, **kwargs)

    await rt.db(write)


async def _give_back(rt: Runtime, nudge: Nudge, delay: timedelta, error: str) -> str:
    if nudge.attempts >= MAX_ATTEMPTS:
        await _settle(rt, nudges.mark_failed, nudge, error=f"gave up after retries: {error}")
        return nudges.FAILED
    due = rt.clock.now() + delay
    await _settle(rt, nudges.release, nudge, due_at=due, error=error)
    return nudges.PENDING


async def send_claimed(rt: Runtime, nudge: Nudge) -> str:
    """Send a nudge this worker has claimed; returns the state it ends in."""
    assert nudge.id is not None
    entry: _Kind | None = rt.kinds.get(nudge.kind)
    if entry is None:
        await _settle(rt, nudges.mark_failed, nudge, error=f"no renderer for kind {nudge.kind!r}")
        return nudges.FAILED
    try:
        person = await load_person(rt, team_id=nudge.team_id, user_id=nudge.user_slack_id)
        if person.deleted:
            await _settle(rt, nudges.mark_failed, nudge, error="user_not_found: deactivated")
            return nudges.FAILED
        held = await _hold_back(rt, nudge, person, entry.policy)
        if held is not None:
            return held
        message = await entry.render(rt, nudge, person)
        if message is None:
            await _settle(rt, nudges.mark_skipped, nudge, reason="nothing to send any more")
            return nudges.SKIPPED
        opened = await rt.client.conversations_open(users=nudge.user_slack_id)
        channel = str(opened["channel"]["id"])
    except SlackApiError as e:
        return await _before_post_error(rt, nudge, e)
    except (aiohttp.ClientError, TimeoutError, OSError) as e:
        return await _give_back(rt, nudge, _backoff(nudge.attempts), f"connection: {e!r}")

    await _settle(rt, nudges.mark_posting, nudge)
    try:
        resp = await rt.client.chat_postMessage(
            channel=channel, text=message.text, blocks=message.blocks or None
        )
    except SlackApiError as e:
        status = e.response.status_code
        error = str(e.response.get("error") or f"http_{status}")
        if status == 429:
            return await _give_back(rt, nudge, timedelta(seconds=_retry_after(e)), error)
        if status >= 500:
            await _settle(rt, nudges.mark_uncertain, nudge, error=f"{error} (HTTP {status})")
            return nudges.UNCERTAIN
        await _settle(rt, nudges.mark_failed, nudge, error=error)
        log.warning("nudge %s (%s) failed: %s", nudge.id, nudge.kind, error)
        return nudges.FAILED
    except (aiohttp.ClientError, TimeoutError, OSError, asyncio.CancelledError) as e:
        await _settle(
            rt, nudges.mark_uncertain, nudge, error=f"connection lost while posting: {e!r}"
        )
        if isinstance(e, asyncio.CancelledError):
            raise
        return nudges.UNCERTAIN

    ts = str(resp.get("ts"))
    await _settle(rt, nudges.mark_sent, nudge, channel=channel, ts=ts)
    if entry.after_sent is not None:
        await entry.after_sent(rt, nudge, channel, ts)
    return nudges.SENT


async def _hold_back(rt: Runtime, nudge: Nudge, person: Person, policy: KindPolicy) -> str | None:
    """Too late to make sense, or the person is quiet: settle without sending."""
    now = rt.clock.now()
    if policy.max_late is not None and nudge.due_at and now - nudge.due_at > policy.max_late:
        late = now - nudge.due_at
        await _settle(rt, nudges.mark_skipped, nudge, reason=f"too late to send ({late} late)")
        return nudges.SKIPPED
    if not policy.respects_quiet:
        return None
    for check in rt.quiet_checks:
        until = await check(rt, nudge, person)
        if until is None or until <= now:
            continue
        if policy.when_quiet == "skip":
            await _settle(rt, nudges.mark_skipped, nudge, reason="person was quiet")
            return nudges.SKIPPED
        await _settle(rt, nudges.release, nudge, due_at=until, error="waiting: person is quiet")
        return nudges.PENDING
    return None


async def _before_post_error(rt: Runtime, nudge: Nudge, e: SlackApiError) -> str:
    """An error before chat.postMessage: nothing was posted, so retrying is safe."""
    status = e.response.status_code
    error = str(e.response.get("error") or f"http_{status}")
    if status == 429:
        return await _give_back(rt, nudge, timedelta(seconds=_retry_after(e)), error)
    if error in PERMANENT_ERRORS or (status < 500 and error != f"http_{status}"):
        await _settle(rt, nudges.mark_failed, nudge, error=error)
        log.warning("nudge %s (%s) failed: %s", nudge.id, nudge.kind, error)
        return nudges.FAILED
    return await _give_back(rt, nudge, _backoff(nudge.attempts), error)
