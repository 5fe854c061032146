"""Languages done properly, through signed requests and the stand-in: Spain's Spanish for
es-ES and Latin-American lines for es-LA, one word for a deal, dates and amounts the way each
locale writes them, command words in every language, and "Did you mean …?" for accounts.

Readers: rita (en-US, New York), sam (es-ES, Madrid) from the conftest; fanny (fr-FR,
Paris) and lucía (es-LA, Mexico City) added here. Slack sends "es-LA" for its Latin-American
Spanish and "es-ES" for Spain's (users.info with include_locale)."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import Session, select

from bot.clock import FakeClock
from bot.devkit.standin import SlackStandIn
from bot.slack.people import load_person
from storage.models import Deal, Person
from tests.conftest import ADMIN, DEALS, MANAGER, REP, REP2, RunningBot
from tests.support.debrief_steps import (
    assert_all_block_kit_valid,
    click,
    close_deal,
    dm_messages,
    set_manager,
    texts,
)

REP_FR = "U0REP3"
REP_LA = "U0REP4"
MGR_ES = "U0MGR2"
MGR_FR = "U0MGR3"
READERS = {"en": REP, "es": REP2, "fr": REP_FR, "es-419": REP_LA}
# Ten digits with dashes: what an ISO date looks like. Code spans (`/loop settings
# vacation 2026-12-20 …`) show what to type, so they may hold one.
ISO_DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")
CODE_SPAN = re.compile(r"`[^`]*`")


@pytest.fixture(autouse=True)
def more_readers(standin: SlackStandIn, bot: RunningBot) -> None:
    standin.add_user(
        REP_FR, name="fanny", real_name="Fanny Vendeuse", tz="Europe/Paris", locale="fr-FR"
    )
    standin.add_user(
        REP_LA, name="lucia", real_name="Lucía Vendedora", tz="America/Mexico_City", locale="es-LA"
    )
    standin.add_user(
        MGR_ES, name="marta", real_name="Marta Jefa", tz="Europe/Madrid", locale="es-ES"
    )
    standin.add_user(MGR_FR, name="marc", real_name="Marc Chef", tz="Europe/Paris", locale="fr-FR")
    for user in (REP_FR, REP_LA, MGR_ES, MGR_FR):
        standin.set_dnd(user, dnd_enabled=False)
    # Known already, as after their first click: a first-time user's users.info has a 1 s
    # budget before the ack (English past it), which a loaded test machine can exceed.
    for user in (*READERS.values(), MGR_ES, MGR_FR):
        bot.run(load_person(bot.rt, team_id=bot.slack.team_id, user_id=user))


def loop(bot: RunningBot, text: str, *, user: str) -> list[str]:
    """Every answer `/loop <text>` gives: the ack's text and what went to the response_url."""
    before = len(bot.standin.calls_to("response_url"))
    resp = bot.send(bot.slack.slash_command(text, user=user, channel="D" + user[1:]))
    assert resp.status == 200
    answers = [str(resp.json()["text"])] if resp.body else []
    bot.idle()
    answers += [str(c.body["text"]) for c in bot.standin.calls_to("response_url")[before:]]
    return answers


def say(bot: RunningBot, lang: str, key: str, **values: Any) -> str:
    locale = {"en": "en-US", "es": "es-ES", "fr": "fr-FR", "es-419": "es-LA"}[lang]
    return bot.rt.catalog.text(locale, key, **values)


def deals(bot: RunningBot) -> list[Deal]:
    with Session(bot.rt.engine) as s:
        return list(s.exec(select(Deal).order_by(Deal.id)).all())  # type: ignore[arg-type]


def everything_sent(bot: RunningBot) -> list[str]:
    """Every text the bot showed anyone: messages, updates, modals, App Home, replies."""
    shown: list[Any] = []
    for method in ("chat.postMessage", "chat.update", "chat.postEphemeral"):
        shown += [{"text": c.body.get("text"), "blocks": c.body.get("blocks")}
                  for c in bot.standin.calls_to(method)]  # fmt: skip
    shown += [c.body.get("view") for c in bot.standin.calls_to("views.open")]
    shown += [c.body.get("view") for c in bot.standin.calls_to("views.publish")]
    shown += [c.body for c in bot.standin.calls_to("response_url")]
    return [s for s in _strings(shown) if s]


