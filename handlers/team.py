"""`/loop team`: who manages whom. Admins set a rep's manager (the manager-call ritual
DMs that person); anyone can see the list.

    /loop team                          list reps and their managers
    /loop team @rep manager @manager    set (admins only)
    /loop team @rep manager none        clear (admins only)

Mentions arrive escaped (`<@U123|rita>`) because the manifest sets should_escape.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError

from bot.messages import ephemeral
from bot.runtime import Runtime
from bot.slack.errors import api_error
from bot.slack.people import is_admin, load_person
from handlers.loop_command import CommandCall, LoopCommand
from storage import access as roles
from storage.people import set_manager, team_pairs

log = logging.getLogger(__name__)

MENTION = r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>"
SET_ADMIN = re.compile(rf"^admin\s+(remove\s+)?{MENTION}$", re.I)
SET_MANAGER = re.compile(rf"^{MENTION}\s+manager\s+(?:{MENTION}|(none|-))$", re.I)


@dataclass(frozen=True)
class TeamChange:
    rep: str
    manager: str | None  # None clears


def parse_team_args(args: str) -> TeamChange | None:
    m = SET_MANAGER.match(args.strip())
    if m is None:
        return None
    return TeamChange(rep=m.group(1), manager=m.group(2))


async def _say(call: CommandCall, text: str) -> None:
    built = ephemeral(text)
    await call.respond(text=built.text, blocks=built.blocks, response_type="ephemeral")


async def list_team(call: CommandCall) -> None:
    pairs = await call.rt.tx(team_pairs, write=False, team_id=call.team_id)
    if not pairs:
        await _say(call, call.t("team.list_empty"))
        return
    lines = [call.t("team.list_item", rep=f"<@{r}>", manager=f"<@{m}>") for r, m in pairs]
    await _say(call, call.t("team.list_intro") + "\n" + "\n".join(lines))


async def change_admin(call: CommandCall, who: str, remove: bool) -> None:
    rt, t = call.rt, call.t
    caller = await load_person(rt, team_id=call.team_id, user_id=call.user_id)
    if not await rt.db(is_admin, rt, call.team_id, caller):
        await _say(call, t("errors.admin_only"))
        return
    if remove:
        await rt.tx(roles.revoke, team_id=call.team_id, slack_id=who, role=roles.ADMIN)
    else:
        await rt.tx(
            roles.grant,
            team_id=call.team_id,
            slack_id=who,
            role=roles.ADMIN,
            by=call.user_id,
            now=rt.clock.now(),
        )
    key = "privacy.admin_removed" if remove else "privacy.admin_added"
    await _say(call, t(key, user=f"<@{who}>"))


async def change_team(call: CommandCall, change: TeamChange) -> None:
    rt, t = call.rt, call.t
    caller = await load_person(rt, team_id=call.team_id, user_id=call.user_id)
    if not await rt.db(is_admin, rt, call.team_id, caller):
        await _say(call, t("errors.admin_only"))
        return
    for who in (change.rep, change.manager):
        if who is None:
            continue
        try:
            person = await load_person(rt, team_id=call.team_id, user_id=who)
        except SlackApiError as e:
            log.info("team: users.info %s failed: %s", who, api_error(e))
            person = None
        if person is None or person.deleted:
            await _say(call, t("team.unknown_user", user=f"<@{who}>"))
            return
    # load_person above made sure the rep has a row.
    await rt.tx(set_manager, team_id=call.team_id, rep=change.rep, manager=change.manager)
    if change.manager is None:
        await _say(call, t("team.cleared", rep=f"<@{change.rep}>"))
    else:
        await _say(call, t("team.set", rep=f"<@{change.rep}>", manager=f"<@{change.manager}>"))


async def team_command(call: CommandCall) -> None:
    if not call.args.strip():
        await call.ack()
        call.rt.spawn(list_team(call), name="team-list")
        return
    admin = SET_ADMIN.match(call.args.strip())
    if admin is not None:
        await call.ack()
        call.rt.spawn(change_admin(call, admin.group(2), bool(admin.group(1))), name="team-admin")
        return
    if call.args.strip().lower().startswith("admin"):
        await call.reply(call.t("privacy.admin_usage"))
        return
    change = parse_team_args(call.args)
    if change is None:
        await call.reply(call.t("team.usage"))
        return
    if change.manager == change.rep:
        await call.reply(call.t("team.same_person"))
        return
    # Whether the caller is an admin comes from users.info: a Slack call, so after the ack.
    await call.ack()
    call.rt.spawn(change_team(call, change), name=f"team-set:{call.user_id}")


def register(app: AsyncApp, rt: Runtime, commands: LoopCommand) -> None:
    commands.add("team", team_command, help_key="help.line_team")
