"""Win and loss debriefs: heard/helped/hugged replies, the three-stage call script, the
guess, the client-answer log with its "Did I get that right?" loop-back, reminders.

Pure builders: catalog texts and plain values in, Block Kit dicts out."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bot.messages import Built, Texts, as_built, form_modal, reasons
from bot.messages.blocks import (
    Block,
    actions,
    button,
    clip,
    context,
    divider,
    header,
    input_block,
    option,
    section,
    text_field,
)
from bot.messages.focus import takeaway_blocks
from bot.messages.lessons import keep_button
from bot.messages.quotes import tag_blocks
from bot.slack import ids

STAGES = ("opener", "exchange", "closer")
LOSS_FIELDS = ("reason", "missed", "needs", "solution", "gap", "takeaways")
LOSS_REQUIRED = frozenset({"reason", "missed", "takeaways"})
WIN_TEXT_FIELDS = ("why", "appealed", "almost", "quote", "strengths")
WIN_REQUIRED = frozenset({"why", "appealed"})
INPUT_MAX = 2000
VALUE = ids.FIELD_VALUE


# --- heard / helped / hugged ----------------------------------------------------------


def mode_reply(t: Texts, *, mode: str, deal_id: int, account: str) -> Built:
    """Each answer in kind: heard gets no advice, helped gets the plan, hugged a human
    word (and the offer to tell the manager)."""
    value = str(deal_id)
    text = t(f"mode.{mode}", account=account)
    blocks: list[Block] = [section(text)]
    ready = button(t("mode.button_ready"), ids.DEBRIEF_START, value, style="primary")
    if mode == "heard":
        blocks.append(actions(ids.MODE_NEXT_BLOCK, ready))
    elif mode == "hugged":
        tell = button(t("mode.button_tell_manager"), ids.LOSS_TELL_MANAGER, value)
        blocks.append(actions(ids.MODE_NEXT_BLOCK, tell, ready))
    return as_built(text, blocks)


def plain_reply(text: str, *extra: Block) -> Built:
    return as_built(text, [section(text), *extra])


# --- the three-stage script -----------------------------------------------------------


# A no-decision is "not now" or the status quo, not a loss to a rival: wherever the loss
# script says "your decision", "the team you chose" or "went another way", these say
# timing, priorities and what would make it worth doing.
ND = "no_decision.script."
NO_DECISION_KEYS = {
    "guess.prompt": ND + "guess_prompt",
    "guess.label_guess": ND + "label_guess",
    "guess.placeholder_guess": ND + "placeholder_guess",
    "debrief.opener.line1": ND + "opener_line1",
    "debrief.opener.line2": ND + "opener_line2",
    "debrief.exchange.line2": ND + "exchange_line1",
    "debrief.exchange.line3": ND + "exchange_line2",
    "debrief.exchange.line4": ND + "exchange_line4",
    "debrief.closer.line4": ND + "closer_line4",
    "log.label_reason": ND + "label_reason",
    "log.hint_reason": ND + "hint_reason",
    "log.placeholder_reason": ND + "placeholder_reason",
    "manager.dm_intro": ND + "manager_intro",
    "manager.dm_guess": ND + "manager_guess",
    "manager.script_line1": ND + "manager_line1",
    "manager.script_line2": ND + "manager_line2",
    "manager.script_line4": ND + "manager_line4",
}


def for_outcome(key: str, outcome: str | None) -> str:
    """The catalog key to say `key` with for a deal of `outcome`."""
    return NO_DECISION_KEYS.get(key, key) if outcome == "no_decision" else key


# The articles' own moves, in every call: start with what went well and "I value our
# relationship", own a mistake ("I'm sorry"), and close with "you've given me a lot to
# think about" when listing the takeaways.
STAGE_LINES = {
    "opener": tuple(f"debrief.opener.line{i}" for i in range(1, 5)),
    "exchange": (
        "debrief.words.went_well",
        "debrief.exchange.line1",
        "debrief.exchange.line2",
        "debrief.exchange.line3",
        "debrief.words.sorry",
        "debrief.exchange.line4",
    ),
    "closer": (
        "debrief.closer.line1",
        "debrief.closer.line2",
        "debrief.closer.line3",
        "debrief.words.think",
        "debrief.closer.line4",
    ),
}


def _stage_lines(t: Texts, stage: str, outcome: str) -> str:
    keys = []
    for key in STAGE_LINES[stage]:
        keys.append(for_outcome(key, outcome))
        if outcome == "no_decision" and key == "debrief.exchange.line3":
            # "not now" has one more question than a loss: what would make it worth doing.
            keys.append(ND + "exchange_line3")
    return "\n".join(f"• {t(k)}" for k in keys)


def script_message(
    t: Texts,
    *,
    deal_id: int,
    account: str,
    outcome: str,
    stage: str,
    guess: str | None,
    guess_category: str | None = None,
) -> Built:
    """The guess (asked for first), then one stage of the call at a time; "next"
    updates this same message in place."""
    value = str(deal_id)
    blocks: list[Block] = []
    if guess:
        blocks.append(context(t("guess.saved")))
        blocks.append(section(f"> {guess}"))
        if guess_category in reasons.CATEGORIES:
            kind = reasons.label(t, guess_category)
            blocks.append(context(t("reasons.guess_category", category=kind)))
    else:
        blocks.append(section(t(for_outcome("guess.prompt", outcome), account=account)))
        blocks.append(
            actions(ids.GUESS_BLOCK, button(t("guess.button_write"), ids.GUESS_OPEN, value))
        )
    blocks += [
        divider(),
        section(t("debrief.intro")),
        header(t(f"debrief.{stage}.header")),
        section(_stage_lines(t, stage, outcome)),
        context(t(f"debrief.{stage}.tip")),
    ]
    if stage == "exchange":
        blocks.append(context(t("debrief.words.tip")))
    following = STAGES.index(stage) + 1
    if following < len(STAGES):
        nxt = STAGES[following]
        blocks.append(
            actions(
                ids.DEBRIEF_STAGE_BLOCK,
                button(
                    t(f"debrief.{stage}.button_next"),
                    ids.DEBRIEF_NEXT,
                    f"{deal_id}:{nxt}",
                    style="primary",
                ),
                # Some reps have already made the call: let them log it from any stage.
                button(t("debrief.button_log"), ids.LOSS_LOG_OPEN, value),
            )
        )
    else:
        blocks.append(
            actions(
                ids.DEBRIEF_STAGE_BLOCK,
                button(t("debrief.closer.button_next"), ids.LOSS_LOG_OPEN, value, style="primary"),
            )
        )
    return as_built(t(f"debrief.{stage}.header") + " — " + account, blocks)


# --- modals ---------------------------------------------------------------------------


def text_input(
    *,
    block_id: str,
    label: str,
    hint: str | None = None,
    placeholder: str | None = None,
    initial: str | None = None,
    optional: bool = False,
    multiline: bool = True,
) -> Block:
    return text_field(
        block_id,
        label,
        action_id=VALUE,
        max_length=INPUT_MAX,
        multiline=multiline,
        initial=initial,
        placeholder=placeholder,
        optional=optional,
        hint=hint,
    )


def guess_modal(
    t: Texts,
    *,
    deal_id: int,
    initial: str | None,
    audience: str | None = None,
    outcome: str | None = None,
    category: str | None = None,
) -> dict[str, Any]:
    """The rep's guess, and (optional) the kind of reason it is."""
    return form_modal(
        t,
        prefix="guess",
        callback_id=ids.GUESS_VIEW,
        metadata={ids.META_DEAL: deal_id},
        audience=audience,
        blocks=[
            text_input(
                block_id=ids.GUESS_FIELD,
                label=t(for_outcome("guess.label_guess", outcome)),
                hint=t("guess.hint_guess"),
                placeholder=t(for_outcome("guess.placeholder_guess", outcome)),
                initial=initial,
            ),
            reasons.guess_block(t, category),
        ],
    )


