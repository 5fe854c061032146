"""One way in for every deal, whatever announced it, and one way to correct it.

`take_in()` is the intake: a channel post, `/loop deal`, a click on "Did a deal close?",
the message and global shortcuts, the Workflow Builder step and the CRM webhook all call
it. It decides, in one transaction, whether the announcement is new, a repeat of a deal
already logged (same account as compared by `account_key`, outcome and rep within 24 h,
or the same CRM record), or — for a command — another outcome for a deal the rep already
has, which is asked about instead of logged.

`correct()` changes a logged deal: its outcome, account, amount or rep, or withdraws it.
Follow-ups move with it (a withdrawn deal's pending nudges are cancelled and it leaves
every streak; a new outcome re-evaluates the streak; a new rep gets the DM and the
reminder), and every deal DM already sent is updated in place with `chat.update`.

`take_in_proposal()` is the way in for a proposal that went out: not a deal yet, so the
rep gets the tee-up ask instead. `resolve_rep()` finds the rep an announcement names.

A shared module: every trigger calls it, so it imports no ritual module. The decisions
themselves are storage functions (storage/intake.py), each one transaction.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, replace
from typing import Any

import aiohttp
from slack_bolt.async_app import AsyncRespond
from slack_sdk.errors import SlackApiError

from bot import messages
from bot.accounts import parse_account
from bot.deals.parser import DealSignal
from bot.messages import Texts
from bot.messages import debrief as debrief_msg
from bot.messages import intake as intake_msg
from bot.messages.blocks import context
from bot.nudges.delivery import deliver
from bot.runtime import Runtime
from bot.slack.clicks import put_in_place
from bot.slack.errors import api_error
from bot.slack.people import is_admin, load_person, lookup_by_email
from bot.workspace_settings import effective
from storage import debriefs, intake, tee_ups
from storage.deals import OPEN, NewDeal, get_deal
from storage.debriefs import teeup_agreed
from storage.intake import REPEAT, Corrected, Correction, DmChange, FollowUps, Intake
from storage.models import Deal, Person

log = logging.getLogger(__name__)


async def follow_ups(rt: Runtime, team_id: str) -> FollowUps:
    settings = await effective(rt, team_id)
    return FollowUps(
        reminder_days=settings.debrief_reminder_days,
        loss_streak_at=settings.loss_streak,
    )


async def take_in(
    rt: Runtime,
    new: NewDeal,
    *,
    event_id: str | None = None,
    ask_other_outcome: bool = False,
    solved_problem: str | None = None,
) -> Intake:
    """Log one announcement of a closed deal and DM its rep, unless it repeats one.

    `ask_other_outcome`: a person typed it, so a different outcome for a deal they already
    have comes back as OTHER_OUTCOME for them to confirm, instead of a second deal.
    `solved_problem`: the key of an intake problem this announcement solves (a workflow
    step that failed before), cleared in the same transaction. (The CRM webhook takes
    its deals in through IntakeQueue and leaves their DMs to the dispatcher.)"""
    got = await rt.tx(
        intake.take_in,
        new=new,
        event_id=event_id,
        ask_other_outcome=ask_other_outcome,
        now=rt.clock.now(),
        follow_ups=await follow_ups(rt, new.team_id),
        solved_problem=solved_problem,
    )
    if got.status == intake.NEW and got.nudge_id is not None:
        return replace(got, dm_state=await deliver(rt, got.nudge_id))
    if got.status == REPEAT:
        log.info("deal %s announced again (%s); linked, no second DM", got.deal_id, new.source)
    return got


# At most this many deliveries share one transaction.
BATCH_MAX = 64


@dataclass
class _Waiting:
    announcement: intake.Announcement
    answer: asyncio.Future[Intake]


class IntakeQueue:
    """Machine-sent deals (the CRM webhook), taken in together: while one transaction
    runs, the deliveries that arrive wait, and the next transaction takes all of them
    (up to BATCH_MAX). A lone delivery waits for nothing; a burst pays one BEGIN, one
    COMMIT and one trip to a database thread per batch instead of per delivery. If a
    batch fails (a deadlock between replicas, a bad row), each of its deliveries is
    taken in alone, so one cannot fail the others."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.waiting: list[_Waiting] = []
        self.running = False

    async def take_in(self, new: NewDeal, *, solved_problem: str | None = None) -> Intake:
        loop = asyncio.get_running_loop()
        waiting = _Waiting(
            intake.Announcement(new, self.rt.clock.now(), solved_problem), loop.create_future()
        )
        self.waiting.append(waiting)
        if not self.running:
            self.running = True
            self.rt.spawn(self._run(), name="intake-batches")
        return await asyncio.shield(waiting.answer)

    async def _run(self) -> None:
        batch: list[_Waiting] = []
        try:
            while self.waiting:
                batch, self.waiting = self.waiting[:BATCH_MAX], self.waiting[BATCH_MAX:]
                await self._one_batch(batch)
        except BaseException as e:
            # Not one delivery may wait for ever: whatever stopped this (a cancelled
            # shutdown) is their answer too.
            for w in batch + self.waiting:
                _answer(w, error=e if isinstance(e, Exception) else RuntimeError("stopped"))
            self.waiting = []
            raise
        finally:
            self.running = False

    async def _one_batch(self, batch: list[_Waiting]) -> None:
        teams = sorted({w.announcement.new.team_id for w in batch})
        if len(teams) > 1:
            # Each workspace's deals follow its own settings (reminder days, streak).
            for team in teams:
                await self._one_batch([w for w in batch if w.announcement.new.team_id == team])
            return
        try:
            got = await self.rt.tx(
                intake.take_in_all,
                announcements=[w.announcement for w in batch],
                follow_ups=await follow_ups(self.rt, teams[0]),
            )
        except Exception as e:  # noqa: BLE001 - answered below, one way or the other
            if len(batch) == 1:
                _answer(batch[0], error=e)
                return
            log.warning("%d deliveries failed together; each alone now", len(batch), exc_info=True)
            for w in batch:
                await self._alone(w)
            return
        for w, result in zip(batch, got, strict=True):
            _answer(w, result=result)

    async def _alone(self, w: _Waiting) -> None:
        a = w.announcement
        try:
            result = await self.rt.tx(
                intake.take_in,
                new=a.new,
                event_id=None,
                ask_other_outcome=False,
                now=a.now,
                follow_ups=await follow_ups(self.rt, a.new.team_id),
                solved_problem=a.solved_problem,
            )
        except Exception as e:  # noqa: BLE001 - the delivery's own caller gets it
            _answer(w, error=e)
            return
        _answer(w, result=result)


