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
    CHOICE_BLOCK_ID,
    FALLBACK_MAX,
    VIEW_BLOCKS_MAX,
    Block,
    actions,
    button,
    chosen_line,
    clip,
    context,
    divider,
    fit_message,
    header,
    modal_view,
    section,
    sections,
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
    mode: str | None = None,
    logged: bool = False,
    called: str | None = None,
) -> Built:
    """The first DM after a deal closes: the right script for the outcome. `footer` goes
    last (the "Not right?" menu). It shows its state: heard / helped / hugged once chosen
    (the other two to change it, until the debrief is logged), and a logged debrief."""
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
            *_win_row(t, value, logged=logged),
            *footer,
        ]
        return as_built(t("win.fallback", **values), blocks)
    prefix = "loss" if outcome == "lost" else "no_decision"
    blocks = [
        header(t(f"{prefix}.header", **values)),
        section(t(f"{prefix}.intro", **values)),
        *extra,
        section(t("loss.ask_mode", **values)),
        *_mode_rows(t, value, mode=mode, logged=logged),
        # Once someone was asked to make the call, the row says who instead.
        {**context(t("state.call_asked", who=f"<@{called}>")), "block_id": ids.LOSS_MANAGER_BLOCK}
        if called
        else actions(
            ids.LOSS_MANAGER_BLOCK,
            button(t("loss.button_manager"), ids.MANAGER_CALL_REQUEST, value),
            # Seed 001: the manager "or a trusted colleague" makes the call.
            button(t("call.button_colleague"), ids.CALL_PICK_OPEN, value),
        ),
        *footer,
    ]
    return as_built(t(f"{prefix}.fallback", **values), blocks)


def _win_row(t: Texts, value: str, *, logged: bool) -> list[Block]:
    if not logged:
        button_log = button(t("win.button_log"), ids.WIN_LOG_OPEN, value, style="primary")
        return [actions(ids.WIN_DEBRIEF_BLOCK, button_log)]
    # Logged: the line says so, and the same button (it opens the form pre-filled) edits.
    return [
        {**context(t("state.logged")), "block_id": CHOICE_BLOCK_ID},
        actions(ids.WIN_DEBRIEF_BLOCK, button(t("common.button_edit"), ids.WIN_LOG_OPEN, value)),
    ]


def _mode_rows(t: Texts, value: str, *, mode: str | None, logged: bool) -> list[Block]:
    """heard / helped / hugged: three buttons; once chosen, the choice and the other two
    (to change it); once the debrief is logged, the choice alone."""
    if mode not in ids.LOSS_MODES:
        if logged:
            return [{**context(t("state.logged")), "block_id": CHOICE_BLOCK_ID}]
        mode = None
    others = [m for m in ids.LOSS_MODES if m != mode]
    buttons = [button(t(f"loss.button_{m}"), ids.LOSS_MODE_PREFIX + m, value) for m in others]
    if mode is None:
        return [actions(ids.LOSS_MODE_BLOCK, *buttons)]
    label = t(f"loss.button_{mode}")
    if logged:
        return [chosen_line(t, label, note=t("state.logged"))]
    return [
        chosen_line(t, label, note=t("state.change_until_logged")),
        actions(ids.LOSS_MODE_BLOCK, *buttons),
    ]


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
    stories: int = 0  # shared in the last 30 days: a count, never the stories themselves
    pending: int = 0  # debriefs not logged yet (a count; never which client said what)
    streak: int = 0  # lost deals in a row: from 2 on, worth a manager's look


def home_view(
    t: Texts,
    deals: Sequence[Any],
    *,
    tz: str | None,
    concerns: Sequence[Any] = (),
    open_debriefs: Sequence[Any] = (),
    team: Sequence[TeamMember] = (),
    calls: Sequence[Block] = (),
    now: datetime | None = None,
    focus: Sequence[Block] = (),
    stories: Sequence[Block] = (),
) -> dict[str, Any]:
    """App Home: the calls someone was asked to make (with their buttons), what the rep
    is working on (`focus`, built by bot.messages.focus), their open loops (what still
    needs them), then their recent deals and their own stories (`stories`, built by
    bot.messages.stories), then — for a manager — each rep's latest deal, deal counts and
    how many stories they shared lately."""
    blocks: list[Block] = [header(t("home.header")), section(t("home.intro")), divider()]
    if calls:
        blocks += [header(t("call.home_header")), *calls]
    blocks.extend(focus)
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
        t(
            "call.home_with_caller",
            account=d.account or "",
            outcome=outcome_word(t, d.outcome),
            caller=f"<@{d.caller}>",
        )
        if getattr(d, "caller", None)
        else t("home.debrief_line", account=d.account or "", outcome=outcome_word(t, d.outcome))
        for d in open_debriefs
    ]
    if loops or not calls:
        # "Nothing open" only when nothing is: a call to make is open too.
        blocks.append(header(t("home.loops_header")))
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
    blocks.extend(stories)
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
        lines = [
            f"{line} {t('home.team_stories', n=m.stories)}"
            + (f" {t('home.team_pending', n=m.pending)}" if m.pending else "")
            + (f" {t('home.team_streak', n=m.streak)}" if m.streak >= 2 else "")
            for line, m in zip(lines, team[:40], strict=True)
        ]
        blocks.extend(sections(lines))
    return {"type": "home", "blocks": blocks[:VIEW_BLOCKS_MAX]}
