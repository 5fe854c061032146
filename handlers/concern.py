"""Concern check-ins: `/loop concern <account> — <concern>` (or the button in a debrief)
opens a loop; after CONCERN_DELAY_HOURS the rep is asked whether they checked with the
client: "Was that enough to satisfy your concern?". *Not yet* and *didn't ask* ask again
later; the loop stays open until the rep closes or drops it. `/loop concern list` shows
the open ones.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import datetime, timedelta
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.clock import zone_of
from bot.messages import Built, Texts
from bot.messages import concern as views
from bot.nudges.registry import KindPolicy, NudgeKind
from bot.runtime import Runtime
from bot.slack.acks import open_view_after_ack
from bot.slack.errors import api_error
from bot.slack.people import load_person
from handlers.loop_command import CommandCall, LoopCommand, reader_texts
from storage import concerns
from storage.db import unit_of_work
from storage.deals import get_deal
from storage.models import Nudge, Person, RitualRun
from storage.people import get_person

log = logging.getLogger(__name__)

# Em dash, en dash, a hyphen with a space on either side (so "Coca-Cola" stays whole),
# a double hyphen, or a colon.
SEPARATOR = re.compile(r"\s*(?:—|–|--|\s-\s?|-\s|:)\s*")
ANSWER_ACTIONS = {
    "concern_satisfied": concerns.SATISFIED,
    "concern_not_yet": concerns.NOT_YET,
    "concern_didnt_ask": concerns.DIDNT_ASK,
    "concern_drop": concerns.DROP,
}
LIST_ACTIONS = {"concern_list_close": concerns.SATISFIED, "concern_list_drop": concerns.DROP}


def _unescape(text: str) -> str:
    # /loop is installed with should_escape: Slack sends &, < and > as entities.
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def parse_concern(args: str) -> tuple[str, str]:
    """`<account> — <concern>` -> (account, concern); either may come back empty."""
    text = _unescape(args).strip()
    m = SEPARATOR.search(text)
    if m is None:
        return text[: views.ACCOUNT_MAX].strip(), ""
    account = text[: m.start()].strip()
    concern = text[m.end() :].strip()
    return account[: views.ACCOUNT_MAX], concern[: views.CONCERN_MAX]


def delay(rt: Runtime) -> timedelta:
    return timedelta(hours=rt.settings.concern_delay_hours)


def delay_days(rt: Runtime) -> int:
    """For "I'll ask again in {days} days"; never 0 for a delay shorter than a day."""
    return max(1, round(rt.settings.concern_delay_hours / 24))


def local_date(when: datetime | None, tz: str | None) -> str:
    return when.astimezone(zone_of(tz)).strftime("%Y-%m-%d") if when else ""


# --- the check-in DM ---------------------------------------------------------------------


async def render_checkin(rt: Runtime, nudge: Nudge, person: Person) -> Built | None:
    run_id = int(nudge.payload["run_id"])

    def read() -> RitualRun | None:
        with unit_of_work(rt.engine) as session:
            return concerns.get_loop(session=session, run_id=run_id)

    run = await rt.db(read)
    if run is None or run.state != concerns.OPEN:
        return None  # closed or dropped since: nothing to ask any more
    return views.checkin(
        Texts(rt.catalog, person.locale),
        run_id=run_id,
        n=int(nudge.payload.get("n") or 1),
        account=run.account or "",
        concern=str(run.data.get("concern") or ""),
    )


def _parse_value(value: str) -> tuple[int, int | None] | None:
    run, _, n = value.partition(":")
    try:
        return int(run), (int(n) if n else None)
    except ValueError:
        return None


async def _answer(
    rt: Runtime, *, user_id: str, run_id: int, n: int | None, reply: str
) -> RitualRun | None:
    now = rt.clock.now()

    def write() -> RitualRun | None:
        with unit_of_work(rt.engine) as session:
            return concerns.answer(
                session=session,
                run_id=run_id,
                user_slack_id=user_id,
                reply=reply,
                n=n,
                now=now,
                next_due=now + delay(rt),
            )

    return await rt.db(write)


def _reply_text(rt: Runtime, t: Texts, reply: str) -> tuple[str, str | None]:
    """The answer to the rep's click, and the looping tip when the loop stays open."""
    days = delay_days(rt)
    if reply == concerns.SATISFIED:
        return t("concern.reply_satisfied"), None
    if reply == concerns.DROP:
        return t("concern.dropped"), None
    if reply == concerns.NOT_YET:
        # reply_not_yet already carries "Did I get that right?"; the tip would repeat it.
        return t("concern.reply_not_yet", days=days), None
    return t("concern.reply_didnt_ask", days=days), t("concern.looping_tip")