def loss_log_modal(
    t: Texts,
    *,
    deal_id: int,
    role: str,
    initial: Mapping[str, str] | None,
    audience: str | None = None,
    outcome: str | None = None,
) -> dict[str, Any]:
    """The client's answer, with the kind of reason (optional) right after the reason.
    The rep and the manager who made the call use the same form."""
    initial = initial or {}
    blocks: list[Block] = [context(t("log.intro"))]
    for name in LOSS_FIELDS:
        if name == "missed":
            blocks.extend(reasons.reason_blocks(t, initial))
        blocks.append(
            text_input(
                block_id=name,
                label=t(for_outcome(f"log.label_{name}", outcome)),
                hint=t(for_outcome(f"log.hint_{name}", outcome)),
                placeholder=t(for_outcome("log.placeholder_reason", outcome))
                if name == "reason"
                else None,
                initial=initial.get(name),
                optional=name not in LOSS_REQUIRED,
                multiline=name != "reason",
            )
        )
    return form_modal(
        t,
        prefix="log",
        callback_id=ids.LOSS_LOG_VIEW,
        metadata={ids.META_DEAL: deal_id, ids.META_ROLE: role},
        blocks=blocks,
        audience=audience,
    )


def win_log_modal(
    t: Texts,
    *,
    deal_id: int,
    initial: Mapping[str, Any] | None,
    audience: str | None = None,
    tags: Sequence[str] = (),
) -> dict[str, Any]:
    """The win log; after the quote and its permission, the quote's tag (an industry or
    product line: one the team already uses, or a new one) for the quotes library."""
    initial = initial or {}
    hints = {"why", "appealed", "quote", "strengths"}
    blocks: list[Block] = [
        text_input(
            block_id=name,
            label=t(f"win_log.label_{name}"),
            hint=t(f"win_log.hint_{name}") if name in hints else None,
            initial=str(initial.get(name) or "") or None,
            optional=name not in WIN_REQUIRED,
        )
        for name in WIN_TEXT_FIELDS
    ]
    quote_ok = option(t("win_log.option_quote_ok"), "yes")
    checkbox: Block = {"type": "checkboxes", "action_id": VALUE, "options": [quote_ok]}
    if initial.get(ids.QUOTE_OK_FIELD):
        checkbox["initial_options"] = [quote_ok]
    quote = input_block(
        ids.QUOTE_OK_FIELD,
        t("win_log.label_quote_ok"),
        checkbox,
        optional=True,
        hint=t("quotes.hint_quote_ok"),
    )
    blocks[4:4] = [quote, *tag_blocks(t, tags=tags, initial=str(initial.get("quote_tag") or ""))]
    return form_modal(
        t,
        prefix="win_log",
        callback_id=ids.WIN_LOG_VIEW,
        metadata={ids.META_DEAL: deal_id},
        blocks=blocks,
        audience=audience,
    )