def _answer(
    w: _Waiting, *, result: Intake | None = None, error: BaseException | None = None
) -> None:
    if w.answer.done():
        return
    if error is not None:
        w.answer.set_exception(error)
        # Read once here: a caller that gave up waiting (its time budget) never will.
        w.answer.add_done_callback(lambda f: f.exception())
    else:
        assert result is not None
        w.answer.set_result(result)


def intake_queue(rt: Runtime) -> IntakeQueue:
    queue = rt.intake_queue
    if queue is None:
        queue = rt.intake_queue = IntakeQueue(rt)
    assert isinstance(queue, IntakeQueue)
    return queue


# --- the rep, and proposals --------------------------------------------------------------

LOOKUP_TRIES = 3


async def resolve_rep(rt: Runtime, signal: DealSignal, poster: str | None) -> str | None:
    """The rep's Slack id: a mention, else the owner's email looked up in Slack.

    The event was acked already and Slack will not resend it, so a transient failure
    (timeout, 5xx, 429 after the client's own waits) is retried here rather than
    losing the deal's DM."""
    if signal.rep_user_id:
        return signal.rep_user_id
    if signal.rep_email:
        for attempt in range(LOOKUP_TRIES):
            try:
                found = await lookup_by_email(rt, signal.rep_email)
            except SlackApiError as e:
                log.warning("users.lookupByEmail failed: %s", api_error(e))
                if e.response.status_code < 500 and e.response.status_code != 429:
                    break
            except (aiohttp.ClientError, TimeoutError, OSError) as e:
                log.warning("users.lookupByEmail failed: %r", e)
            else:
                if found:
                    return found
                break
            await asyncio.sleep(0.5 * 2**attempt)
    return poster


