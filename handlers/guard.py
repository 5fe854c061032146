"""The owner check, in one place: a global Bolt middleware that runs before any button
or modal listener. It reads the row id from the action's value or the modal's
private_metadata, asks bot/access.py whether the person acting may act on that row,
and answers "That isn't yours" (changing nothing) when not. Listeners need no check of
their own; deal ids are sequential, so every one of them must be checked."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncApp, AsyncBoltContext, AsyncRespond
from slack_bolt.response import BoltResponse

from bot import access
from bot.inbound import RefusalLog
from bot.messages import Texts
from bot.messages.blocks import modal_view, section
from bot.runtime import Runtime, rt_of
from bot.slack.people import person_within
from handlers.loop_command import reader_texts
from storage.access import actor_facts

log = logging.getLogger(__name__)
REFUSALS = RefusalLog()

Target = tuple[access.Rule, str, object, str]  # rule, actor, raw id, role


def _target(body: dict[str, Any]) -> Target | None:
    """The rule, actor, raw row id and role a request carries; None when it is not a
    button or modal submission we know (those pass untouched)."""
    actor = str((body.get("user") or {}).get("id") or "")
    if body.get("type") == "block_actions":
        acts = body.get("actions")
        if not isinstance(acts, list) or not acts or not isinstance(acts[0], dict):
            return None
        rule = access.ACTIONS.get(str(acts[0].get("action_id") or ""))
        if rule is None:
            return None
        value = str(
            acts[0].get("value") or (acts[0].get("selected_option") or {}).get("value") or ""
        )
        return rule, actor, value, access.step_role(value)
    if body.get("type") == "view_submission":
        view = body.get("view")
        if not isinstance(view, dict):
            return None
        rule = access.VIEWS.get(str(view.get("callback_id") or ""))
        if rule is None:
            return None
        try:
            meta = json.loads(view.get("private_metadata") or "{}")
        except (TypeError, ValueError):
            meta = {}
        meta = meta if isinstance(meta, dict) else {}
        role = "manager" if meta.get("as") == "manager" else "rep"
        return rule, actor, meta.get(rule.meta_key) if rule.meta_key else None, role
    return None


def judge(rt: Runtime, team_id: str, target: Target) -> access.Verdict:
    """Blocking: the verdict for one request."""
    rule, actor, raw, role = target
    if rule.kind == "self" and rule.who != "admin":
        return "ok"
    row_id = access.parse_id(raw)
    if row_id == "bad":
        return "bad_id"
    need_admin = rule.who in ("admin", "owner_or_admin")
    facts = rt.tx_blocking(
        actor_facts,
        write=False,
        team_id=team_id,
        actor=actor,
        kind=rule.kind,
        row_id=row_id,
        need_admin=need_admin,
    )
    admin = need_admin and access.is_admin(
        slack_admin=facts.slack_admin,
        user_id=actor,
        configured=rt.settings.admins,
        granted=facts.admin_grant,
    )
    if row_id is None:
        # A modal opened from a command (no row yet): only the person's own things.
        return "ok" if rule.who != "admin" else ("ok" if admin else "not_yours")
    owners = facts.owners
    if owners is None:
        return "ok"  # gone: the listener says so in its own words
    return access.decide(rule, actor, owners, role=role, is_admin=admin)


def _team(body: dict[str, Any], rt: Runtime) -> str:
    team = body.get("team") if isinstance(body.get("team"), dict) else {}
    user = body.get("user") if isinstance(body.get("user"), dict) else {}
    return str((team or {}).get("id") or (user or {}).get("team_id") or rt.team_id or "")


async def _refuse_click(respond: AsyncRespond, body: dict[str, Any], t: Texts, key: str) -> None:
    if not body.get("response_url"):
        return
    try:
        await respond(text=t(key), response_type="ephemeral", replace_original=False)
    except Exception:  # noqa: BLE001 - an expired response_url: the refusal changed nothing anyway
        log.info("could not answer a refused click", exc_info=True)


def refusal_view(t: Texts, key: str) -> dict[str, Any]:
    return modal_view(
        "privacy_refused",
        title=t("privacy.refused_title"),
        close=t("privacy.button_close"),
        blocks=[section(t(key))],
    )


async def owner_check(
    body: dict[str, Any],
    next: Callable[[], Awaitable[None]],
    respond: AsyncRespond,
    context: AsyncBoltContext,
) -> BoltResponse | None:
    target = _target(body) if isinstance(body, dict) else None
    if target is None:
        await next()
        return None
    rt = rt_of(context)
    team_id = _team(body, rt)
    verdict = await rt.db(judge, rt, team_id, target)
    if verdict == "not_yours" and target[0].who in ("admin", "owner_or_admin"):
        # Slack's admins are known from users.info: a first click by one must not be
        # refused just because we never looked them up (within the ack's budget).
        if await person_within(rt, team_id=team_id, user_id=target[1]) is not None:
            verdict = await rt.db(judge, rt, team_id, target)
    if verdict == "ok":
        await next()
        return None
    return await _refuse(rt, body, respond, target, team_id, verdict)


async def _refuse(
    rt: Runtime,
    body: dict[str, Any],
    respond: AsyncRespond,
    target: Target,
    team_id: str,
    verdict: access.Verdict,
) -> BoltResponse:
    rule, actor, raw, _role = target
    log.debug("refused %s on %s %r by %s", verdict, rule.kind, str(raw)[:40], actor)
    # Forged clicks come in floods too: one line a minute, with a count.
    REFUSALS.refused(200, f"{verdict} on a {rule.kind} (by {actor[:20]})")
    t = await reader_texts(rt, team_id, actor)
    key = "privacy.not_yours" if verdict == "not_yours" else "privacy.gone"
    if body.get("type") == "view_submission":
        view = refusal_view(t, key)
        return BoltResponse(
            status=200,
            body=json.dumps({"response_action": "update", "view": view}),
            headers={"content-type": ["application/json;charset=utf-8"]},
        )
    rt.spawn(_refuse_click(respond, body, t, key), name="refused-click")
    return BoltResponse(status=200, body="")


def register(app: AsyncApp, rt: Runtime) -> None:
    app.middleware(owner_check)
