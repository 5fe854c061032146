"""Reason categories (issue #10 point 5): why a deal was lost, as one of a few countable
kinds, picked beside the free-text reason in the loss log forms (the rep's and the
caller's) and beside the rep's guess. Optional everywhere: the sentence stays the answer.

The slugs are stored as they are (storage/kinds.py ReasonCategory names the same ones);
the words are the scripts' `reasons.option_<slug>`, in the reader's language.

Pure builders and readers: catalog texts and plain values in, Block Kit dicts out."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot.messages import Texts
from bot.messages.blocks import (
    Block,
    context,
    header,
    input_block,
    option,
    plain,
    section,
    text_field,
)
from bot.slack import ids

CATEGORIES = (
    "price",
    "product_fit",
    "timing",
    "relationship",
    "competitor",
    "status_quo",
    "other",
)
COMPETITOR = "competitor"
COMPETITOR_MAX = 100
HOME_ROWS = 5  # the last logged debriefs with both categories, in the rep's App Home


def label(t: Texts, category: str | None) -> str:
    """The category's words in the reader's language; "" for none (or no category)."""
    return t(f"reasons.option_{category}") if category in CATEGORIES else ""


def category_block(
    t: Texts, *, block_id: str, label_key: str, hint_key: str, initial: str | None
) -> Block:
    """An optional single choice of the categories."""
    options = [option(label(t, c), c) for c in CATEGORIES]
    select: Block = {
        "type": "static_select",
        "action_id": ids.FIELD_VALUE,
        "placeholder": plain(t("reasons.placeholder_category"), 150),
        "options": options,
    }
    if initial in CATEGORIES:
        select["initial_option"] = options[CATEGORIES.index(initial)]
    return input_block(block_id, t(label_key), select, optional=True, hint=t(hint_key))


def reason_blocks(t: Texts, initial: Mapping[str, Any] | None) -> list[Block]:
    """The client's reason category and, for a loss to a competitor, which one."""
    initial = initial or {}
    return [
        category_block(
            t,
            block_id=ids.REASON_CATEGORY_FIELD,
            label_key="reasons.label_category",
            hint_key="reasons.hint_category",
            initial=str(initial.get("reason_category") or "") or None,
        ),
        text_field(
            ids.COMPETITOR_FIELD,
            t("reasons.label_competitor"),
            action_id=ids.FIELD_VALUE,
            max_length=COMPETITOR_MAX,
            initial=str(initial.get("competitor") or "") or None,
            placeholder=t("reasons.placeholder_competitor"),
            optional=True,
            hint=t("reasons.hint_competitor"),
        ),
    ]


def guess_block(t: Texts, initial: str | None) -> Block:
    return category_block(
        t,
        block_id=ids.GUESS_CATEGORY_FIELD,
        label_key="reasons.label_guess_category",
        hint_key="reasons.hint_guess_category",
        initial=initial,
    )


@dataclass(frozen=True)
class Picked:
    """What a form's category field held: a category, "" for none, and `forged` when the
    value was none of the options (no form of ours offers it)."""

    category: str = ""
    forged: bool = False


def read_category(state: Mapping[str, Any], block_id: str) -> Picked:
    element = (state.get(block_id) or {}).get(ids.FIELD_VALUE) or {}
    chosen = element.get("selected_option") if isinstance(element, dict) else None
    if not chosen:
        return Picked()
    value = chosen.get("value") if isinstance(chosen, dict) else None
    if isinstance(value, str) and value in CATEGORIES:
        return Picked(value)
    return Picked(forged=True)


def read_reason(t: Texts, state: Mapping[str, Any]) -> tuple[dict[str, str], dict[str, str]]:
    """The loss log's category and competitor as answers (only what was given), and the
    field errors: a category that is none of the options is refused, and a competitor's
    name needs the category Competitor (typed alone, it is that category)."""
    picked = read_category(state, ids.REASON_CATEGORY_FIELD)
    if picked.forged:
        return {}, {ids.REASON_CATEGORY_FIELD: t("reasons.error_category")}
    typed = ((state.get(ids.COMPETITOR_FIELD) or {}).get(ids.FIELD_VALUE) or {}).get("value")
    competitor = str(typed or "").strip()[:COMPETITOR_MAX]
    category = picked.category or (COMPETITOR if competitor else "")
    if competitor and category != COMPETITOR:
        return {}, {ids.COMPETITOR_FIELD: t("reasons.error_competitor")}
    out = {"reason_category": category} if category else {}
    if competitor:
        out["competitor"] = competitor
    return out, {}


# --- showing them ---------------------------------------------------------------------------


def reason_text(t: Texts, answers: Mapping[str, Any], key: str = "reasons.loop_category") -> str:
    """ "Kind of reason: Competitor (Globex)", or "" when no category was picked."""
    category = answers.get("reason_category")
    if category not in CATEGORIES:
        return ""
    competitor = str(answers.get("competitor") or "").strip()
    if competitor and category == COMPETITOR:
        return t(f"{key}_competitor", category=label(t, category), competitor=competitor)
    return t(key, category=label(t, category))


def compare_text(t: Texts, *, guess_category: str | None, reason_category: str | None) -> str:
    """The guess's category next to the client's, when both were picked."""
    if guess_category not in CATEGORIES or reason_category not in CATEGORIES:
        return ""
    if guess_category == reason_category:
        return t("reasons.compare_same", guess=label(t, guess_category))
    return t(
        "reasons.compare_different",
        guess=label(t, guess_category),
        reason=label(t, reason_category),
    )


def counts_text(t: Texts, counts: Mapping[str, int]) -> str:
    """ "Clients' reasons: Timing / priority 3 · Price 2", most frequent first; "" for none."""
    given = [(c, n) for c, n in counts.items() if c in CATEGORIES and n]
    if not given:
        return ""
    given.sort(key=lambda item: (-item[1], CATEGORIES.index(item[0])))
    listed = " · ".join(f"{label(t, c)} {n}" for c, n in given)
    return t("reasons.report_reasons", reasons=listed)


@dataclass(frozen=True)
class Compared:
    """One logged debrief of the rep's own with both categories (their App Home)."""

    account: str
    guess: str
    reason: str


def home_blocks(t: Texts, rows: Sequence[Compared], *, agreed: int, compared: int) -> list[Block]:
    """The rep's own guess vs the client's reason: categories only, never the words, and
    only ever on the rep's own Home."""
    blocks: list[Block] = [header(t("reasons.home_header"))]
    if not rows:
        return [*blocks, context(t("reasons.home_empty"))]
    lines = [
        t(
            "reasons.home_line_same" if r.guess == r.reason else "reasons.home_line_different",
            account=r.account,
            guess=label(t, r.guess),
            reason=label(t, r.reason),
        )
        for r in rows[:HOME_ROWS]
    ]
    blocks.append(section("\n".join(lines)))
    blocks.append(context(t("reasons.home_rate", agreed=agreed, compared=compared)))
    return blocks
