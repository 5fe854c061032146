"""Every message the bot sends is built in this package, from the script catalog, as Block Kit
dicts: common pieces and the deal DM here, one module per ritual beside it.

Builders are pure: they take the catalog, a language and plain values, so they are
tested without Slack and a translator's change never touches a listener."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from bot.clock import zone_of
from bot.messages import formats
from bot.messages.blocks import (
    FALLBACK_MAX,
    VIEW_BLOCKS_MAX,
    Block,
    actions,
    button,
    clip,
    context,
    divider,
    fit_message,
    header,
    modal_view,
    section,
)
from bot.messages.catalog import ScriptCatalog
from bot.messages.formats import format_value
from bot.slack import ids

OUTCOME_KEYS = {
    "won": "deal.outcome_won",
    "lost": "deal.outcome_lost",
    "no_decision": "deal.outcome_no_decision",
}


@dataclass(frozen=True)
class Built:
    text: str
    blocks: list[Block]

    def as_kwargs(self) -> dict[str, Any]:
        return {"text": self.text, "blocks": self.blocks}


def as_built(text: str, blocks: list[Block]) -> Built:
    """A message's fallback text (what notifications show) and its blocks, both cut to
    Slack's limits."""
    return Built(clip(text, FALLBACK_MAX), fit_message(blocks))


class Texts:
    """The catalog bound to one reader's language."""

    def __init__(self, catalog: ScriptCatalog, lang: str | None) -> None:
        self.catalog = catalog
        self.lang = lang

    def __call__(self, key: str, **values: Any) -> str:
        # Dates, times and amounts are written the reader's way here, once for every
        # message (see bot/messages/formats.py).
        local = {name: format_value(value, self.lang) for name, value in values.items()}
        return self.catalog.text(self.lang, key, **local)


def format_amount(amount: Decimal | None, currency: str | None, locale: str | None = None) -> str:
    """A deal's amount in the reader's locale ("$50,000", "50.000 €", "50 000 €")."""
    return formats.format_amount(amount, currency, locale)


def deal_dm(
    t: Texts,
    *,
    deal_id: int,
    account: str,
    outcome: str,
    amount: Decimal | None = None,
    currency: str | None = None,
    extra: Sequence[Block] = (),
    footer: Sequence[Block] = (),
) -> Built:
    """The first DM after a deal closes: the right script for the outcome. `footer` goes
    last (the "Not right?" menu)."""
    amount_text = format_amount(amount, currency, t.lang)
    values = {"account": account, "amount": amount_text}
    value = str(deal_id)
    if outcome == "won":
        blocks = [
            header(t("win.header", **values)),
            section(t("win.intro", **values)),
            section(t("win.questions", **values)),
            context(t("win.why_it_matters", **values)),
            *extra,
            actions(
                ids.WIN_DEBRIEF_BLOCK,
                button(t("win.button_log"), ids.WIN_LOG_OPEN, value, style="primary"),
            ),
            *footer,
        ]
        return as_built(t("win.fallback", **values), blocks)
    prefix = "loss" if outcome == "lost" else "no_decision"
    blocks = [
        header(t(f"{prefix}.header", **values)),
        section(t(f"{prefix}.intro", **values)),
        *extra,
        section(t("loss.ask_mode", **values)),
        actions(
            ids.LOSS_MODE_BLOCK,
            *(
                button(t(f"loss.button_{mode}"), ids.LOSS_MODE_PREFIX + mode, value)
                for mode in ids.LOSS_MODES
            ),
        ),
        actions(
            ids.LOSS_MANAGER_BLOCK,
            button(t("loss.button_manager"), ids.MANAGER_CALL_REQUEST, value),
        ),
        *footer,
    ]
    return as_built(t(f"{prefix}.fallback", **values), blocks)


