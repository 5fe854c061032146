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

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.clock import zone_of
from bot.messages import Built, Texts
from bot.messages import concern as views
from bot.messages.blocks import context
from bot.nudges.registry import KindPolicy, NudgeKind
from bot.runtime import Runtime, rt_of
from bot.slack import ids
from bot.slack.acks import open_view_after_ack
from bot.slack.clicks import clicked, put_in_place
from bot.slack.people import load_person
from bot.workspace_settings import effective
from handlers.loop_command import CommandCall, LoopCommand, reader_texts
from storage import concerns
from storage.models import Nudge, Person, RitualRun
from storage.people import person_tz
from storage.run_data import concern_data

log = logging.getLogger(__name__)

# Em dash, en dash, a hyphen with a space on either side (so "Coca-Cola" stays whole),
# a double hyphen, or a colon.
SEPARATOR = re.compile(r"\s*(?:—|–|--|\s-\s?|-\s|:)\s*")
ANSWER_ACTIONS = {
    ids.CONCERN_SATISFIED: concerns.SATISFIED,
    ids.CONCERN_NOT_YET: concerns.NOT_YET,
    ids.CONCERN_DIDNT_ASK: concerns.DIDNT_ASK,
    ids.CONCERN_DROP: concerns.DROP,
}
LIST_ACTIONS = {ids.CONCERN_LIST_CLOSE: concerns.SATISFIED, ids.CONCERN_LIST_DROP: concerns.DROP}


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


async def delay(rt: Runtime, team_id: str) -> timedelta:
    return timedelta(hours=(await effective(rt, team_id)).concern_delay_hours)


async def delay_days(rt: Runtime, team_id: str) -> int:
    """For "I'll ask again in {days} days"; never 0 for a delay shorter than a day."""
    return max(1, round((await effective(rt, team_id)).concern_delay_hours / 24))


def local_date(when: datetime | None, tz: str | None) -> str:
    return when.astimezone(zone_of(tz)).strftime("%Y-%m-%d") if when else ""


# --- the check-in DM ---------------------------------------------------------------------


async def render_checkin(rt: Runtime, nudge: Nudge, person: Person) -> Built | None:
    run_id = int(nudge.payload["run_id"])
    run = await rt.tx(concerns.get_loop, write=False, run_id=run_id)
    if run is None or run.state != concerns.OPEN:
        return None  # closed or dropped since: nothing to ask any more
    t = Texts(rt.catalog, person.locale)
    n = int(nudge.payload.get("n") or 1)
    if any(a.n == n for a in concern_data(run).asks):
        return None  # this check-in was answered before its second ask
    built = views.checkin(
        t, run_id=run_id, n=n, account=run.account or "", concern=concern_data(run).concern
    )
    if nudge.payload.get("again"):
        built.blocks.insert(0, context(t("concern_overdue.asked_again")))
    return built


async def after_checkin(rt: Runtime, nudge: Nudge, channel: str, ts: str) -> None:
    """Unanswered, a check-in is asked once more after the same delay; then it shows
    as overdue (storage.concerns.checkin_sent)."""
    now = rt.clock.now()
    await rt.tx(
        concerns.checkin_sent,
        run_id=int(nudge.payload["run_id"]),
        n=int(nudge.payload.get("n") or 1),
        again=bool(nudge.payload.get("again")),
        now=now,
        ask_again_at=now + await delay(rt, nudge.team_id),
    )


def _parse_value(value: str) -> tuple[int, int | None] | None:
    run, _, n = value.partition(":")
    try:
        return int(run), (int(n) if n else None)
    except ValueError:
        return None


def _team_of(body: dict[str, Any], rt: Runtime) -> str:
    return str((body.get("team") or {}).get("id") or rt.team_id or "")


async def _answer(
    rt: Runtime, *, team_id: str, user_id: str, run_id: int, n: int | None, reply: str
) -> RitualRun | None:
    now = rt.clock.now()
    return await rt.tx(
        concerns.answer,
        run_id=run_id,
        user_slack_id=user_id,
        reply=reply,
        n=n,
        now=now,
        next_due=now + await delay(rt, team_id),
    )