async def on_checkin_answer(
    rt: Runtime, client: AsyncWebClient, respond: AsyncRespond, body: dict[str, Any]
) -> None:
    action = body["actions"][0]
    user_id = str(body["user"]["id"])
    t = await reader_texts(rt, str((body.get("team") or {}).get("id") or rt.team_id), user_id)
    parsed = _parse_value(str(action.get("value") or ""))
    run = None
    if parsed is not None:
        run_id, n = parsed
        run = await _answer(
            rt, user_id=user_id, run_id=run_id, n=n, reply=ANSWER_ACTIONS[action["action_id"]]
        )
    if run is None:
        await respond(text=t("concern.not_open"), response_type="ephemeral", replace_original=False)
        return
    text, tip = _reply_text(rt, t, ANSWER_ACTIONS[action["action_id"]])
    built = views.answered(
        t,
        account=run.account or "",
        concern=str(run.data.get("concern") or ""),
        reply=text,
        tip=tip,
    )
    container = body.get("container") or {}
    channel = str(container.get("channel_id") or (body.get("channel") or {}).get("id") or "")
    ts = str(container.get("message_ts") or "")
    try:
        await client.chat_update(channel=channel, ts=ts, **built.as_kwargs())
    except SlackApiError as e:
        # The answer is saved; say so even if the old message can't be changed.
        log.warning("concern check-in update failed: %s", api_error(e))
        await respond(text=built.text, blocks=built.blocks, replace_original=False)


# --- /loop concern and /loop concern list -------------------------------------------------


async def _loop_lines(
    rt: Runtime, team_id: str, user_id: str
) -> tuple[list[views.LoopLine], str | None]:
    """The rep's open loops, with dates in their zone (and the zone, for the caller)."""

    def read() -> tuple[list[RitualRun], str | None]:
        with unit_of_work(rt.engine) as session:
            person = get_person(session=session, team_id=team_id, slack_id=user_id)
            loops = concerns.open_loops(session=session, team_id=team_id, user_slack_id=user_id)
            return loops, person.tz if person else None

    loops, tz = await rt.db(read)
    return [
        views.LoopLine(
            run_id=int(run.id or 0),
            account=run.account or "",
            concern=str(run.data.get("concern") or ""),
            since=local_date(run.created_at, tz),
            next_checkin=local_date(run.due_at, tz),
        )
        for run in loops
    ], tz


async def list_command(call: CommandCall) -> None:
    lines, _tz = await _loop_lines(call.rt, call.team_id, call.user_id)
    built = views.loop_list(call.t, lines)
    await call.ack(text=built.text, blocks=built.blocks, response_type="ephemeral")


async def track(
    rt: Runtime,
    *,
    team_id: str,
    user_id: str,
    account: str,
    concern: str,
    deal_id: int | None = None,
) -> datetime:
    """Open the loop and schedule its first check-in; returns when that is."""
    now = rt.clock.now()
    due = now + delay(rt)

    def write() -> None:
        with unit_of_work(rt.engine) as session:
            concerns.open_concern(
                session=session,
                team_id=team_id,
                rep_slack_id=user_id,
                account=account,
                concern=concern,
                deal_id=deal_id,
                due_at=due,
                now=now,
            )

    await rt.db(write)
    return due


async def concern_command(call: CommandCall) -> None:
    t = call.t
    if call.args.strip().lower() == "list":
        await list_command(call)
        return
    account, concern = parse_concern(call.args)
    if not account:
        await call.reply(t("concern.usage"))
        return
    if not concern:
        await call.reply(t("concern.usage_no_concern", account=account))
        return
    await call.ack()
    rt = call.rt

    async def work() -> None:
        due = await track(
            rt, team_id=call.team_id, user_id=call.user_id, account=account, concern=concern
        )
        person = await load_person(rt, team_id=call.team_id, user_id=call.user_id)
        # A first-time user's language is known only now, from users.info.
        t = Texts(rt.catalog, person.locale)
        text = t(
            "concern.logged", date=local_date(due, person.tz), account=account, concern=concern
        )
        await call.respond(text=text, response_type="ephemeral")

    rt.spawn(work(), name=f"concern:{call.user_id}")


async def on_list_action(rt: Runtime, respond: AsyncRespond, body: dict[str, Any]) -> None:
    action = body["actions"][0]
    user_id = str(body["user"]["id"])
    team_id = str((body.get("team") or {}).get("id") or rt.team_id or "")
    t = await reader_texts(rt, team_id, user_id)
    parsed = _parse_value(str(action.get("value") or ""))
    reply = LIST_ACTIONS[action["action_id"]]
    run = None
    if parsed is not None:
        run = await _answer(rt, user_id=user_id, run_id=parsed[0], n=None, reply=reply)
    lines, tz = await _loop_lines(rt, team_id, user_id)
    if run is None:
        note = t("concern.not_open")
    else:
        # Which loop it was, then what that means: the refreshed list no longer shows it.
        item = t(
            "concern.list_item",
            account=run.account or "",
            concern=str(run.data.get("concern") or ""),
            date=local_date(run.created_at, tz),
        )
        note = item + "\n" + _reply_text(rt, t, reply)[0]
    built = views.loop_list(t, lines, note=note)
    await respond(text=built.text, blocks=built.blocks, replace_original=True)