def read_text_values(state: Mapping[str, Any], names: Sequence[str]) -> dict[str, str]:
    """Submitted text fields, stripped; untouched optional ones come back as ""."""
    out: dict[str, str] = {}
    for name in names:
        value = ((state.get(name) or {}).get(VALUE) or {}).get("value")
        out[name] = str(value or "").strip()
    return out


def read_checked(state: Mapping[str, Any], name: str) -> bool:
    chosen = ((state.get(name) or {}).get(VALUE) or {}).get("selected_options") or []
    return any(isinstance(o, dict) and o.get("value") == "yes" for o in chosen)


def missing_required(
    values: Mapping[str, str], required: frozenset[str], message: str
) -> dict[str, str]:
    """Slack's `response_action: errors`, keyed by block_id. Whitespace-only counts as
    empty, which Slack's own required check lets through."""
    return {name: message for name in sorted(required) if not values.get(name)}


# --- the loop-back and what follows ---------------------------------------------------


def answer_sections(t: Texts, answers: Mapping[str, str]) -> list[Block]:
    """One section per answer: six answers of up to 2,000 characters each would not fit
    Slack's 3,000-character section, and a loop-back that silently drops the client's
    words would defeat "Did I get that right?"."""
    blocks = [
        section(t(f"log.loop_{name}", **{name: answers[name]}))
        for name in LOSS_FIELDS
        if answers.get(name)
    ]
    kind = reasons.reason_text(t, answers)
    if kind:
        blocks.insert(1 if answers.get("reason") else 0, section(kind))
    return blocks


