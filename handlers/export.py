"""`/loop export`: CSV files of what the asker may see, uploaded to their DM.

The ack says it's coming; the files are built in a unit of work of their own (off the
event loop: 50,000 deals take a moment) and uploaded with files_upload_v2, all the
asked kinds in one message."""

from __future__ import annotations

import logging

from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from sqlmodel import Session

from bot.runtime import Runtime
from bot.slack.dm import open_dm
from bot.slack.errors import api_error
from bot.slack.people import is_admin, load_person
from handlers.loop_command import CommandCall, LoopCommand
from storage import export

log = logging.getLogger(__name__)


def _kinds(args: str) -> tuple[str, ...] | None:
    word = args.strip().lower() or "all"
    if word == "all":
        return export.KINDS
    return (word,) if word in export.KINDS else None


async def export_command(call: CommandCall) -> None:
    kinds = _kinds(call.args)
    if kinds is None:
        await call.reply(call.t("export.usage"))
        return
    what = call.args.strip().lower() or "all"
    await call.reply(call.t("export.working", what=what))
    call.rt.spawn(_deliver(call, kinds, what), name=f"export:{call.user_id}")


async def _deliver(call: CommandCall, kinds: tuple[str, ...], what: str) -> None:
    rt, t = call.rt, call.t
    caller = await load_person(rt, team_id=call.team_id, user_id=call.user_id)
    admin = await rt.db(is_admin, rt, call.team_id, caller)
    today = rt.clock.now().date().isoformat()
    scope, files = await rt.tx(
        _build,
        write=False,
        team_id=call.team_id,
        viewer=call.user_id,
        admin=admin,
        kinds=kinds,
        today=today,
    )
    if scope.reps is None:
        scope_text = t("export.scope_all")
    elif len(scope.reps) > 1:
        scope_text = t("export.scope_team", n=len(scope.reps) - 1)
    else:
        scope_text = t("export.scope_self")
    listed = ", ".join(t("export.file_line", name=f.filename, rows=f.rows) for f in files)
    try:
        channel = await open_dm(rt, call.team_id, call.user_id)
        await rt.client.files_upload_v2(
            file_uploads=[
                {"content": f.content, "filename": f.filename, "title": f.filename} for f in files
            ],
            channel=channel,
            initial_comment=t("export.done", files=listed, scope=scope_text),
        )
    except SlackApiError as e:
        log.warning("export: upload failed (%s)", api_error(e))
        await call.respond(text=t("export.failed", error=api_error(e), what=what))


def _build(
    *,
    session: Session,
    team_id: str,
    viewer: str,
    admin: bool,
    kinds: tuple[str, ...],
    today: str,
) -> tuple[export.Scope, list[export.Export]]:
    scope = export.scope_for(session=session, team_id=team_id, viewer=viewer, admin=admin)
    return scope, [
        export.export(session=session, scope=scope, kind=kind, today=today) for kind in kinds
    ]


def register(app: AsyncApp, rt: Runtime, commands: LoopCommand) -> None:
    commands.add("export", export_command, help_key="export.help")