# --- the modal from a debrief --------------------------------------------------------------


def _person_tz(rt: Runtime, team_id: str, user_id: str) -> str | None:
    with unit_of_work(rt.engine) as session:
        person = get_person(session=session, team_id=team_id, slack_id=user_id)
        return person.tz if person else None


async def open_modal(
    rt: Runtime, client: AsyncWebClient, body: dict[str, Any], deal_value: str
) -> None:
    user_id = str(body["user"]["id"])
    team_id = str((body.get("team") or {}).get("id") or rt.team_id or "")
    t = await reader_texts(rt, team_id, user_id)
    deal_id = int(deal_value) if deal_value.isdigit() else None

    def read() -> tuple[str, str | None]:
        with unit_of_work(rt.engine) as session:
            deal = get_deal(session=session, deal_id=deal_id) if deal_id else None
            person = get_person(session=session, team_id=team_id, slack_id=user_id)
            account = deal.account if deal is not None and deal.team_id == team_id else ""
            return account, person.tz if person else None

    account, tz = await rt.db(read)
    due = rt.clock.now() + delay(rt)
    view = views.modal(t, account=account, date=local_date(due, tz), deal_id=deal_id)
    open_view_after_ack(rt, client, body.get("trigger_id"), view, name="concern")


async def on_modal_submit(rt: Runtime, ack: AsyncAck, body: dict[str, Any]) -> None:
    user_id = str(body["user"]["id"])
    team_id = str((body.get("team") or {}).get("id") or rt.team_id or "")
    t = await reader_texts(rt, team_id, user_id)
    view = body["view"]
    values = (view.get("state") or {}).get("values") or {}

    def typed(block: str, limit: int) -> str:
        value = ((values.get(block) or {}).get(block) or {}).get("value") or ""
        return _unescape(str(value)).strip()[:limit]

    account, concern = typed("account", views.ACCOUNT_MAX), typed("concern", views.CONCERN_MAX)
    errors: dict[str, str] = {}
    if not account:
        errors["account"] = t("concern.error_account")
    if not concern:
        errors["concern"] = t("concern.error_concern")
    if errors:
        await ack(response_action="errors", errors=errors)
        return
    try:
        meta = json.loads(view.get("private_metadata") or "{}")
        deal_id = int(meta["deal_id"]) if meta.get("deal_id") else None
    except (ValueError, TypeError, KeyError):
        deal_id = None
    # The confirmation needs only the date; the rep's zone is one indexed read.
    tz = await rt.db(_person_tz, rt, team_id, user_id)
    due = rt.clock.now() + delay(rt)
    text = t("concern.logged", date=local_date(due, tz), account=account, concern=concern)
    await ack(response_action="update", view=views.saved_view(t, text))
    rt.spawn(
        track(
            rt, team_id=team_id, user_id=user_id, account=account, concern=concern, deal_id=deal_id
        ),
        name=f"concern-modal:{user_id}",
    )


def register(app: AsyncApp, rt: Runtime, commands: LoopCommand) -> None:
    commands.add("concern", concern_command, help_key="help.line_concern")

    @app.action(re.compile(r"^concern_(satisfied|not_yet|didnt_ask|drop)$"))
    async def concern_answered(
        ack: AsyncAck, respond: AsyncRespond, client: AsyncWebClient, body: dict[str, Any]
    ) -> None:
        await ack()
        rt.spawn(on_checkin_answer(rt, client, respond, body), name="concern-answer")

    @app.action(re.compile(r"^concern_list_(close|drop)$"))
    async def concern_list_action(
        ack: AsyncAck, respond: AsyncRespond, body: dict[str, Any]
    ) -> None:
        await ack()
        rt.spawn(on_list_action(rt, respond, body), name="concern-list")

    @app.action("concern_open")
    async def concern_open(ack: AsyncAck, client: AsyncWebClient, body: dict[str, Any]) -> None:
        await ack()
        # The trigger expires 3 s after the click: open the modal now, not in the background.
        await open_modal(rt, client, body, str(body["actions"][0].get("value") or ""))

    @app.view(views.MODAL_CALLBACK)
    async def concern_submitted(ack: AsyncAck, body: dict[str, Any]) -> None:
        await on_modal_submit(rt, ack, body)


# Still worth asking days late (after downtime or a vacation), and skipping it would leave
# an open loop with no next check-in: no lateness limit.
NUDGE_KINDS = (
    NudgeKind(
        concerns.CHECKIN_KIND, render_checkin, policy=KindPolicy(max_late=None, when_quiet="wait")
    ),
)
