"""Manager makes the call: the streak offer to the rep, the manager's DM with the deal,
the rep's notes and guess and a call script, and what the rep is told afterwards."""

from __future__ import annotations

import datetime
from collections.abc import Mapping
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
)
from bot.messages.debrief import (
    INPUT_MAX,
    answer_lines,
    for_outcome,
    guess_vs_reason,
    log_step,
    plain_reply,
    text_input,
)
from bot.messages.lessons import keep_button
from bot.slack import ids

# The caller's form: what the client said, whether the door is open, the next step, and
# (optional) where we missed the mark. Stored under these keys (storage/debriefs.py).
CALL_TEXT_FIELDS = ("heard", "missed", "next")
CALL_REQUIRED = frozenset({"heard", "door"})
DOORS = ("open", "maybe", "closed")


def streak_offer(t: Texts, *, deal_id: int, account: str, count: int, manager: str) -> Built:
    text = t("manager.streak_offer", count=count, manager=manager, account=account)
    value = str(deal_id)
    blocks: list[Block] = [
        section(text),
        actions(
            ids.STREAK_OFFER_BLOCK,
            button(t("manager.button_yes"), ids.STREAK_YES, value, style="primary"),
            button(t("manager.button_no"), ids.STREAK_NO, value),
        ),
    ]
    return as_built(text, blocks)


def streak_no_manager(t: Texts, *, deal_id: int, account: str, count: int, who: str) -> Built:
    """The streak offer for a rep without a manager: nobody to ask, so it says who can
    set one and offers the rep's own debrief script."""
    text = t("manager.streak_no_manager", count=count, account=account, who=who)
    ready = button(t("mode.button_ready"), ids.DEBRIEF_START, str(deal_id), style="primary")
    return as_built(text, [section(text), actions(ids.STREAK_OFFER_BLOCK, ready)])


def manager_dm(
    t: Texts,
    *,
    deal_id: int,
    rep: str,
    account: str,
    amount: str,
    date: datetime.date | str,  # the deal's local day; Texts writes it the reader's way
    notes: Mapping[str, str] | None,
    guess: str | None,
    colleague: bool = False,
    outcome: str | None = None,
    guess_category: str | None = None,
) -> Built:
    """The caller's DM: the deal (an amount nobody entered is left out, not "Not set"),
    the rep's notes and guess, the script, and the buttons to log or hand it back."""
    rep_ref = f"<@{rep}>"
    empty = t("manager.dm_empty")
    note_text = answer_lines(t, notes) if notes else ""
    value = str(deal_id)
    script = "\n".join(
        t(for_outcome(f"manager.script_line{i}", outcome), rep=rep_ref) for i in range(1, 5)
    )
    intro = "call.dm_intro_colleague" if colleague else for_outcome("manager.dm_intro", outcome)
    deal_line = (
        t("manager.dm_deal", account=account, amount=amount, date=date)
        if amount
        else t("call.dm_deal_no_amount", account=account, date=date)
    )
    blocks: list[Block] = [
        header(t("manager.dm_header", account=account)),
        section(t(intro, account=account, rep=rep_ref)),
        section(deal_line),
        section(t("manager.dm_notes", rep=rep_ref, notes=note_text or empty)),
        section(t(for_outcome("manager.dm_guess", outcome), rep=rep_ref, guess=guess or empty)),
        *(
            [context(t("reasons.manager_guess_category", rep=rep_ref, category=kind))]
            if guess and (kind := reasons.label(t, guess_category))
            else []
        ),
        divider(),
        header(t("manager.script_header")),
        section(script),
        context(t("manager.script_tip", rep=rep_ref)),
        actions(
            ids.MANAGER_CALL_BLOCK,
            button(t("manager.button_log"), ids.MANAGER_LOG_OPEN, value, style="primary"),
            button(t("manager.button_decline"), ids.MANAGER_DECLINE, value),
        ),
    ]
    return as_built(t("manager.fallback", rep=rep_ref, account=account), blocks)


def manager_logged(t: Texts, *, deal_id: int, rep: str) -> Built:
    return plain_reply(
        t("manager.saved", rep=f"<@{rep}>"),
        actions(
            ids.LOG_AFTER_BLOCK,
            button(t("common.button_edit"), ids.LOG_EDIT, log_step(deal_id, "manager")),
        ),
    )


