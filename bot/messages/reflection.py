"""End-of-day reflection: the evening DM, its modal, the "let it go" reply, the weekly digest.

Pure builders: catalog texts and plain values in, Block Kit dicts out."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot.blocks import (
    FALLBACK_MAX,
    MESSAGE_BLOCKS_MAX,
    VIEW_TITLE_MAX,
    Block,
    actions,
    button,
    clip,
    context,
    fit_message,
    header,
    plain,
    section,
)
from bot.messages import Built, Texts

CALLBACK_ID = "reflection"
OPEN_ACTION = "reflect_open"
SKIP_ACTION = "reflect_skip"
FIELDS = ("went", "short", "better")
REQUIRED = "went"
VALUE = "v"
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


def reflection_dm(t: Texts, *, local_date: str) -> Built:
    """The evening DM: one line and a button; the questions wait in the modal."""
    blocks: list[Block] = [
        section(t("reflect.dm")),
        actions(
            "reflect",
            button(t("reflect.button_start"), OPEN_ACTION, local_date, style="primary"),
            button(t("reflect.button_skip"), SKIP_ACTION, local_date),
        ),
        context(t("reflect.hint_private")),
    ]
    return Built(clip(t("reflect.fallback"), FALLBACK_MAX), fit_message(blocks))


def _input(block_id: str, label: str, initial: str, *, optional: bool) -> Block:
    element: Block = {
        "type": "plain_text_input",
        "action_id": VALUE,
        "multiline": True,
        "max_length": INPUT_MAX,
    }
    if initial:
        element["initial_value"] = initial[:INPUT_MAX]
    return {
        "type": "input",
        "block_id": block_id,
        "label": plain(label, 2000),
        "element": element,
        "optional": optional,
    }


def reflection_modal(
    t: Texts,
    *,
    local_date: str,
    channel: str | None = None,
    ts: str | None = None,
    owner: str | None = None,
    initial: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The three questions. The DM's channel and ts ride along so the DM can be
    updated with the "let it go" words once the reflection is saved; the owner, so
    that only the rep it was opened for ever touches that DM."""
    initial = initial or {}
    metadata = {"date": local_date, "channel": channel, "ts": ts, "user": owner}
    blocks: list[Block] = [
        _input(f, t(f"reflect.label_{f}"), initial.get(f, ""), optional=f != REQUIRED)
        for f in FIELDS
    ]
    blocks.append(context(t("reflect.hint_private")))
    return {
        "type": "modal",
        "callback_id": CALLBACK_ID,
        "title": plain(t("reflect.modal_title"), VIEW_TITLE_MAX),
        "submit": plain(t("reflect.modal_submit"), VIEW_TITLE_MAX),
        "close": plain(t("reflect.modal_close"), VIEW_TITLE_MAX),
        "private_metadata": json.dumps(metadata, separators=(",", ":"))[:3000],
        "blocks": blocks,
    }


def read_metadata(view: Mapping[str, Any]) -> dict[str, Any]:
    try:
        meta = json.loads(view.get("private_metadata") or "{}")
    except ValueError:
        return {}
    return meta if isinstance(meta, dict) else {}


def read_answers(state: Mapping[str, Any]) -> dict[str, str]:
    """The three answers from `view.state.values`; untouched fields come back as ""."""
    values = state.get("values") or {}
    out: dict[str, str] = {}
    for name in FIELDS:
        raw = ((values.get(name) or {}).get(VALUE) or {}).get("value")
        out[name] = str(raw or "").strip()[:INPUT_MAX]
    return out


def let_go(t: Texts) -> Built:
    text = t("reflect.let_go")
    return Built(clip(text, FALLBACK_MAX), [section(text)])


def skipped(t: Texts) -> Built:
    text = t("reflect.skipped")
    return Built(clip(text, FALLBACK_MAX), [section(text)])


def _escape(text: str) -> str:
    """The rep's own words go into mrkdwn: a pasted `<!here>` or `<@U…>` must stay text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def weekly_digest(t: Texts, entries: Sequence[DigestEntry]) -> Built:
    """The rep's own week back: every evening they wrote, oldest first."""
    title = t("reflect.digest_header")
    if not entries:
        empty = t("reflect.digest_empty")
        return Built(clip(f"{title}\n{empty}", FALLBACK_MAX), [header(title), section(empty)])
    if len(entries) == 1:
        intro = t("reflect.digest_intro_one")
    else:
        intro = t("reflect.digest_intro", count=len(entries))
    blocks: list[Block] = [header(title), section(intro)]
    for entry in entries[: MESSAGE_BLOCKS_MAX - len(blocks)]:
        answers = {
            f: _escape(clip(getattr(entry, f), DIGEST_ANSWER_MAX)) or EMPTY_ANSWER for f in FIELDS
        }
        blocks.append(section(t("reflect.digest_entry", date=entry.local_date, **answers)))
    return Built(clip(f"{title}\n{intro}", FALLBACK_MAX), fit_message(blocks))
