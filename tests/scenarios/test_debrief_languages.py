"""A Spanish-locale rep and a French-locale rep get every message of a loss debrief —
DMs, in-place updates, ephemeral replies and modals — in their own language."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from bot.devkit.standin import SlackStandIn
from tests.conftest import MANAGER, REP2, RunningBot
from tests.support.debrief_steps import (
    LOSS_ANSWERS,
    assert_all_block_kit_valid,
    click,
    close_deal,
    last_modal,
    set_manager,
    submit,
)

REP_FR = "U0REP3"
REP_LA = "U0REP4"
PLACEHOLDER = re.compile(r"\{[a-z_]+\}")


def english_leftovers(bot: RunningBot, lang: str, payloads: list[Any]) -> list[str]:
    """English catalog fragments (the literal text between placeholders) found in the
    payloads, unless the translation uses the very same words (names, commands)."""
    catalog = bot.rt.catalog
    seen = json.dumps(payloads, ensure_ascii=False)
    found = []
    for key in sorted(catalog.keys()):
        english = catalog.template("en", key)
        translated = catalog.template(lang, key)
        for fragment in PLACEHOLDER.split(english):
            fragment = fragment.strip()
            if len(fragment) < 12 or fragment in translated:
                continue
            if json.dumps(fragment, ensure_ascii=False)[1:-1] in seen:
                found.append(f"{key}: {fragment!r}")
    # Short labels ("Edit", "Next", "Confirm") are too short to search for as fragments,
    # but a button or header whose whole text is the English value is just as wrong.
    whole_texts = set(_text_values(payloads))
    for key in sorted(catalog.keys()):
        english = catalog.template("en", key).strip()
        if english in whole_texts and english != catalog.template(lang, key).strip():
            found.append(f"{key}: {english!r} (whole text)")
    return found


def _text_values(node: Any) -> list[str]:
    if isinstance(node, dict):
        out = [v.strip() for k, v in node.items() if k == "text" and isinstance(v, str)]
        for v in node.values():
            out += _text_values(v)
        return out
    if isinstance(node, list):
        return [t for item in node for t in _text_values(item)]
    return []


def everything_sent_to(bot: RunningBot, user: str) -> list[Any]:
    channel = bot.standin.dm_channel(user)
    out: list[Any] = []
    for method in ("chat.postMessage", "chat.update"):
        for call in bot.standin.calls_to(method, ok=True):
            if call.body.get("channel") in (channel, user):
                out.append({"text": call.body.get("text"), "blocks": call.body.get("blocks")})
    out += [c.body for c in bot.standin.calls_to("response_url")]
    out += [c.body["view"] for c in bot.standin.calls_to("views.open", ok=True)]
    return out


@pytest.mark.parametrize("lang", ["es", "fr", "es-419"])
def test_every_loss_debrief_message_is_in_the_reps_language(
    bot: RunningBot, standin: SlackStandIn, lang: str
) -> None:
    standin.add_user(
        REP_FR, name="fanny", real_name="Fanny Vendeuse", tz="Europe/Paris", locale="fr-FR"
    )
    standin.add_user(
        REP_LA, name="lucia", real_name="Lucía Vendedora", tz="America/Bogota", locale="es-LA"
    )
    rep = {"es": REP2, "fr": REP_FR, "es-419": REP_LA}[lang]
    close_deal(bot, "lost", "Globex", rep)
    click(bot, rep, "manager_call_request")  # no manager yet: the ephemeral says who to ask
    click(bot, rep, "loss_mode_hugged")
    click(bot, rep, "loss_mode_heard")
    click(bot, rep, "loss_mode_helped")
    click(bot, rep, "debrief_next")
    click(bot, rep, "debrief_next")
    click(bot, rep, "guess_open")
    submit(bot, rep, last_modal(bot), {"guess": "Precio"})
    click(bot, rep, "loss_log_open")
    errors = submit(bot, rep, last_modal(bot), {**LOSS_ANSWERS, "reason": ""}).json()
    submit(bot, rep, last_modal(bot), LOSS_ANSWERS)
    click(bot, rep, "log_confirm")
    set_manager(bot, rep, MANAGER)
    click(bot, rep, "loss_tell_manager")

    payloads = [*everything_sent_to(bot, rep), errors]
    assert len(payloads) >= 12
    assert english_leftovers(bot, lang, payloads) == []
    translated = bot.rt.catalog.text(lang, "log.loop_question")
    shown = json.dumps(payloads, ensure_ascii=False)
    # Madrid reads Spain's word for the manager, Latin America its own (es-419.toml).
    manager_word = {"es": "responsable", "es-419": "gerente", "fr": "manager"}[lang]
    assert f"Que llame mi {manager_word}" in shown or lang == "fr"
    assert manager_word in bot.rt.catalog.text(lang, "manager.none_set")
    assert bot.rt.catalog.text(lang, "manager.none_set") in shown
    assert translated in json.dumps(payloads, ensure_ascii=False)
    assert_all_block_kit_valid(bot)