# A machine that sent a deal (a CRM, a workflow) waits for the answer: the owner look-up
# gets this long, so the whole answer stays well inside Slack's and a CRM's 3 s.
FIND_REP_BUDGET = 1.5
# users.lookupByEmail is Tier 3, and a CRM names the same owners again and again; a
# few minutes, so a changed e-mail or a deactivated owner is seen soon enough.
EMAIL_CACHE_SECONDS = 300.0


@dataclass(frozen=True)
class RepLookup:
    """The rep a machine-sent deal names, or why there is none (worded for whoever wired
    the sender); `transient` when trying again later may work."""

    user_id: str | None
    problem: str | None = None
    transient: bool = False


async def find_rep(
    rt: Runtime, team_id: str, *, slack_id: str | None, email: str | None
) -> RepLookup:
    if email and not slack_id:
        cached = rt.email_ids.get((team_id, email.lower()))
        if cached is not None and time.monotonic() - cached[1] < EMAIL_CACHE_SECONDS:
            return RepLookup(cached[0])  # no Slack call, so no time budget to watch
    try:
        return await asyncio.wait_for(_find_rep(rt, team_id, slack_id, email), FIND_REP_BUDGET)
    except TimeoutError:
        return RepLookup(None, "Slack did not answer in time to find the owner", transient=True)
    except SlackApiError as e:
        return RepLookup(None, f"Slack failed to find the owner ({api_error(e)})", transient=True)
    except (aiohttp.ClientError, OSError) as e:
        return RepLookup(None, f"Slack could not be reached ({type(e).__name__})", transient=True)


async def _find_rep(
    rt: Runtime, team_id: str, slack_id: str | None, email: str | None
) -> RepLookup:
    if slack_id:
        try:
            person = await load_person(rt, team_id=team_id, user_id=slack_id)
        except SlackApiError as e:
            if api_error(e) != "user_not_found":
                raise
            return RepLookup(None, f"no Slack user has the id {slack_id}")
        if person.is_bot or person.deleted:
            return RepLookup(None, f"{slack_id} is a bot or a deactivated user, not a rep")
        return RepLookup(slack_id)
    if not email:
        return RepLookup(None, "the deal names no owner (an e-mail or a Slack user id)")
    found = await _lookup_once(rt, team_id, email)
    if found is None:
        return RepLookup(
            None,
            f"no Slack user has the e-mail {email} (the deal's owner): add them to Slack "
            "or correct the owner's e-mail in the CRM",
        )
    return RepLookup(found)


async def _lookup_once(rt: Runtime, team_id: str, email: str) -> str | None:
    """users.lookupByEmail, once per team and e-mail however many deliveries ask at the
    same moment (a CRM's burst names the same owners): the others wait for the one
    call in flight. A user found is remembered for EMAIL_CACHE_SECONDS; "not found" is
    not, so an owner added to Slack is found on the CRM's next try."""
    key = (team_id, email.lower())
    cached = rt.email_ids.get(key)
    if cached is not None and time.monotonic() - cached[1] < EMAIL_CACHE_SECONDS:
        return cached[0]
    pending = rt.email_lookups.get(key)
    if pending is None:
        pending = asyncio.ensure_future(_look_up_and_remember(rt, key, email))
        rt.email_lookups[key] = pending
        pending.add_done_callback(lambda done: _forget(rt, key, done))
    # Shielded: a caller that gives up (its time budget) leaves the call to the others.
    return await asyncio.shield(pending)


async def _look_up_and_remember(rt: Runtime, key: tuple[str, str], email: str) -> str | None:
    # Remembered by the look-up itself, before it stops being the one in flight: were
    # its waiters to do it when they wake, a delivery arriving in between would find
    # neither and ask Slack again.
    found = await lookup_by_email(rt, email)
    if found is not None:
        rt.email_ids[key] = (found, time.monotonic())
    return found


