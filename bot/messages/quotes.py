"""The quotes library (seed 001: win feedback yields quotes "to help you win the next
opportunity"): `/loop quotes [word]`, the quotes in `/loop prep`, and the tag choice in
the win log. Only quotes the client allowed ever reach these builders.

Pure builders: catalog texts and plain values in, Block Kit dicts out."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot.messages import Built, Texts, as_built
from bot.messages.blocks import (
    Block,
    actions,
    button,
    clip,
    context,
    header,
    input_block,
    option,
    plain,
    section,
    text_field,
)
from bot.messages.focus import escape
from bot.slack import ids

PAGE = 8  # two blocks a quote: a page stays far inside a message's 50 blocks
QUOTE_SHOWN_MAX = 2000
WORD_MAX = 100
TAG_MAX = 40
PREP_QUOTE_MAX = 600  # three quotes and their lines share one 3000-character section


@dataclass(frozen=True)
class QuoteLine:
    account: str
    rep: str | None
    date: str  # the win's date in the reader's zone
    tag: str
    text: str


def _meta(t: Texts, q: QuoteLine) -> str:
    rep = f"<@{q.rep}>" if q.rep else "—"
    line = t("quotes.item_meta", account=escape(q.account), rep=rep, date=q.date)
    return f"{line} · `{escape(q.tag)}`" if q.tag else line


def more_value(word: str, page: int) -> str:
    return json.dumps({"w": word[:WORD_MAX], "p": page}, ensure_ascii=False)


def read_more_value(value: str) -> tuple[str, int]:
    """The word and page a "Show more" button carries; ("", 0) for anything else."""
    try:
        data = json.loads(value)
    except ValueError:
        return "", 0
    if not isinstance(data, dict):
        return "", 0
    page = data.get("p")
    word = data.get("w")
    ok = isinstance(page, int) and not isinstance(page, bool) and 0 <= page < 10_000
    return (str(word)[:WORD_MAX] if isinstance(word, str) else ""), (int(page or 0) if ok else 0)


def quotes_page(t: Texts, quotes: Sequence[QuoteLine], *, word: str, page: int) -> Built:
    """One page of matches, newest first, each with account, rep, date and tag."""
    total = len(quotes)
    page = min(max(page, 0), max((total - 1) // PAGE, 0))
    first = page * PAGE
    shown = quotes[first : first + PAGE]
    title = t("quotes.header_word", word=word) if word else t("quotes.header")
    blocks: list[Block] = [
        header(title),
        context(t("quotes.showing", first=first + 1, last=first + len(shown), total=total)),
    ]
    for q in shown:
        blocks.append(section("> " + escape(clip(q.text, QUOTE_SHOWN_MAX)).replace("\n", "\n> ")))
        blocks.append(context(_meta(t, q)))
    if first + len(shown) < total:
        more = button(t("quotes.button_more"), ids.QUOTES_MORE, more_value(word, page + 1))
        blocks.append(actions(ids.QUOTES_BLOCK, more))
    return as_built(title, blocks)


def no_quotes(t: Texts, *, word: str, tags: Sequence[str]) -> Built:
    """Nothing found: what to try instead."""
    if not word:
        text = t("quotes.none_yet")
    elif tags:
        listed = ", ".join(f"`{escape(tag)}`" for tag in tags[:10])
        text = t("quotes.no_match", word=escape(word), tags=listed)
    else:
        text = t("quotes.no_match_no_tags", word=escape(word))
    return as_built(text, [section(text)])


def prep_section(t: Texts, *, account: str, tag: str, quotes: Sequence[QuoteLine]) -> str:
    """The prep sheet's "Quotes you could use": from any account, the tag's first."""
    title = t("quotes.prep_header_tag", tag=escape(tag)) if tag else t("quotes.prep_header")
    lines = [title]
    for q in quotes:
        lines.append("> " + escape(clip(q.text, PREP_QUOTE_MAX)).replace("\n", " "))
        lines.append(_meta(t, q))
    more = t("quotes.prep_more", word=escape(tag), account=escape(account))
    # Without a tag the command is `/loop quotes` alone, not with a trailing space.
    lines.append(more.replace("/loop quotes `", "/loop quotes`"))
    return "\n".join(lines)


# --- the tag in the win log -----------------------------------------------------------------


def tag_blocks(t: Texts, *, tags: Sequence[str], initial: str = "") -> list[Block]:
    """A select of the tags the team already uses (when there are any) and a field for
    a new one; both optional."""
    blocks: list[Block] = []
    current = initial if any(tag == initial for tag in tags) else ""
    if tags:
        options = [option(tag, tag[:TAG_MAX]) for tag in tags[:100]]
        select: Block = {
            "type": "static_select",
            "action_id": ids.FIELD_VALUE,
            "placeholder": plain(t("quotes.placeholder_tag"), 150),
            "options": options,
        }
        if current:
            select["initial_option"] = next(o for o in options if o["value"] == current[:TAG_MAX])
        blocks.append(
            input_block(
                ids.QUOTE_TAG_FIELD,
                t("quotes.label_tag"),
                select,
                optional=True,
                hint=t("quotes.hint_tag"),
            )
        )
    blocks.append(
        text_field(
            ids.QUOTE_TAG_NEW_FIELD,
            t("quotes.label_tag_new") if tags else t("quotes.label_tag"),
            action_id=ids.FIELD_VALUE,
            max_length=TAG_MAX,
            initial=initial if initial and not current else None,
            optional=True,
            hint=t("quotes.hint_tag_new") if tags else t("quotes.hint_tag"),
        )
    )
    return blocks


def read_tag(values: Mapping[str, Any]) -> str:
    """The tag chosen: a new one typed wins over the select."""
    typed = ((values.get(ids.QUOTE_TAG_NEW_FIELD) or {}).get(ids.FIELD_VALUE) or {}).get("value")
    if str(typed or "").replace("`", "").strip():
        return " ".join(str(typed).replace("`", "").split())[:TAG_MAX]
    chosen = ((values.get(ids.QUOTE_TAG_FIELD) or {}).get(ids.FIELD_VALUE) or {}).get(
        "selected_option"
    )
    value = chosen.get("value") if isinstance(chosen, dict) else ""
    return " ".join(str(value or "").split())[:TAG_MAX]