def answer_lines(t: Texts, answers: Mapping[str, str], *, budget: int = 2400) -> str:
    """The answers as one block of text, each clipped to a fair share of `budget`, for
    messages that quote them inside a longer line (the manager's DM, the rep's result)."""
    given = [name for name in LOSS_FIELDS if answers.get(name)]
    share = max(budget // max(len(given), 1), 80)
    lines = [t(f"log.loop_{name}", **{name: clip(answers[name], share)}) for name in given]
    kind = reasons.reason_text(t, answers)
    if kind:
        lines.insert(1 if answers.get("reason") else 0, kind)
    return "\n".join(lines)


def log_step(deal_id: int, role: str, rev: int | None = None) -> str:
    """A loop-back button's value: `<deal id>:<role>[:<draft revision>]`."""
    return f"{deal_id}:{role}:{rev}" if rev else f"{deal_id}:{role}"


def parse_log_step(step: str) -> tuple[str, int | None]:
    """A loop-back button's `<role>:<draft revision>` (the part after the deal id).
    Summaries posted before revisions existed carry the role alone, or nothing."""
    role, _, rev = step.partition(":")
    return ("manager" if role == "manager" else "rep"), (int(rev) if rev.isdigit() else None)


def loop_summary(
    t: Texts,
    *,
    deal_id: int,
    account: str,
    role: str,
    answers: Mapping[str, str],
    rev: int | None = None,
) -> Built:
    """Looping: say back what was heard and ask "Did I get that right?" before saving.
    The buttons carry the draft's revision so Confirm saves exactly what this showed."""
    value = log_step(deal_id, role, rev)
    intro = t("log.loop_intro", account=account)
    blocks: list[Block] = [
        section(intro),
        *answer_sections(t, answers),
        section(t("log.loop_question")),
        actions(
            ids.LOG_LOOP_BLOCK,
            button(t("log.button_confirm"), ids.LOG_CONFIRM, value, style="primary"),
            button(t("log.button_edit"), ids.LOG_EDIT, value),
        ),
    ]
    return as_built(intro + " " + t("log.loop_question"), blocks)


def guess_vs_reason(
    t: Texts,
    *,
    guess: str | None,
    reason: str,
    guess_category: str | None = None,
    reason_category: str | None = None,
) -> str:
    """The rep's guess next to the client's reason; when both carry a kind of reason,
    whether they are the same kind."""
    if not guess:
        return t("log.no_guess")
    text = t("log.guess_vs_reason", guess=guess, reason=reason)
    compared = reasons.compare_text(
        t, guess_category=guess_category, reason_category=reason_category
    )
    return f"{text}\n{compared}" if compared else text


def rep_logged(
    t: Texts,
    *,
    deal_id: int,
    account: str,
    answers: Mapping[str, str],
    guess: str | None,
    intro: str | None = None,
    guess_category: str | None = None,
) -> Built:
    """After Confirm: thanks, the guess next to the client's reason (a private coaching
    signal), then what to do next: edit, or track a concern the client raised. `intro`
    replaces the thanks when the saved debrief is shown again (`/loop debrief`)."""
    value = str(deal_id)
    saved = intro or t("log.saved", account=account)
    blocks: list[Block] = [
        section(saved),
        *answer_sections(t, answers),
        section(
            guess_vs_reason(
                t,
                guess=guess,
                reason=answers.get("reason", ""),
                guess_category=guess_category,
                reason_category=answers.get("reason_category"),
            )
        ),
        # A takeaway becomes the practice focus in one click (bot/messages/focus.py).
        *takeaway_blocks(t, deal_id=deal_id, takeaways=answers.get("takeaways", "")),
        actions(
            ids.LOG_AFTER_BLOCK,
            button(t("common.button_edit"), ids.LOG_EDIT, log_step(deal_id, "rep")),
            # The concern ritual's button: its id is named in that ritual's region of ids.
            button(t("debrief.button_concern"), ids.CONCERN_OPEN, value),
            button(t("privacy.button_share"), ids.PRIVACY_SHARE, value),
            keep_button(t, deal_id),
        ),
    ]
    return as_built(saved, blocks)


def win_logged(t: Texts, *, deal_id: int, account: str, quote_ok: bool) -> Built:
    key = "win_log.saved_quote" if quote_ok else "win_log.saved"
    text = t(key, account=account)
    return plain_reply(
        text,
        actions(
            ids.WIN_AFTER_BLOCK,
            button(t("common.button_edit"), ids.WIN_LOG_OPEN, str(deal_id)),
            button(t("privacy.button_share"), ids.PRIVACY_SHARE, str(deal_id)),
            keep_button(t, deal_id),
        ),
    )


def win_saved(t: Texts, *, deal_id: int, account: str, answers: Mapping[str, Any]) -> Built:
    """A logged win shown again (`/loop debrief`): what was saved, then Edit and Share."""
    intro = t("state.already_logged", account=account)
    blocks: list[Block] = [section(intro)]
    for name in WIN_TEXT_FIELDS:
        answer = str(answers.get(name) or "").strip()
        if answer:
            safe = answer.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            blocks.append(section(f"*{t(f'win_log.label_{name}')}*\n{safe}"))
    blocks.append(
        actions(
            ids.WIN_AFTER_BLOCK,
            button(t("common.button_edit"), ids.WIN_LOG_OPEN, str(deal_id)),
            button(t("privacy.button_share"), ids.PRIVACY_SHARE, str(deal_id)),
            keep_button(t, deal_id),
        )
    )
    return as_built(intro, blocks)


# --- reminders ------------------------------------------------------------------------


def debrief_reminder(
    t: Texts, *, deal_id: int, account: str, days: int, won: bool, logged: bool = False
) -> Built:
    """The one reminder; once the debrief is logged its button makes way for saying so
    (`/loop debrief` shows the answers)."""
    text = t("reminder.debrief", account=account, days=days)
    action = ids.WIN_LOG_OPEN if won else ids.LOSS_LOG_OPEN
    row: Block = actions(
        ids.REMINDER_BLOCK,
        button(t("reminder.button_log"), action, str(deal_id), style="primary"),
    )
    if logged:
        row = {**context(t("state.logged")), "block_id": ids.CHOICE_BLOCK}
    blocks = [section(text), row]
    return as_built(t("reminder.debrief_fallback", account=account), blocks)


def debrief_manager_note(t: Texts, *, rep: str, account: str, days: int) -> Built:
    text = t("reminder.debrief_manager", rep=f"<@{rep}>", account=account, days=days)
    return plain_reply(text)