def _forget(rt: Runtime, key: tuple[str, str], done: asyncio.Future[str | None]) -> None:
    rt.email_lookups.pop(key, None)
    if not done.cancelled():
        done.exception()  # read here: every asker may have given up on it already


async def take_in_proposal(
    rt: Runtime, body: dict[str, Any], event: dict[str, Any], signal: DealSignal
) -> None:
    """A post about the proposal (moved into the proposal stage, about to go out, or
    sent): the rep gets the tee-up ask (a `tee_up` nudge), once per message, worded for
    before or after sending. Not a deal yet, so nothing is logged as one."""
    if not signal.account:
        log.info("proposal message %s/%s names no account", event.get("channel"), event.get("ts"))
        return
    team_id = str(body.get("team_id") or event.get("team") or rt.team_id or "")
    poster = None if event.get("bot_id") else event.get("user")
    rep = await resolve_rep(rt, signal, poster)
    if not rep:
        log.warning("proposal for %s has no rep to DM", signal.account)
        return
    nudge_id = await rt.tx(
        tee_ups.schedule_tee_up,
        team_id=team_id,
        rep=rep,
        account=parse_account(signal.account),
        key=f"tee_up:msg:{team_id}:{event.get('channel')}:{event.get('ts')}",
        source="channel",
        now=rt.clock.now(),
        sent=signal.outcome == "proposal_sent",
    )
    if nudge_id is not None:
        await deliver(rt, nudge_id)


# --- the deal DM ------------------------------------------------------------------------


async def deal_dm_for(rt: Runtime, deal: Deal, person: Person) -> messages.Built:
    """The deal DM as it should look now: the script for the outcome, where its debrief
    is (bot/messages/clicks.py), and "Not right?"."""
    assert deal.id is not None
    t = Texts(rt.catalog, person.locale)
    # The tee-up note is worded for a no ("if it didn't go our way"), so wins skip it.
    note = deal.outcome != "won" and await rt.tx(
        teeup_agreed, write=False, team_id=deal.team_id, account=deal.account
    )
    # The DM shows where its debrief is: the mode chosen, and whether it is logged.
    state = await rt.tx(debriefs.deal_state, write=False, deal_id=deal.id)
    run = state.run if state is not None else None
    return messages.deal_dm(
        t,
        deal_id=deal.id,
        account=deal.account,
        outcome=deal.outcome,
        amount=deal.amount,
        currency=deal.currency,
        extra=[context(t("teeup.debrief_note", account=deal.account))] if note else (),
        footer=[intake_msg.fix_menu(t, deal_id=deal.id)],
        mode=state.data.mode if state is not None else None,
        logged=run is not None and run.state == debriefs.LOGGED,
        called=_called(state),
    )


def _called(state: debriefs.DealState | None) -> str | None:
    """Who was asked to make the call about this deal (None when nobody, or they declined)."""
    call = state.call if state is not None else None
    if call is None or call.state == debriefs.DECLINED:
        return None
    return call.user_slack_id


async def refresh_deal_dm(
    rt: Runtime,
    deal_id: int,
    *,
    respond: AsyncRespond | None = None,
    channel: str | None = None,
    ts: str | None = None,
) -> bool:
    """Bring the rep's deal DM up to date with its debrief (a mode chosen, the debrief
    logged): the clicked copy when given, else the DM as sent. Never raises; False when
    the message could not change (the state is saved either way)."""
    state = await rt.tx(debriefs.deal_state, write=False, deal_id=deal_id)
    if state is None or not state.deal.rep_slack_id:
        return False
    channel = channel or state.data.dm_channel
    ts = ts or state.data.dm_ts
    if not channel or not ts:
        return False
    try:
        person = await load_person(rt, team_id=state.deal.team_id, user_id=state.deal.rep_slack_id)
        built = await deal_dm_for(rt, state.deal, person)
    except Exception:  # noqa: BLE001 - the state is saved; only the old DM stays as it was
        log.warning("could not render the DM for deal %s", deal_id, exc_info=True)
        return False
    return await put_in_place(rt.client, respond, channel=channel, ts=ts, built=built)