def door_word(t: Texts, door: str | None) -> str:
    return t(f"manager.option_door_{door}") if door in DOORS else ""


def call_answer_sections(t: Texts, answers: Mapping[str, str]) -> list[Block]:
    """The caller's answers, one section each (each may be 2,000 characters)."""
    lines = [
        t("call.loop_heard", heard=answers.get("heard", "")),
        reasons.reason_text(t, answers),
        t("log.loop_missed", missed=answers.get("missed", "")) if answers.get("missed") else "",
        t("call.loop_door", door=door_word(t, answers.get("door"))),
        t("call.loop_next", next=answers.get("next", "")) if answers.get("next") else "",
    ]
    return [section(line) for line in lines if line]


def call_log_modal(
    t: Texts,
    *,
    deal_id: int,
    account: str,
    rep: str,
    initial: Mapping[str, str] | None,
    audience: str | None = None,
) -> dict[str, Any]:
    """The caller's own questions (not the rep's debrief form): what did they tell you,
    is the door open for next time, what is the next step."""
    initial = initial or {}
    doors = [option(t(f"manager.option_door_{d}"), d) for d in DOORS]
    select: Block = {
        "type": "static_select",
        "action_id": ids.FIELD_VALUE,
        "placeholder": {"type": "plain_text", "text": t("call.placeholder_door")[:150]},
        "options": doors,
    }
    if initial.get("door") in DOORS:
        select["initial_option"] = doors[DOORS.index(initial["door"])]
    heard = initial.get("heard") or initial.get("reason")
    blocks: list[Block] = [
        context(t("call.modal_intro", account=account, rep=f"<@{rep}>")),
        text_input(
            block_id="heard",
            label=t("manager.label_heard"),
            hint=t("manager.hint_heard"),
            initial=heard,
        ),
        *reasons.reason_blocks(t, initial),
        input_block(ids.CALL_DOOR_FIELD, t("manager.label_door"), select, hint=t("call.hint_door")),
        text_input(
            block_id="next",
            label=t("call.label_next"),
            hint=t("call.hint_next"),
            initial=initial.get("next"),
            optional=True,
        ),
        text_input(
            block_id="missed",
            label=t("manager.label_missed"),
            initial=initial.get("missed"),
            optional=True,
        ),
    ]
    return form_modal(
        t,
        prefix="manager",
        callback_id=ids.CALL_LOG_VIEW,
        metadata={ids.META_DEAL: deal_id, ids.META_ROLE: "manager"},
        blocks=blocks,
        audience=audience,
    )


def read_call_answers(state: Mapping[str, Any]) -> dict[str, str]:
    """The submitted call log: its text fields stripped, the door as one of DOORS."""
    out: dict[str, str] = {}
    for name in CALL_TEXT_FIELDS:
        value = ((state.get(name) or {}).get(ids.FIELD_VALUE) or {}).get("value")
        out[name] = str(value or "").strip()[:INPUT_MAX]
    chosen = ((state.get(ids.CALL_DOOR_FIELD) or {}).get(ids.FIELD_VALUE) or {}).get(
        "selected_option"
    ) or {}
    door = chosen.get("value") if isinstance(chosen, dict) else None
    out["door"] = door if door in DOORS else ""
    return out


def call_summary(
    t: Texts, *, deal_id: int, account: str, answers: Mapping[str, str], rev: int | None
) -> Built:
    """The caller's loop-back: "Did I get that right?" before the rep is told."""
    value = log_step(deal_id, "manager", rev)
    intro = t("log.loop_intro", account=account)
    blocks: list[Block] = [
        section(intro),
        *call_answer_sections(t, answers),
        section(t("log.loop_question")),
        actions(
            ids.LOG_LOOP_BLOCK,
            button(t("log.button_confirm"), ids.LOG_CONFIRM, value, style="primary"),
            button(t("log.button_edit"), ids.LOG_EDIT, value),
        ),
    ]
    return as_built(intro + " " + t("log.loop_question"), blocks)


