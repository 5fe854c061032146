"""`/loop report`: per rep counts in one Block Kit table (Slack allows one table block
per message, at most 100 rows), the team's totals as a line above it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot.messages import Built, Texts, as_built, reasons
from bot.messages.blocks import Block, context, header, section

TABLE_ROWS_MAX = 100


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
            "rep", "won", "lost", "no_decision", "logged", "days", "calls", "concerns", "guess"
        )
    ]  # fmt: skip
    room = TABLE_ROWS_MAX - 1
    shown = list(lines[:room])
    rows = [head, *(_row(line) for line in shown)]
    return {
        "type": "table",
        "column_settings": [{"is_wrapped": True}, *({"align": "right"} for _ in range(8))],
        "rows": rows,
    }


def report_message(
    t: Texts,
    *,
    period: str,
    scope: str,
    total: RepLine,
    lines: Sequence[RepLine],
    stories: Sequence[str] = (),
    reason_counts: Mapping[str, int] | None = None,
) -> Built:
    """`reason_counts`: the logged debriefs of the period by the client's kind of reason,
    shown under the totals (counts only)."""
    title = t("report.title", period=period)
    blocks: list[Block] = [header(title), context(t("report.scope", scope=scope))]
    if stories:
        blocks.append(section(t("report.stories", n=len(stories)) + "\n" + "\n".join(stories)))
    else:
        blocks.append(context(t("report.no_stories")))
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
        blocks.append(context(t("report.legend")))
    else:
        blocks.append(section(t("report.empty")))
    return as_built(title, blocks)