def form_modal(
    t: Texts,
    *,
    prefix: str,
    callback_id: str,
    metadata: Mapping[str, Any],
    blocks: list[Block],
    audience: str | None = None,
) -> dict[str, Any]:
    """A ritual's input modal; its title and buttons come from the catalog's
    `<prefix>.modal_title`, `.modal_submit` and `.modal_close`. Every form says first
    who will read what is typed into it: "Only you" unless told otherwise."""
    return modal_view(
        callback_id,
        title=t(f"{prefix}.modal_title"),
        submit=t(f"{prefix}.modal_submit"),
        close=t(f"{prefix}.modal_close"),
        metadata=metadata,
        blocks=[{**context(audience or t("privacy.only_you")), "block_id": "audience"}, *blocks],
    )


def help_message(t: Texts, lines: Sequence[str]) -> Built:
    blocks: list[Block] = [header(t("help.header")), section(t("help.intro"))]
    body = "\n".join(t(key) for key in lines)
    blocks.append(section(body))
    blocks.append(context(t("help.footer")))
    return as_built(t("help.header") + "\n" + body, blocks)


def ephemeral(text: str) -> Built:
    return as_built(text, [section(text)])


def outcome_word(t: Texts, outcome: str) -> str:
    return t(OUTCOME_KEYS.get(outcome, "deal.outcome_lost"))


def _local_date(when: datetime | None, tz: str | None) -> date | str:
    """The reader's local day of an instant (Texts writes it their way), or "" for none."""
    return when.astimezone(zone_of(tz)).date() if when else ""


@dataclass(frozen=True)
class TeamMember:
    rep: str
    last_account: str | None = None
    last_outcome: str | None = None
    last_at: datetime | None = None
    # Deal counts by outcome: what a manager sees of a rep's record, never their notes.
    won: int = 0
    lost: int = 0
    no_decision: int = 0


def home_view(
    t: Texts,
    deals: Sequence[Any],
    *,
    tz: str | None,
    concerns: Sequence[Any] = (),
    open_debriefs: Sequence[Any] = (),
    team: Sequence[TeamMember] = (),
    now: datetime | None = None,
    focus: Sequence[Block] = (),
) -> dict[str, Any]:
    """App Home: what the rep is working on (`focus`, built by bot.messages.focus), their
    open loops (what still needs them), then their recent deals, then — for a manager —
    each rep's latest deal."""
    blocks: list[Block] = [header(t("home.header")), section(t("home.intro")), divider()]
    blocks.extend(focus)
    blocks.append(header(t("home.loops_header")))
    loops = [
        t(
            # A check-in asked twice without an answer is overdue, not "next" (`now`).
            "concern_overdue.home_line"
            if now is not None and c.due_at is not None and c.due_at <= now
            else "home.concern_line",
            account=c.account or "",
            concern=(c.data or {}).get("concern", ""),
            date=_local_date(c.due_at, tz),
        )
        for c in concerns
    ] + [
        t("home.debrief_line", account=d.account or "", outcome=outcome_word(t, d.outcome))
        for d in open_debriefs
    ]
    blocks.append(section("\n".join(loops[:40]) if loops else t("home.loops_empty")))
    blocks.append(header(t("home.recent_header")))
    if not deals:
        blocks.append(section(t("home.empty")))
    else:
        lines = [
            t(
                "home.deal_line",
                account=d.account,
                outcome=outcome_word(t, d.outcome),
                date=_local_date(d.created_at, tz),
            )
            for d in deals
        ]
        blocks.append(section("\n".join(lines)))
    if team:
        blocks.append(header(t("home.team_header")))
        lines = [
            t(
                "home.team_line",
                rep=f"<@{m.rep}>",
                account=m.last_account,
                outcome=outcome_word(t, m.last_outcome),
                date=_local_date(m.last_at, tz),
            )
            if m.last_account and m.last_outcome
            else t("home.team_no_deal", rep=f"<@{m.rep}>")
            for m in team[:40]
        ]
        lines = [
            f"{line} {t('privacy.team_counts', won=m.won, lost=m.lost, no_decision=m.no_decision)}"
            if m.won or m.lost or m.no_decision
            else line
            for line, m in zip(lines, team[:40], strict=True)
        ]
        blocks.append(section("\n".join(lines)))
    return {"type": "home", "blocks": blocks[:VIEW_BLOCKS_MAX]}