def _strings(node: Any) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for k, v in node.items() if k != "value" for s in _strings(v)]
    if isinstance(node, list):
        return [s for item in node for s in _strings(item)]
    return []


def iso_dates_outside_code(strings: list[str]) -> list[str]:
    return [s for s in strings if ISO_DATE.search(CODE_SPAN.sub("", s))]


# --- /loop deal: outcome words in every language, one answer for a bad one -----------------


@pytest.mark.parametrize(
    ("lang", "words", "outcome"),
    [
        ("en", "no decision", "no_decision"),
        ("en", "lost", "lost"),
        ("es", "perdido", "lost"),
        ("es", "ganado", "won"),
        ("es", "sin decisión", "no_decision"),
        ("fr", "perdu", "lost"),
        ("fr", "gagné", "won"),
        ("fr", "sans décision", "no_decision"),
        ("es-419", "perdida", "lost"),
    ],
)
def test_deal_command_takes_the_outcome_in_the_readers_words(
    bot: RunningBot, lang: str, words: str, outcome: str
) -> None:
    rep = READERS[lang]
    answers = loop(bot, f"deal {words} Acme Widgets", user=rep)
    [deal] = deals(bot)
    assert (deal.account, deal.outcome, deal.rep_slack_id) == ("Acme Widgets", outcome, rep)
    word = say(bot, lang, f"deal.outcome_{outcome}")
    assert answers == [say(bot, lang, "deal.logged_self", account="Acme Widgets", outcome=word)]
    # The debrief DM is in the rep's language too.
    [dm] = dm_messages(bot, rep)
    header = (
        "win.header" if outcome == "won" else f"{'loss' if outcome == 'lost' else outcome}.header"
    )
    assert say(bot, lang, header, account="Acme Widgets") in texts(dm)
    assert_all_block_kit_valid(bot)


@pytest.mark.parametrize("lang", ["en", "es", "fr"])
def test_an_unknown_outcome_gets_one_answer_naming_the_words_to_use(
    bot: RunningBot, lang: str
) -> None:
    answers = loop(bot, "deal maybe Acme", user=READERS[lang])
    assert answers == [say(bot, lang, "errors.deal_bad_outcome", word="maybe")]
    assert deals(bot) == []
    local_lost = say(bot, lang, "deal.outcome_lost")
    assert f"`{local_lost}`" in answers[0] or lang == "en"


def test_no_decision_in_two_words_is_one_outcome_not_two_errors(bot: RunningBot) -> None:
    answers = loop(bot, f"deal no decision Initech <@{REP2}>", user=REP)
    assert len(answers) == 1
    [deal] = deals(bot)
    assert (deal.account, deal.outcome, deal.rep_slack_id) == ("Initech", "no_decision", REP2)
    # "No Decision Corp" is still an account after an outcome.
    answers = loop(bot, "deal lost No Decision Corp", user=REP)
    assert [d.account for d in deals(bot)] == ["Initech", "No Decision Corp"]


# --- /loop snooze: units and "tomorrow" in every language -----------------------------------


@pytest.mark.parametrize(
    ("lang", "words", "shown"),
    [
        # 14:00 UTC on Monday 23 November 2026 (the FakeClock's start).
        ("en", "2d", "November 25, 2026, 9:00\u202fAM"),  # New York
        ("en", "tomorrow", "November 24, 2026, 9:00\u202fAM"),
        ("es", "3 días", "26 de noviembre de 2026, 15:00"),  # Madrid
        ("es", "mañana", "24 de noviembre de 2026, 9:00"),
        ("fr", "3j", "26 novembre 2026, 15:00"),  # Paris
        ("fr", "3 jours", "26 novembre 2026, 15:00"),
        ("fr", "demain", "24 novembre 2026, 09:00"),
        ("es-419", "1 semana", "30 de noviembre de 2026, 8:00\u202fa.m."),  # Mexico City
    ],
)
def test_snooze_takes_units_in_the_readers_words_and_answers_with_a_local_date(
    bot: RunningBot, lang: str, words: str, shown: str
) -> None:
    rep = READERS[lang]
    [answer] = loop(bot, f"snooze {words}", user=rep)
    assert answer == say(bot, lang, "quiet.snoozed", date=shown)
    with Session(bot.rt.engine) as s:
        person = s.exec(select(Person).where(Person.slack_id == rep)).one()
    assert person.snoozed_until is not None


