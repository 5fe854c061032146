"""`/loop report [week|month|quarter] [@rep]`: for the reps the asker may see —
themselves, their team (a manager), everyone (an admin) — the period's stories first
(links, the deals they helped, the revenue credited to lessons), then counts per rep.
Acked at once; the report follows in the same place as an ephemeral message."""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from sqlmodel import Session

from bot import charts
from bot.messages import Built, Texts
from bot.messages.report import RepLine, report_message
from bot.messages.stories import MonthEntry
from bot.runtime import Runtime
from bot.slack.dm import open_dm
from bot.slack.errors import api_error
from bot.slack.people import is_admin, load_person
from handlers.loop_command import CommandCall, LoopCommand
from storage import export, reports
from storage.access import reports_of
from storage.stories import MonthStory

log = logging.getLogger(__name__)

PERIODS = {"week": 7, "month": 30, "quarter": 90}
# The period in the words reps type in each language.
PERIOD_WORDS = {
    "week": "week", "semana": "week", "semaine": "week", "7d": "week",
    "month": "month", "mes": "month", "mois": "month", "30d": "month",
    "quarter": "quarter", "trimestre": "quarter", "90d": "quarter",
}  # fmt: skip
MENTION = re.compile(r"^<@([UW][A-Z0-9]{2,})(?:\|[^<>]*)?>$")


@dataclass(frozen=True)
class ReportArgs:
    period: str
    rep: str | None


def parse_args(text: str) -> ReportArgs | None:
    period, rep = "week", None
    for word in text.split():
        mention = MENTION.match(word)
        if mention and rep is None:
            rep = mention[1]
        elif word.lower() in PERIOD_WORDS:
            period = PERIOD_WORDS[word.lower()]
        else:
            return None
    return ReportArgs(period, rep)


async def report_command(call: CommandCall) -> None:
    args = parse_args(call.args)
    if args is None:
        await call.reply(call.t("report.usage"))
        return
    await call.reply(call.t("report.working"))
    call.rt.spawn(_deliver(call, args), name=f"report:{call.user_id}")


async def _deliver(call: CommandCall, args: ReportArgs) -> None:
    rt, t = call.rt, call.t
    caller = await load_person(rt, team_id=call.team_id, user_id=call.user_id)
    admin = await rt.db(is_admin, rt, call.team_id, caller)
    until = rt.clock.now()
    since = until - timedelta(days=PERIODS[args.period])
    made = await rt.tx(
        _build, write=False, team_id=call.team_id, viewer=call.user_id, admin=admin,
        rep=args.rep, since=since, until=until, period=args.period, t=t,
    )  # fmt: skip
    if made is None:
        await call.respond(text=t("report.not_allowed", who=f"<@{args.rep}>"))
        return
    built, scope = made
    try:
        await call.respond(
            text=built.text, blocks=built.blocks, response_type="ephemeral",
            replace_original=False,
        )  # fmt: skip
    except SlackApiError as e:  # pragma: no cover - respond rarely fails; say so if it does
        log.warning("report: not delivered (%s)", api_error(e))
        return
    if rt.settings.report_charts and charts.available():
        # After the report: its week-by-week counts are read only for the chart.
        weeks = await rt.tx(
            reports.weekly_outcomes, write=False, scope=scope, since=since, until=until
        )
        await _send_chart(call, weeks, t(f"report.period_{args.period}"))


async def _send_chart(call: CommandCall, weeks: dict[str, dict[str, int]], period: str) -> None:
    t = call.t
    labels = {o: t(f"report.col_{o}") for o in charts.OUTCOMES}
    # Rendering takes a few hundred milliseconds of CPU: off the event loop.
    png = await asyncio.to_thread(
        charts.outcome_trend_png, weeks, labels, t("report.chart_title", period=period)
    )
    if png is None:
        return
    try:
        channel = await open_dm(call.rt, call.team_id, call.user_id)
        await call.rt.client.files_upload_v2(
            content=png,
            filename="feedback-loop-trend.png",
            title=t("report.chart_title", period=period),
            channel=channel,
            initial_comment=t("report.chart_comment", period=period),
        )
    except SlackApiError as e:
        log.warning("report: chart not uploaded (%s)", api_error(e))


def _build(
    *,
    session: Session,
    team_id: str,
    viewer: str,
    admin: bool,
    rep: str | None,
    since: datetime,
    until: datetime,
    period: str,
    t: Texts,
) -> tuple[Built, export.Scope] | None:
    scope = export.scope_for(session=session, team_id=team_id, viewer=viewer, admin=admin)
    if rep is not None:
        if not scope.covers(rep):
            return None
        scope = export.Scope(team_id, viewer, frozenset({rep}))
    rows = reports.rep_reports(session=session, scope=scope, since=since, until=until)
    if scope.reps is None:
        scope_text = t("export.scope_all")
    elif rep is not None:
        scope_text = f"<@{rep}>"
    elif len(scope.reps) > 1:
        n = len(reports_of(session=session, team_id=team_id, manager=viewer))
        scope_text = t("export.scope_team", n=n)
    else:
        scope_text = t("export.scope_self")
    total = reports.team_totals(rows)
    built = report_message(
        t,
        period=t(f"report.period_{period}"),
        scope=scope_text,
        total=_line(total),
        lines=[_line(r) for r in rows],
        reason_counts=total.reasons,
        stories=[
            _entry(s)
            for s in reports.period_stories(session=session, scope=scope, since=since, until=until)
        ],
    )
    return built, scope


def _entry(s: MonthStory) -> MonthEntry:
    return MonthEntry(
        s.rep, s.lesson, s.permalink, s.account, s.share, s.amount, s.currency, s.deal_id
    )


def _line(r: reports.RepReport) -> RepLine:
    return RepLine(
        rep=r.rep,
        won=r.won,
        lost=r.lost,
        no_decision=r.no_decision,
        logged=r.logged,
        debriefs=r.debriefs,
        median_days=r.median_days,
        calls_logged=r.calls_logged,
        calls_asked=r.calls_asked,
        concerns_closed=r.concerns_closed,
        agreed=r.agreed,
        compared=r.compared,
        stories=r.stories,
    )


def register(app: AsyncApp, rt: Runtime, commands: LoopCommand) -> None:
    commands.add("report", report_command, help_key="report.help")
