"""`POST /crm/webhook`: a CRM workflow announces a closed deal, signed with our secret.

bot/server.py checks the signature on the raw bytes and parses the JSON; this module
reads the payload (bot/crm/adapters.py), finds the owner in Slack (remembered per team
and e-mail), and hands the deal to the one intake like any channel post, with
`(crm, record_id, outcome)` as the CRM record: a CRM retrying the webhook gets the same
deal back and the rep no second DM. The deal, its DM and its reminder are rows written
in one transaction (which also clears the record's old intake problem, if any) before
the answer; the DM itself is the dispatcher's to send, like every other nudge, paced per
workspace and told at once that one is due. So the answer never waits on Slack for the
DM, a burst of records cannot exceed Slack's rate limits, and a crash after the answer
loses nothing: the pending nudge row is sent when a dispatcher runs again.

An owner no Slack user has is an error the sender reads in the answer (422) and the
admins see in App Home; a Slack hiccup while looking the owner up is a 503, so the CRM
tries again.
"""

from __future__ import annotations

import logging
from typing import Any

from bot.crm.adapters import BadPayload, CrmDeal, Ignored, read
from bot.runtime import Runtime
from bot.slack.teams import acting_for
from handlers.deal_intake import find_rep, intake_queue
from storage.deals import NewDeal
from storage.intake import NEW, REPEAT
from storage.intake_problems import record_problem

log = logging.getLogger(__name__)

Answer = tuple[int, dict[str, Any]]


def _owner_email(rt: Runtime, deal: CrmDeal) -> str | None:
    """The owner's e-mail as sent, else as mapped in CRM_OWNERS from the CRM's owner id."""
    if deal.owner_email:
        return deal.owner_email
    if deal.owner_ref:
        return rt.settings.crm_owners.get((deal.crm, deal.owner_ref))
    return None


def _no_owner_named(deal: CrmDeal) -> str:
    if deal.owner_ref:
        return (
            f"{deal.crm} sent the owner as id {deal.owner_ref} without an e-mail: add the "
            f"owner's e-mail to the webhook body, or map it in CRM_OWNERS "
            f"({deal.crm}:{deal.owner_ref}=name@example.com)"
        )
    return "the deal names no owner: send owner_email or owner_slack_id"


NOT_INSTALLED = "no workspace {team} has the app installed"


async def receive(rt: Runtime, payload: dict[str, Any], team: str | None = None) -> Answer:
    """`team`: the workspace the URL names (OAuth mode, its own secret already checked);
    None with one workspace (SLACK_BOT_TOKEN)."""
    if team is None:
        return await _receive(rt, payload, rt.team_id or "")
    assert rt.tokens is not None
    if await rt.tokens.installation(team) is None:
        return 404, {"ok": False, "error": NOT_INSTALLED.format(team=team)}
    # The owner's look-up and the rows are that workspace's, with its own token.
    with acting_for(team):
        return await _receive(rt, payload, team)


async def _receive(rt: Runtime, payload: dict[str, Any], team_id: str) -> Answer:
    try:
        got = read(payload)
    except BadPayload as e:
        return 422, {"ok": False, "error": str(e)}
    if isinstance(got, Ignored):
        return 200, {"ok": True, "status": "ignored", "crm": got.crm, "reason": got.reason}
    email = _owner_email(rt, got)
    if not (email or got.owner_slack_id):
        return await _problem(rt, team_id, got, _no_owner_named(got))
    rep = await find_rep(rt, team_id, slack_id=got.owner_slack_id, email=email)
    if rep.user_id is None:
        problem = rep.problem or "the owner was not found"
        if rep.transient:
            log.warning("CRM webhook %s: %s", got.key, problem)
            return 503, {"ok": False, "error": problem, "retry": True}
        return await _problem(rt, team_id, got, problem)
    new = NewDeal(
        team_id=team_id,
        account=got.account,
        outcome=got.outcome,
        rep_slack_id=rep.user_id,
        reported_by=f"crm:{got.crm}"[:32],
        amount=got.amount,
        currency=got.currency,
        source="webhook",
        external_id=got.key,
        raw_text=got.record_url,
    )
    # Taken in with whatever other deliveries arrive meanwhile: one transaction for all.
    intake = await intake_queue(rt).take_in(new, solved_problem=f"{got.crm}:{got.record_id}")
    if intake.status == REPEAT:
        log.info("deal %s sent again by %s; linked, no second DM", intake.deal_id, got.crm)
    if intake.status == NEW and intake.nudge_id is not None:
        rt.wake_dispatcher()
    status = {NEW: "new", REPEAT: "duplicate"}.get(intake.status, "duplicate")
    return 200, {
        "ok": True,
        "status": status,
        "deal_id": intake.deal_id,
        "outcome": got.outcome,
        "rep": rep.user_id,
        "dm": "queued" if intake.status == NEW and intake.nudge_id is not None else "none",
    }


async def _problem(rt: Runtime, team_id: str, deal: CrmDeal, problem: str) -> Answer:
    """Never a silent drop: the sender reads it, and so do the admins in App Home."""
    log.warning("CRM webhook %s not taken in: %s", deal.key, problem)
    await rt.tx(
        record_problem,
        team_id=team_id,
        key=f"{deal.crm}:{deal.record_id}",
        source="webhook",
        detail=f"{deal.account} ({deal.outcome}): {problem}",
        now=rt.clock.now(),
    )
    return 422, {"ok": False, "error": problem, "record_id": deal.record_id}


def register(rt: Runtime) -> None:
    async def handle(payload: dict[str, Any], team: str | None) -> Answer:
        return await receive(rt, payload, team)

    rt.crm_webhook = handle
