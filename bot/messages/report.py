"""`/loop report`: stories first — how many, the deals they helped and the revenue
credited to lessons, then each story as a link — and then per rep counts in one Block
Kit table (Slack allows one table block per message, at most 100 rows), the team's
totals as a line above it. Within Slack's limits: 50 blocks, 3000 characters a section."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot.messages import Built, Texts, as_built, reasons
from bot.messages.blocks import SECTION_MAX, Block, context, header, section
from bot.messages.stories import (
    MonthEntry,
    revenue_text,
    story_deal_text,
    story_link,
    summarise,
)

TABLE_ROWS_MAX = 100
# Stories listed as links; the rest are counted ("…and 12 more"), `/loop export stories`
# has every one.
STORY_LINES_MAX = 20
STORY_LESSON_MAX = 120


@dataclass(frozen=True)
class RepLine:
    """One rep's counts, as the report shows them (storage's RepReport, flattened)."""

    rep: str
    won: int
    lost: int
    no_decision: int
    logged: int
    debriefs: int
    median_days: float | None
    calls_logged: int
    calls_asked: int
    concerns_closed: int
    agreed: int
    compared: int
    stories: int = 0


def _raw(text: str) -> dict[str, Any]:
    return {"type": "raw_text", "text": text}


def _user(user_id: str) -> dict[str, Any]:
    return {
        "type": "rich_text",
        "elements": [
            {"type": "rich_text_section", "elements": [{"type": "user", "user_id": user_id}]}
        ],
    }


def _days(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


def _ratio(part: int, whole: int) -> str:
    return "—" if whole == 0 else f"{part}/{whole}"


def _row(line: RepLine) -> list[dict[str, Any]]:
    return [
        _user(line.rep),
        _raw(str(line.stories)),
        _raw(str(line.won)),
        _raw(str(line.lost)),
        _raw(str(line.no_decision)),
        _raw(_ratio(line.logged, line.debriefs)),
        _raw(_days(line.median_days)),
        _raw(_ratio(line.calls_logged, line.calls_asked)),
        _raw(str(line.concerns_closed)),
        _raw(_ratio(line.agreed, line.compared)),
    ]


def report_table(t: Texts, lines: Sequence[RepLine]) -> Block:
    head = [
        _raw(t(f"report.col_{name}"))
        for name in (
            "rep", "stories", "won", "lost", "no_decision", "logged", "days", "calls",
            "concerns", "guess",
        )
    ]  # fmt: skip
    room = TABLE_ROWS_MAX - 1
    shown = list(lines[:room])
    rows = [head, *(_row(line) for line in shown)]
    return {
        "type": "table",
        "column_settings": [{"is_wrapped": True}, *({"align": "right"} for _ in range(9))],
        "rows": rows,
    }


def _story_line(t: Texts, story: MonthEntry) -> str:
    line = t(
        "report.story_line",
        lesson=story_link(story.lesson, story.link, STORY_LESSON_MAX),
        rep=f"<@{story.rep}>",
    )
    return line + story_deal_text(t, story.account, story.share)


def story_blocks(t: Texts, stories: Sequence[MonthEntry]) -> list[Block]:
    """The period's stories: the count, the deals linked and the revenue attributed
    (the monthly post's arithmetic: amount × share, per currency), then one section of
    links, newest first, clipped to fit with "…and N more"."""
    if not stories:
        return [context(t("report.no_stories"))]
    summary = summarise(stories)
    head = (
        t("report.stories", n=summary.stories)
        + "\n"
        + t(
            "report.stories_totals",
            deals=summary.deals,
            revenue=revenue_text(summary.attributed, t.lang) or "—",
        )
    )
    lines: list[str] = []
    room = SECTION_MAX - 200  # the "…and N more" line always fits after them
    for story in stories[:STORY_LINES_MAX]:
        line = _story_line(t, story)
        if sum(len(x) + 1 for x in lines) + len(line) > room:
            break
        lines.append(line)
    hidden = len(stories) - len(lines)
    if hidden > 0:
        lines.append(t("report.stories_more", n=hidden))
    return [section(head), section("\n".join(lines))]


def report_message(
    t: Texts,
    *,
    period: str,
    scope: str,
    total: RepLine,
    lines: Sequence[RepLine],
    stories: Sequence[MonthEntry] = (),
    reason_counts: Mapping[str, int] | None = None,
) -> Built:
    """`reason_counts`: the logged debriefs of the period by the client's kind of reason,
    shown under the totals (counts only)."""
    title = t("report.title", period=period)
    blocks: list[Block] = [header(title), context(t("report.scope", scope=scope))]
    blocks += story_blocks(t, stories)
    blocks.append(
        section(
            t(
                "report.totals",
                won=total.won,
                lost=total.lost,
                no_decision=total.no_decision,
                logged=total.logged,
                debriefs=total.debriefs,
                days=_days(total.median_days),
                calls=total.calls_logged,
                concerns=total.concerns_closed,
                guess=_ratio(total.agreed, total.compared),
            )
        )
    )
    by_reason = reasons.counts_text(t, reason_counts or {})
    if by_reason:
        blocks.append(context(by_reason))
    if lines:
        blocks.append(report_table(t, lines))
        hidden = len(lines) - (TABLE_ROWS_MAX - 1)
        if hidden > 0:
            blocks.append(context(t("report.more_reps", n=hidden)))
        blocks.append(context(t("report.legend_stories") + " · " + t("report.legend")))
    else:
        blocks.append(section(t("report.empty")))
    return as_built(title, blocks)