@pytest.mark.parametrize("lang", ["en", "es", "fr"])
def test_a_snooze_word_it_cannot_read_says_what_to_type(bot: RunningBot, lang: str) -> None:
    [answer] = loop(bot, "snooze 3 lunes", user=READERS[lang])
    assert answer == say(bot, lang, "quiet.snooze_bad", word="3 lunes")


# --- dates and amounts the way each locale writes them --------------------------------------


@pytest.mark.parametrize(
    ("manager", "lang", "amount_shown", "date_shown"),
    [
        (MANAGER, "en", "€50,000", "November 23, 2026"),
        (MGR_ES, "es", "50.000\u00a0€", "23 de noviembre de 2026"),
        (MGR_FR, "fr", "50\u202f000\u00a0€", "23 novembre 2026"),
    ],
)
def test_the_manager_sees_the_amount_and_date_in_his_own_locale(
    bot: RunningBot, manager: str, lang: str, amount_shown: str, date_shown: str
) -> None:
    set_manager(bot, REP, manager)
    event = bot.slack.message_event(
        f"Closed Lost: Globex <@{REP}> — Amount: €50,000", channel=DEALS, user=MANAGER
    )
    assert bot.send(bot.slack.event_request(event)).status == 200
    click(bot, REP, "manager_call_request")
    bot.tick()
    body = "\n".join(texts(m) for m in dm_messages(bot, manager))
    line = say(bot, lang, "manager.dm_deal", account="Globex", amount=amount_shown, date=date_shown)
    assert json.dumps(line, ensure_ascii=False)[1:-1] in body
    assert iso_dates_outside_code(everything_sent(bot)) == []


@pytest.mark.parametrize(
    ("lang", "date_shown"),
    [
        ("en", "November 23, 2026"),
        ("es", "23 de noviembre de 2026"),
        ("fr", "23 novembre 2026"),
        ("es-419", "23 de noviembre de 2026"),
    ],
)
def test_app_home_writes_dates_the_readers_way_and_says_direct_message(
    bot: RunningBot, lang: str, date_shown: str
) -> None:
    rep = READERS[lang]
    close_deal(bot, "lost", "Globex", rep)
    event = {
        "type": "app_home_opened",
        "user": rep,
        "channel": "D" + rep[1:],
        "tab": "home",
        "event_ts": "1700000000.000100",
    }
    assert bot.send(bot.slack.event_request(event)).status == 200
    [call] = [c for c in bot.standin.calls_to("views.publish") if c.body.get("user_id") == rep]
    shown = "\n".join(_strings(call.body["view"]["blocks"]))
    outcome = say(bot, lang, "deal.outcome_lost")
    assert (
        say(bot, lang, "home.deal_line", account="Globex", outcome=outcome, date=date_shown)
        in shown
    )
    assert not re.search(r"\bDM\b", shown) or lang == "en"
    assert iso_dates_outside_code(everything_sent(bot)) == []


def test_settings_vacation_and_holidays_are_written_the_readers_way(bot: RunningBot) -> None:
    [answer] = loop(bot, "settings vacation 2026-12-21 2027-01-06", user=REP2)
    assert "del 21 de diciembre de 2026 al 6 de enero de 2027" in answer.lower()
    [answer] = loop(bot, "settings vacation 2026-12-21 2027-01-06", user=REP_FR)
    assert "du 21 décembre 2026 au 6 janvier 2027" in answer.lower()
    [shown] = loop(bot, "settings", user=REP_FR)
    assert "21 décembre 2026" in shown
    assert iso_dates_outside_code(everything_sent(bot)) == []


