"""The Workflow Builder step "Start a deal debrief" (a custom step: manifest `functions`).

A RevOps admin drops it into a workflow that starts when a Salesforce opportunity or a
HubSpot deal changes stage (Workflow Builder's own connectors) and maps the record's
fields to its inputs: rep (a Slack user) or rep e-mail, account, outcome, amount, CRM
record link.
Slack sends `function_executed`; the deal goes through the one intake like any channel
post, and the step completes with `functions.completeSuccess` (outputs: the deal id and
whether the DM was sent) or `functions.completeError` with a message the workflow's
author can act on (an unknown rep, an outcome that is not won / lost / no decision).
"""

from __future__ import annotations

import logging
from decimal import Decimal, InvalidOperation
from typing import Any

from slack_bolt.async_app import AsyncApp, AsyncBoltContext
from slack_bolt.context.complete.async_complete import AsyncComplete
from slack_bolt.context.fail.async_fail import AsyncFail
from slack_sdk.errors import SlackApiError

from bot.crm.adapters import BadPayload, read_outcome
from bot.messages import Texts
from bot.runtime import Runtime, rt_of
from bot.slack import ids
from bot.slack.errors import api_error
from handlers.deal_intake import find_rep, take_in
from storage import nudges
from storage.deals import NewDeal
from storage.intake import NEW, REPEAT
from storage.intake_problems import record_problem

log = logging.getLogger(__name__)


class StepError(Exception):
    """An input the step cannot use; `text` is for the workflow's author."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


def _text(value: Any) -> str:
    return " ".join(str(value or "").split())[:200]


def _amount(t: Texts, value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        amount = Decimal(str(value).replace(",", "").strip())
    except InvalidOperation:
        raise StepError(t("deal_entry.step_bad_amount", value=str(value)[:40])) from None
    if isinstance(value, bool) or not amount.is_finite() or abs(amount) >= Decimal(10) ** 14:
        raise StepError(t("deal_entry.step_bad_amount", value=str(value)[:40]))
    return amount.quantize(Decimal("0.01"))


async def _new_deal(rt: Runtime, t: Texts, team: str, inputs: dict[str, Any]) -> NewDeal:
    """The deal the inputs describe; raises StepError naming the input that is wrong."""
    try:
        outcome = read_outcome(inputs.get("outcome"))
    except BadPayload:
        raise StepError(
            t("deal_entry.step_bad_outcome", word=_text(inputs.get("outcome"))[:40])
        ) from None
    account = _text(inputs.get("account"))
    if not account:
        raise StepError(t("deal_entry.step_no_account"))
    amount = _amount(t, inputs.get("amount"))
    # The CRM connectors give the owner's e-mail; a Slack user input is taken first.
    email = _text(inputs.get("rep_email")).lower() or None
    rep = await find_rep(rt, team, slack_id=_text(inputs.get("rep")) or None, email=email)
    if rep.user_id is None:
        raise StepError(t("deal_entry.step_no_rep", problem=rep.problem or "?"))
    link = _text(inputs.get("crm_record_link")) or None
    return NewDeal(
        team_id=team,
        account=account,
        outcome=outcome,
        rep_slack_id=rep.user_id,
        reported_by="workflow",
        amount=amount,
        source="workflow",
        # The same record run through the workflow again is the same deal.
        external_id=f"workflow:{link}:{outcome}"[:300] if link else None,
        raw_text=link,
    )


async def run_step(
    rt: Runtime,
    team: str,
    event: dict[str, Any],
    event_id: str | None,
    complete: AsyncComplete,
    fail: AsyncFail,
) -> None:
    inputs = event.get("inputs") if isinstance(event.get("inputs"), dict) else {}
    assert isinstance(inputs, dict)
    t = Texts(rt.catalog, None)
    problem_key = f"workflow:{_text(inputs.get('crm_record_link') or inputs.get('account'))}"
    try:
        new = await _new_deal(rt, t, team, inputs)
    except StepError as e:
        await rt.tx(
            record_problem,
            team_id=team,
            key=problem_key,
            source="workflow",
            detail=e.text,
            now=rt.clock.now(),
        )
        await _finish(fail(error=e.text))
        return
    # The step's old problem, if any, is solved: cleared in the intake's transaction.
    got = await take_in(rt, new, event_id=event_id, solved_problem=problem_key)
    if got.status not in (NEW, REPEAT) or got.deal_id is None:
        log.info("function_executed %s seen before; its first delivery completes it", event_id)
        return
    sent = got.status == NEW and got.dm_state == nudges.SENT
    await _finish(complete(outputs={"deal_id": str(got.deal_id), "dm_sent": sent}))


async def _finish(call: Any) -> None:
    try:
        await call
    except SlackApiError as e:
        # The execution's token expired or the run was cancelled: the deal is in anyway.
        log.warning("could not complete the workflow step: %s", api_error(e))


async def on_step(
    body: dict[str, Any],
    event: dict[str, Any],
    complete: AsyncComplete,
    fail: AsyncFail,
    context: AsyncBoltContext,
) -> None:
    rt = rt_of(context)
    team = str(body.get("team_id") or rt.team_id or "")

    async def tell_author() -> None:
        await _finish(fail(error=Texts(rt.catalog, None)("deal_entry.step_failed")))

    rt.spawn(
        run_step(rt, team, event, body.get("event_id"), complete, fail),
        name=f"deal-step:{event.get('function_execution_id')}",
        on_error=tell_author,
    )


def register(app: AsyncApp, rt: Runtime) -> None:
    app.function(ids.DEAL_STEP_FUNCTION)(on_step)