async def show_logged(rt: Runtime, deal_id: int) -> None:
    """A debrief was just logged: its deal DM and any reminder already sent show it
    (their buttons to choose or to log make way). Never raises."""
    await refresh_deal_dm(rt, deal_id)
    state = await rt.tx(debriefs.deal_state, write=False, deal_id=deal_id)
    rep = state.deal.rep_slack_id if state is not None else None
    if state is None or not rep:
        return
    deal = state.deal
    try:
        person = await load_person(rt, team_id=deal.team_id, user_id=rep)
    except Exception:  # noqa: BLE001 - the debrief is saved; old reminders stay as they were
        log.warning("could not show deal %s as logged", deal_id, exc_info=True)
        return
    built = debrief_msg.debrief_reminder(
        Texts(rt.catalog, person.locale),
        deal_id=deal_id,
        account=deal.account,
        days=(await effective(rt, deal.team_id)).debrief_reminder_days,
        won=deal.outcome == "won",
        logged=True,
    )
    for channel, ts in await rt.tx(debriefs.sent_reminders, write=False, deal_id=deal_id):
        await put_in_place(rt.client, None, channel=channel, ts=ts, built=built)


# --- corrections ------------------------------------------------------------------------


async def correct(rt: Runtime, deal_id: int, fix: Correction) -> Corrected | None:
    """Apply a correction, then show it: every deal DM already sent is updated in place,
    and a new rep gets theirs. A DM not sent yet needs nothing: it renders the deal as it
    is when it goes out."""
    deal = await rt.tx(get_deal, write=False, deal_id=deal_id)
    team_id = deal.team_id if deal is not None else rt.team_id or ""
    done = await rt.tx(
        intake.correct,
        deal_id=deal_id,
        fix=fix,
        now=rt.clock.now(),
        follow_ups=await follow_ups(rt, team_id),
    )
    if done is None or not done.changed:
        return done
    for change in done.dms:
        await _update_dm(rt, done.deal, change)
    for nudge_id in done.deliver_ids:
        await deliver(rt, nudge_id)
    return done


async def _update_dm(rt: Runtime, deal: Deal, change: DmChange) -> None:
    try:
        person = await load_person(rt, team_id=deal.team_id, user_id=change.user)
        t = Texts(rt.catalog, person.locale)
        if change.how == "withdrawn":
            built = intake_msg.withdrawn_dm(
                t, account=deal.account, reason=deal.withdrawn_reason or ""
            )
        elif change.how == "handed":
            built = intake_msg.handed_dm(t, account=deal.account, rep=str(deal.rep_slack_id))
        else:
            built = await deal_dm_for(rt, deal, person)
        await rt.client.chat_update(channel=change.channel, ts=change.ts, **built.as_kwargs())
    except SlackApiError as e:
        # The deal is corrected either way; an old DM that can't be edited stays as it was.
        log.warning("could not update the DM for deal %s: %s", deal.id, api_error(e))


# --- who may correct a deal ---------------------------------------------------------------


async def may_correct(rt: Runtime, deal: Deal, user_id: str, *, also: tuple[str, ...] = ()) -> bool:
    """The deal's rep, or an admin (or anyone in `also`, e.g. who typed the command)."""
    if user_id and (user_id == deal.rep_slack_id or user_id in also):
        return True
    try:
        person = await load_person(rt, team_id=deal.team_id, user_id=user_id)
    except Exception:  # noqa: BLE001 - an unknown clicker is simply not allowed
        return False
    return await rt.db(is_admin, rt, deal.team_id, person)


async def open_deal(rt: Runtime, deal_id: int | None) -> Deal | None:
    """The deal, while it is still open (not withdrawn); None otherwise."""
    if deal_id is None:
        return None
    deal = await rt.tx(get_deal, write=False, deal_id=deal_id)
    return deal if deal_is_open(deal) else None


def deal_is_open(deal: Deal | None) -> bool:
    return deal is not None and deal.status == OPEN


def payload_deal_id(payload: dict[str, Any]) -> int | None:
    try:
        return int(payload.get("deal_id") or 0) or None
    except (TypeError, ValueError):
        return None