# --- Spain's Spanish for es-ES, Latin-American lines for es-LA ----------------------------


def test_madrid_and_mexico_read_their_own_spanish(bot: RunningBot) -> None:
    close_deal(bot, "lost", "Globex", REP2)
    close_deal(bot, "lost", "Hooli", REP_LA)
    madrid = "\n".join(texts(m) for m in dm_messages(bot, REP2))
    mexico = "\n".join(texts(m) for m in dm_messages(bot, REP_LA))
    assert "Que llame mi responsable" in madrid and "gerente" not in madrid
    assert "Que llame mi gerente" in mexico
    for text in (madrid, mexico):
        assert "retroalimentación" not in text.lower()
    # Lines es-419.toml does not reword come from es.toml for both.
    shared = say(bot, "es", "loss.ask_mode")
    assert json.dumps(shared, ensure_ascii=False)[1:-1] in madrid
    assert json.dumps(shared, ensure_ascii=False)[1:-1] in mexico


# --- "Did you mean …?" for accounts ---------------------------------------------------------


@pytest.mark.parametrize("lang", ["en", "es", "fr", "es-419"])
def test_a_mistyped_account_gets_the_closest_of_the_reps_own(bot: RunningBot, lang: str) -> None:
    rep = READERS[lang]
    close_deal(bot, "lost", "Globex", rep)
    close_deal(bot, "won", "Initech", rep)
    close_deal(bot, "lost", "Globe Trotters", REP if rep != REP else REP2)  # someone else's
    [answer] = loop(bot, "debrief Globexx", user=rep)
    assert answer == say(bot, lang, "suggest.account", account="Globexx", guess="Globex")
    assert "`/loop debrief Globex`" in answer
    # The command it offers works.
    [opened] = loop(bot, "debrief Globex", user=rep) or [""]
    assert "Globexx" not in opened


def test_a_name_like_none_of_the_reps_accounts_is_not_guessed(bot: RunningBot) -> None:
    close_deal(bot, "lost", "Globex", REP)
    close_deal(bot, "lost", "Umbrella", REP2)  # close to nothing of rita's; sam's anyway
    [answer] = loop(bot, "debrief Umbrela", user=REP)
    assert answer == say(bot, "en", "debrief.not_found", account="Umbrela")
    [answer] = loop(bot, "debrief Hooli", user=REP)
    assert answer == say(bot, "en", "debrief.not_found", account="Hooli")


# --- no ISO date anywhere, over a working week in each language ----------------------------


@pytest.mark.parametrize("lang", ["en", "es", "fr", "es-419"])
def test_a_week_of_messages_shows_no_iso_date(bot: RunningBot, lang: str, clock: FakeClock) -> None:
    rep = READERS[lang]
    set_manager(bot, rep, MGR_FR if lang == "fr" else MGR_ES)
    event = bot.slack.message_event(
        f"Closed Lost: Globex <@{rep}> — Amount: 48.500 €", channel=DEALS, user=MANAGER
    )
    assert bot.send(bot.slack.event_request(event)).status == 200
    click(bot, rep, "manager_call_request")
    loop(bot, "concern Initech — worried about the rollout", user=rep)
    loop(bot, "settings vacation 2026-12-21 2026-12-31", user=rep)
    loop(bot, "snooze 2h", user=rep)
    loop(bot, "settings", user=rep)
    loop(bot, "resume", user=rep)
    for _ in range(7):  # check-ins, reminders and the manager's DM come due
        clock.advance(timedelta(days=1))
        bot.tick()
    loop(bot, "concern list", user=rep)
    loop(bot, "prep Globex", user=rep)
    loop(bot, "settings holidays add 2026-12-25", user=ADMIN)
    loop(bot, "settings holidays", user=rep)
    shown = everything_sent(bot)
    assert len(shown) > 20
    assert iso_dates_outside_code(shown) == []
    # The dates are there, written the reader's way.
    december = {"en": "December 21, 2026", "es": "21 de diciembre de 2026",
                "fr": "21 décembre 2026", "es-419": "21 de diciembre de 2026"}[lang]  # fmt: skip
    assert any(december in s for s in shown)