def _reply_text(t: Texts, reply: str, days: int) -> tuple[str, str | None]:
    """The answer to the rep's click, and the looping tip when the loop stays open
    (asked again in `days` days)."""
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
    team_id = _team_of(body, rt)
    t = await reader_texts(rt, team_id, user_id)
    parsed = _parse_value(str(action.get("value") or ""))
    run = None
    if parsed is not None:
        run_id, n = parsed
        reply = ANSWER_ACTIONS[action["action_id"]]
        run = await _answer(rt, team_id=team_id, user_id=user_id, run_id=run_id, n=n, reply=reply)
    if run is None:
        await respond(text=t("concern.not_open"), response_type="ephemeral", replace_original=False)
        return
    clicked_answer = ANSWER_ACTIONS[action["action_id"]]
    # A check-in answered already (a double click, an old copy) shows what was recorded.
    recorded = next(
        (a.answer for a in concern_data(run).asks if parsed and a.n == parsed[1]), clicked_answer
    )
    text, tip = _reply_text(t, recorded, await delay_days(rt, team_id))
    built = views.answered(
        t,
        account=run.account or "",
        concern=concern_data(run).concern,
        reply=text,
        tip=tip,
        chosen=recorded,
    )
    channel, ts = clicked(body)[2:4]
    shown = await put_in_place(client, respond, channel=channel, ts=ts, built=built)
    if recorded != clicked_answer or not shown:
        key = "state.already_answered" if recorded != clicked_answer else "state.kept_not_shown"
        label = t(views.ANSWER_BUTTONS[recorded])
        await respond(text=t(key, choice=label), response_type="ephemeral", replace_original=False)


# --- /loop concern and /loop concern list -------------------------------------------------


