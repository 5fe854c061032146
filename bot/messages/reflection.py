"""End-of-day reflection: the evening DM, its modal, the "let it go" reply, the weekly digest.

Pure builders: catalog texts and plain values in, Block Kit dicts out."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot.messages import Built, Texts, as_built, form_modal
from bot.messages.blocks import (
    MESSAGE_BLOCKS_MAX,
    Block,
    actions,
    button,
    clip,
    context,
    header,
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


def reflection_dm(t: Texts, *, local_date: str) -> Built:
    """The evening DM: one line and a button; the questions wait in the modal."""
    blocks: list[Block] = [
        section(t("reflect.dm")),
        actions(
            ids.REFLECT_BLOCK,
            button(t("reflect.button_start"), OPEN_ACTION, local_date, style="primary"),
            button(t("reflect.button_skip"), SKIP_ACTION, local_date),
        ),
        context(t("reflect.hint_private")),
    ]
    return as_built(t("reflect.fallback"), blocks)


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
        text_field(
            f,
            t(f"reflect.label_{f}"),
            action_id=VALUE,
            max_length=INPUT_MAX,
            multiline=True,
            initial=initial.get(f, ""),
            optional=f != REQUIRED,
        )
        for f in FIELDS
    ]
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


def let_go(t: Texts) -> Built:
    text = t("reflect.let_go")
    return as_built(text, [section(text)])


def skipped(t: Texts) -> Built:
    text = t("reflect.skipped")
    return as_built(text, [section(text)])


def _escape(text: str) -> str:
    """The rep's own words go into mrkdwn: a pasted `<!here>` or `<@U…>` must stay text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def weekly_digest(t: Texts, entries: Sequence[DigestEntry]) -> Built:
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
    for entry in entries[: MESSAGE_BLOCKS_MAX - len(blocks)]:
        answers = {
            f: _escape(clip(getattr(entry, f), DIGEST_ANSWER_MAX)) or EMPTY_ANSWER for f in FIELDS
        }
        blocks.append(section(t("reflect.digest_entry", date=entry.local_date, **answers)))
    return as_built(f"{title}\n{intro}", blocks)