def rep_result(
    t: Texts,
    *,
    manager: str,
    account: str,
    answers: Mapping[str, str],
    guess: str | None,
    guess_category: str | None = None,
    deal_id: int | None = None,
) -> Built:
    """The one DM the rep gets once the call is logged: their own guess beside what the
    client told the caller (and, when both were picked, whether their kinds of reason
    match), whether the door is open, and the next step."""
    caller = f"<@{manager}>"
    reason_category = answers.get("reason_category")
    if "heard" not in answers:
        # Logged with the rep's form, before the call had its own.
        text = t(
            "manager.rep_result", manager=caller, account=account, notes=answer_lines(t, answers)
        )
        compared = guess_vs_reason(
            t,
            guess=guess,
            reason=answers.get("reason", ""),
            guess_category=guess_category,
            reason_category=reason_category,
        )
        return plain_reply(text, section(compared))
    heard = clip(answers.get("heard", ""), 1200)
    compared = (
        t("call.result_guess", guess=clip(guess, 1200), heard=heard, caller=caller)
        if guess
        else t("call.result_no_guess", heard=heard, caller=caller)
    )
    lines = [
        compared,
        reasons.reason_text(t, answers),
        reasons.compare_text(t, guess_category=guess_category, reason_category=reason_category)
        if guess
        else "",
        t("call.result_missed", missed=answers["missed"]) if answers.get("missed") else "",
        t("call.result_door", door=door_word(t, answers.get("door"))),
        t("call.result_next", next=answers["next"]) if answers.get("next") else "",
    ]
    text = t("call.rep_result", caller=caller, account=account)
    blocks = [section(text), *(section(line) for line in lines if line)]
    if deal_id is not None:
        # What the client told the caller is the rep's to keep as a lesson.
        blocks.append(actions(ids.LESSON_KEEP_BLOCK, keep_button(t, deal_id)))
    return as_built(t("call.result_fallback", caller=caller, account=account), blocks)


def pick_modal(t: Texts, *, deal_id: int, account: str) -> dict[str, Any]:
    """ "Ask a colleague instead": the rep picks who makes the call."""
    picker: Block = {
        "type": "users_select",
        "action_id": ids.FIELD_VALUE,
        "placeholder": {"type": "plain_text", "text": t("call.pick.placeholder_who")[:150]},
    }
    return form_modal(
        t,
        prefix="call.pick",
        callback_id=ids.CALL_PICK_VIEW,
        metadata={ids.META_DEAL: deal_id},
        audience=t("call.pick.who_sees"),
        blocks=[
            section(t("call.pick.intro", account=account)),
            input_block(ids.CALL_PICK_BLOCK, t("call.pick.label_who"), picker),
        ],
    )


def home_call(t: Texts, *, deal_id: int, account: str, rep: str, date: str) -> list[Block]:
    """A call to make, in the caller's App Home, with the DM's own two buttons."""
    value = str(deal_id)
    return [
        section(t("call.home_line", account=account, rep=f"<@{rep}>", date=date)),
        actions(
            f"{ids.HOME_CALL_BLOCK_PREFIX}{deal_id}",
            button(t("manager.button_log"), ids.MANAGER_LOG_OPEN, value, style="primary"),
            button(t("manager.button_decline"), ids.MANAGER_DECLINE, value),
        ),
    ]


def manager_call_reminder(t: Texts, *, deal_id: int, rep: str, account: str, days: int) -> Built:
    text = t("reminder.manager_call", rep=f"<@{rep}>", account=account, days=days)
    value = str(deal_id)
    blocks: list[Block] = [
        section(text),
        actions(
            ids.REMINDER_BLOCK,
            button(t("reminder.button_log"), ids.MANAGER_LOG_OPEN, value, style="primary"),
            button(t("manager.button_decline"), ids.MANAGER_DECLINE, value),
        ),
    ]
    return as_built(t("reminder.manager_call_fallback", account=account), blocks)


def call_declined(t: Texts, *, deal_id: int, manager: str, account: str) -> Built:
    """The rep hears their manager won't make the call, and can run the debrief themselves."""
    text = t("manager.rep_declined", manager=f"<@{manager}>", account=account)
    ready = button(t("mode.button_ready"), ids.DEBRIEF_START, str(deal_id), style="primary")
    return plain_reply(text, actions(ids.DECLINED_BLOCK, ready))