async def _loop_lines(
    rt: Runtime, team_id: str, user_id: str
) -> tuple[list[views.LoopLine], str | None]:
    """The rep's open loops, with dates in their zone (and the zone, for the caller)."""
    loops, tz = await rt.tx(
        concerns.open_loops_and_tz, write=False, team_id=team_id, user_slack_id=user_id
    )
    return [
        views.LoopLine(
            run_id=int(run.id or 0),
            account=run.account or "",
            concern=concern_data(run).concern,
            since=local_date(run.created_at, tz),
            next_checkin=local_date(run.due_at, tz),
            overdue=run.due_at is not None and run.due_at <= rt.clock.now(),
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
    due = now + await delay(rt, team_id)
    await rt.tx(
        concerns.open_concern,
        team_id=team_id,
        rep_slack_id=user_id,
        account=account,
        concern=concern,
        deal_id=deal_id,
        due_at=due,
        now=now,
    )
    return due


async def _track_and_confirm(call: CommandCall, account: str, concern: str) -> None:
    rt = call.rt
    due = await track(
        rt, team_id=call.team_id, user_id=call.user_id, account=account, concern=concern
    )
    person = await load_person(rt, team_id=call.team_id, user_id=call.user_id)
    # A first-time user's language is known only now, from users.info.
    t = Texts(rt.catalog, person.locale)
    text = t("concern.logged", date=local_date(due, person.tz), account=account, concern=concern)
    await call.respond(text=text, response_type="ephemeral")


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
    call.rt.spawn(_track_and_confirm(call, account, concern), name=f"concern:{call.user_id}")


async def on_list_action(rt: Runtime, respond: AsyncRespond, body: dict[str, Any]) -> None:
    action = body["actions"][0]
    user_id = str(body["user"]["id"])
    team_id = _team_of(body, rt)
    t = await reader_texts(rt, team_id, user_id)
    parsed = _parse_value(str(action.get("value") or ""))
    reply = LIST_ACTIONS[action["action_id"]]
    run = None
    if parsed is not None:
        run = await _answer(
            rt, team_id=team_id, user_id=user_id, run_id=parsed[0], n=None, reply=reply
        )
    lines, tz = await _loop_lines(rt, team_id, user_id)
    if run is None:
        note = t("concern.not_open")
    else:
        # Which loop it was, then what that means: the refreshed list no longer shows it.
        item = t(
            "concern.list_item",
            account=run.account or "",
            concern=concern_data(run).concern,
            date=local_date(run.created_at, tz),
        )
        note = item + "\n" + _reply_text(t, reply, await delay_days(rt, team_id))[0]
    built = views.loop_list(t, lines, note=note)
    await respond(text=built.text, blocks=built.blocks, replace_original=True)


# --- the modal from a debrief --------------------------------------------------------------


async def open_modal(
    rt: Runtime, client: AsyncWebClient, body: dict[str, Any], deal_value: str
) -> None:
    user_id = str(body["user"]["id"])
    team_id = _team_of(body, rt)
    t = await reader_texts(rt, team_id, user_id)
    deal_id = int(deal_value) if deal_value.isdigit() else None
    account, tz = await rt.tx(
        concerns.modal_defaults,
        write=False,
        team_id=team_id,
        user_slack_id=user_id,
        deal_id=deal_id,
    )
    due = rt.clock.now() + await delay(rt, team_id)
    view = views.modal(t, account=account, date=local_date(due, tz), deal_id=deal_id)
    open_view_after_ack(rt, client, body.get("trigger_id"), view, name="concern")


def _typed(values: dict[str, Any], block: str, limit: int) -> str:
    value = ((values.get(block) or {}).get(block) or {}).get("value") or ""
    return _unescape(str(value)).strip()[:limit]


def _meta_deal_id(view: dict[str, Any]) -> int | None:
    try:
        meta = json.loads(view.get("private_metadata") or "{}")
        return int(meta["deal_id"]) if meta.get("deal_id") else None
    except (ValueError, TypeError, KeyError):
        return None


async def on_modal_submit(rt: Runtime, ack: AsyncAck, body: dict[str, Any]) -> None:
    user_id = str(body["user"]["id"])
    team_id = _team_of(body, rt)
    t = await reader_texts(rt, team_id, user_id)
    view = body["view"]
    values = (view.get("state") or {}).get("values") or {}
    account = _typed(values, ids.CONCERN_FIELD_ACCOUNT, views.ACCOUNT_MAX)
    concern = _typed(values, ids.CONCERN_FIELD_CONCERN, views.CONCERN_MAX)
    errors: dict[str, str] = {}
    if not account:
        errors[ids.CONCERN_FIELD_ACCOUNT] = t("concern.error_account")
    if not concern:
        errors[ids.CONCERN_FIELD_CONCERN] = t("concern.error_concern")
    if errors:
        await ack(response_action="errors", errors=errors)
        return
    deal_id = _meta_deal_id(view)
    # The confirmation needs only the date; the rep's zone is one indexed read.
    tz = await rt.tx(person_tz, write=False, team_id=team_id, slack_id=user_id)
    due = rt.clock.now() + await delay(rt, team_id)
    text = t("concern.logged", date=local_date(due, tz), account=account, concern=concern)
    await ack(response_action="update", view=views.saved_view(t, text))
    rt.spawn(
        track(
            rt, team_id=team_id, user_id=user_id, account=account, concern=concern, deal_id=deal_id
        ),
        name=f"concern-modal:{user_id}",
    )


# --- listeners ------------------------------------------------------------------------------


async def concern_answered(
    ack: AsyncAck,
    respond: AsyncRespond,
    client: AsyncWebClient,
    body: dict[str, Any],
    context: AsyncBoltContext,
) -> None:
    await ack()
    rt = rt_of(context)
    rt.spawn(on_checkin_answer(rt, client, respond, body), name="concern-answer")


async def concern_list_action(
    ack: AsyncAck, respond: AsyncRespond, body: dict[str, Any], context: AsyncBoltContext
) -> None:
    await ack()
    rt = rt_of(context)
    rt.spawn(on_list_action(rt, respond, body), name="concern-list")


async def concern_open(
    ack: AsyncAck, client: AsyncWebClient, body: dict[str, Any], context: AsyncBoltContext
) -> None:
    await ack()
    # The trigger expires 3 s after the click: open the modal now, not in the background.
    await open_modal(rt_of(context), client, body, str(body["actions"][0].get("value") or ""))


async def concern_submitted(ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext) -> None:
    await on_modal_submit(rt_of(context), ack, body)


def _one_of(names: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile("^(" + "|".join(re.escape(n) for n in names) + ")$")


def register(app: AsyncApp, rt: Runtime, commands: LoopCommand) -> None:
    commands.add("concern", concern_command, help_key="help.line_concern")
    app.action(_one_of(ids.CONCERN_ANSWERS))(concern_answered)
    app.action(_one_of(ids.CONCERN_LIST_ACTIONS))(concern_list_action)
    app.action(ids.CONCERN_OPEN)(concern_open)
    app.view(ids.CONCERN_MODAL)(concern_submitted)


# Still worth asking days late (after downtime or a vacation), and skipping it would leave
# an open loop with no next check-in: no lateness limit.
NUDGE_KINDS = (
    NudgeKind(
        concerns.CHECKIN_KIND,
        render_checkin,
        after_checkin,
        policy=KindPolicy(max_late=None, when_quiet="wait"),
    ),
)
