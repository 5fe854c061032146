"""Reason categories: one list of slugs for what is stored and what the forms offer, what
a submitted form's category and competitor read as, and what storage keeps of them."""

from __future__ import annotations

from typing import Any

import pytest

from bot.devkit.requests import plain_text_value, static_select_value
from bot.messages import Texts, reasons
from bot.messages.catalog import ScriptCatalog
from storage.debriefs import clean_reason, reason_category
from storage.kinds import REASON_CATEGORIES

T = Texts(ScriptCatalog.load(), "en-US")


def state(category: str | None = None, competitor: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if category is not None:
        out["reason_category"] = {"v": static_select_value(category)}
    if competitor is not None:
        out["competitor"] = {"v": plain_text_value(competitor)}
    return out


def test_the_forms_offer_exactly_what_storage_keeps() -> None:
    assert reasons.CATEGORIES == REASON_CATEGORIES
    catalog = ScriptCatalog.load()
    for slug in REASON_CATEGORIES:
        assert f"reasons.option_{slug}" in catalog.keys()


@pytest.mark.parametrize(
    ("submitted", "answers", "errors"),
    [
        (state(), {}, {}),
        (state("timing"), {"reason_category": "timing"}, {}),
        (
            state("competitor", " Initrode "),
            {"reason_category": "competitor", "competitor": "Initrode"},
            {},
        ),
        (state(None, "Initrode"), {"reason_category": "competitor", "competitor": "Initrode"}, {}),
        (state("price", "Initrode"), {}, {"competitor"}),
        (state("competitor", "   "), {"reason_category": "competitor"}, {}),
        (state("bribery"), {}, {"reason_category"}),
        (state(""), {}, {"reason_category"}),
    ],
)
def test_what_a_submitted_form_reads_as(
    submitted: dict[str, Any], answers: dict[str, str], errors: Any
) -> None:
    got, problems = reasons.read_reason(T, submitted)
    assert got == answers and set(problems) == set(errors)


def test_a_value_in_the_wrong_shape_reads_as_forged() -> None:
    odd = {"reason_category": {"v": {"type": "static_select", "selected_option": "price"}}}
    assert reasons.read_category(odd, "reason_category").forged


def test_storage_keeps_only_a_category_and_a_competitor_beside_it() -> None:
    base = {"reason": "Too slow"}
    assert clean_reason({**base, "reason_category": "nope"}) == base
    assert clean_reason({**base, "reason_category": "price", "competitor": "X"}) == {
        **base,
        "reason_category": "price",
    }
    long = "A" * 500
    kept = clean_reason({**base, "reason_category": "competitor", "competitor": long})
    assert kept["competitor"] == "A" * 100
    assert reason_category("status_quo") == "status_quo"
    assert reason_category(["price"]) is None and reason_category(None) is None


def test_the_reports_line_lists_kinds_most_frequent_first() -> None:
    text = reasons.counts_text(T, {"price": 1, "timing": 3, "bogus": 9, "other": 0})
    assert text == "*Clients' reasons:* Timing / priority 3 · Price 1"
    assert reasons.counts_text(T, {}) == ""
