"""End-of-day reflection: the evening DM, its modal, the "let it go" reply, the weekly digest.

Pure builders: catalog texts and plain values in, Block Kit dicts out."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot.messages import Built, Texts, as_built, form_modal
from bot.messages import focus as focus_msg
from bot.messages.blocks import (
    MESSAGE_BLOCKS_MAX,
    Block,
    actions,
    button,
    clip,
    context,
    header,
    input_block,
    option,
    section,
    text_field,
)
from bot.slack import ids

CALLBACK_ID = ids.REFLECT_MODAL
OPEN_ACTION = ids.REFLECT_OPEN
SKIP_ACTION = ids.REFLECT_SKIP
FIELDS = ("went", "short", "better")
REQUIRED = "went"
VALUE = ids.REFLECT_VALUE
INPUT_MAX = 2000
# A digest entry holds three answers in one section (at most 3000 characters), so each
# answer is shortened there; the full text stays in the database.
DIGEST_ANSWER_MAX = 800
EMPTY_ANSWER = "—"


@dataclass(frozen=True)
class DigestEntry:
    local_date: str
    went: str
    short: str
    better: str
    focus: str | None = None  # the practice focus that evening asked about
    focus_came_up: bool | None = None


def reflection_dm(t: Texts, *, local_date: str, focus: str | None = None) -> Built:
    """The evening DM: one line and a button; the questions wait in the modal. With a
    practice focus the line names it; without one it invites the rep to pick one."""
    buttons = [
        button(t("reflect.button_start"), OPEN_ACTION, local_date, style="primary"),
        button(t("reflect.button_skip"), SKIP_ACTION, local_date),
    ]
    if focus:
        blocks: list[Block] = [section(t("focus.dm", focus=focus_msg.escape(focus)))]
    else:
        blocks = [section(t("reflect.dm")), section(t("focus.invite"))]
        buttons.append(button(t("focus.button_set"), ids.FOCUS_OPEN, ids.FOCUS_FROM_REFLECTION))
    blocks += [actions(ids.REFLECT_BLOCK, *buttons), context(t("reflect.hint_private"))]
    return as_built(t("reflect.fallback"), blocks)


def _came_up_block(t: Texts, initial: Any) -> Block:
    choices = [
        option(t("focus.option_came_up_yes"), "yes"),
        option(t("focus.option_came_up_no"), "no"),
    ]
    radio: Block = {"type": "radio_buttons", "action_id": VALUE, "options": choices}
    if initial in ("yes", "no"):
        radio["initial_option"] = choices[0 if initial == "yes" else 1]
    return input_block(ids.REFLECT_CAME_UP, t("focus.label_came_up"), radio, optional=True)


def _focus_blocks(t: Texts, focus: str | None) -> list[Block]:
    """The practice focus in the evening modal: asked about first when there is one,
    and offered (to keep, change or set) last."""
    field = text_field(
        ids.REFLECT_FOCUS,
        t("focus.label_next"),
        action_id=VALUE,
        max_length=focus_msg.FOCUS_INPUT_MAX,
        initial=focus or None,
        placeholder=t("focus.placeholder_focus"),
        optional=True,
        hint=t("focus.hint_next" if focus else "focus.hint_next_none"),
    )
    return [field]


def reflection_modal(
    t: Texts,
    *,
    local_date: str,
    channel: str | None = None,
    ts: str | None = None,
    owner: str | None = None,
    initial: Mapping[str, str] | None = None,
    focus: str | None = None,
    focus_id: int | None = None,
) -> dict[str, Any]:
    """The three questions. The DM's channel and ts ride along so the DM can be
    updated with the "let it go" words once the reflection is saved; the owner, so
    that only the rep it was opened for ever touches that DM. With a practice focus,
    first "Did it come up today?" (the focus's id rides along too, so the answer is
    recorded against the focus that was asked about)."""
    initial = initial or {}
    metadata: dict[str, Any] = {"date": local_date, "channel": channel, "ts": ts, "user": owner}
    blocks: list[Block] = []
    if focus:
        metadata["focus"] = focus_id
        blocks.append(section(t("focus.reflect_working_on", focus=focus_msg.escape(focus))))
        blocks.append(_came_up_block(t, initial.get("came_up")))
    blocks += [
        text_field(
            f,
            t("focus.label_went" if focus and f == REQUIRED else f"reflect.label_{f}"),
            action_id=VALUE,
            max_length=INPUT_MAX,
            multiline=True,
            initial=initial.get(f, ""),
            optional=f != REQUIRED,
        )
        for f in FIELDS
    ]
    blocks += _focus_blocks(t, focus)
    blocks.append(context(t("reflect.hint_private")))
    return form_modal(
        t, prefix="reflect", callback_id=CALLBACK_ID, metadata=metadata, blocks=blocks
    )


def read_answers(state: Mapping[str, Any]) -> dict[str, str]:
    """The three answers from `view.state.values`; untouched fields come back as ""."""
    values = state.get("values") or {}
    out: dict[str, str] = {}
    for name in FIELDS:
        raw = ((values.get(name) or {}).get(VALUE) or {}).get("value")
        out[name] = str(raw or "").strip()[:INPUT_MAX]
    return out


def read_came_up(state: Mapping[str, Any]) -> bool | None:
    """ "Did it come up today?": True, False, or None when not asked or not answered."""
    values = state.get("values") or {}
    chosen = ((values.get(ids.REFLECT_CAME_UP) or {}).get(VALUE) or {}).get("selected_option")
    value = chosen.get("value") if isinstance(chosen, dict) else None
    return {"yes": True, "no": False}.get(str(value))


def read_next_focus(state: Mapping[str, Any]) -> str | None:
    """The focus field as submitted; None when the modal had no such field."""
    values = state.get("values") or {}
    if ids.REFLECT_FOCUS not in values:
        return None
    return focus_msg.read_focus(dict(state), ids.REFLECT_FOCUS)


def let_go(t: Texts, *, focus_now: str | None = None, changed: bool = False) -> Built:
    """ "Let it go" — and, when the rep set a new focus in the form, what it is now."""
    text = t("reflect.let_go")
    blocks = [section(text)]
    if changed:
        blocks.extend(focus_msg.focus_saved(t, focus_now).blocks)
    return as_built(text, blocks)


def skipped(t: Texts) -> Built:
    text = t("reflect.skipped")
    return as_built(text, [section(text)])


def _escape(text: str) -> str:
    """The rep's own words go into mrkdwn: a pasted `<!here>` or `<@U…>` must stay text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def weekly_digest(
    t: Texts, entries: Sequence[DigestEntry], *, focus_now: str | None = None
) -> Built:
    """The rep's own week back: every evening they wrote, oldest first."""
    title = t("reflect.digest_header")
    if not entries:
        empty = t("reflect.digest_empty")
        return as_built(f"{title}\n{empty}", [header(title), section(empty)])
    if len(entries) == 1:
        intro = t("reflect.digest_intro_one")
    else:
        intro = t("reflect.digest_intro", count=len(entries))
    blocks: list[Block] = [header(title), section(intro)]
    days = [focus_msg.FocusDay(e.local_date, e.focus or "", e.focus_came_up) for e in entries]
    parts = focus_msg.digest_focus_sections(t, days, focus_now=focus_now)
    blocks += [section(part) for part in parts]
    for entry in entries[: MESSAGE_BLOCKS_MAX - len(blocks)]:
        answers = {
            f: _escape(clip(getattr(entry, f), DIGEST_ANSWER_MAX)) or EMPTY_ANSWER for f in FIELDS
        }
        text = t("reflect.digest_entry", date=entry.local_date, **answers)
        came_up = focus_msg.digest_entry_line(t, entry.focus, entry.focus_came_up)
        blocks.append(section(f"{text}\n{came_up}" if came_up else text))
    return as_built(f"{title}\n{intro}", blocks)
