"""Reason categories: the rep's guess and the client's reason (the rep's log and the
caller's) each get an optional kind of reason — price, product fit, timing, relationship,
competitor (which one), status quo, other. Stored as slugs where the report counts them;
a value no form offered is refused and never stored; shown in the saved debrief, the
report per role, the CSV, `/loop prep` and the rep's own App Home (never anyone else's);
in en, es and fr."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from bot.devkit.standin import SlackStandIn
from storage import debriefs, reports
from storage.db import create_db_and_tables, make_engine, unit_of_work
from storage.export import Scope
from storage.home import guess_vs_reason
from storage.models import Deal, RitualRun
from tests.conftest import ADMIN, MANAGER, REP, REP2, RunningBot
from tests.scenarios.test_export import export
from tests.scenarios.test_report import report, table_row
from tests.support.debrief_steps import (
    CALL_ANSWERS,
    LOSS_ANSWERS,
    Pick,
    assert_all_block_kit_valid,
    click,
    close_deal,
    dm_messages,
    find_message,
    last_modal,
    log_the_call,
    pick_caller,
    runs,
    set_manager,
    submit,
    submit_call,
    texts,
)

REP_FR = "U0REP3"
REP_LA = "U0REP4"
NOW = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)
SLUGS = ["price", "product_fit", "timing", "relationship", "competitor", "status_quo", "other"]


def add_reps(standin: SlackStandIn) -> None:
    standin.add_user(
        REP_FR, name="fanny", real_name="Fanny Vendeuse", tz="Europe/Paris", locale="fr-FR"
    )
    standin.add_user(
        REP_LA, name="lucia", real_name="Lucía Vendedora", tz="America/Bogota", locale="es-LA"
    )


def label(bot: RunningBot, lang: str, slug: str) -> str:
    return bot.rt.catalog.text(lang, f"reasons.option_{slug}")


def block(view: dict[str, Any], block_id: str) -> dict[str, Any]:
    return next(b for b in view["blocks"] if b.get("block_id") == block_id)


def debrief_data(bot: RunningBot, rep: str) -> dict[str, Any]:
    [run] = [r for r in runs(bot, "loss_debrief") if r.user_slack_id == rep]
    return dict(run.data)


def guess(bot: RunningBot, rep: str, category: str | None, text: str = "Price, I think") -> Any:
    click(bot, rep, "guess_open")
    view = last_modal(bot)
    answers: dict[str, Any] = {"guess": text}
    if category is not None:
        answers["guess_category"] = Pick(category)
    return submit(bot, rep, view, answers).json()


def log(bot: RunningBot, rep: str, **extra: Any) -> Any:
    click(bot, rep, "loss_log_open")
    return submit(bot, rep, last_modal(bot), {**LOSS_ANSWERS, **extra}).json()


def logged_debrief(
    bot: RunningBot,
    rep: str,
    account: str,
    guessed: str | None,
    said: str | None,
    competitor: str | None = None,
) -> None:
    """A lost deal, the rep's guess with its kind, the client's answer with its kind."""
    close_deal(bot, "lost", account, rep)
    click(bot, rep, "loss_mode_helped")
    guess(bot, rep, guessed)
    extra: dict[str, Any] = {"reason_category": Pick(said)} if said else {}
    if competitor:
        extra["competitor"] = competitor
    assert not (log(bot, rep, **extra) or {}).get("response_action")
    click(bot, rep, "log_confirm")


# --- the forms, in each language -------------------------------------------------------------


@pytest.mark.parametrize(("lang", "rep"), [("en", REP), ("es", REP2), ("fr", REP_FR)])
def test_the_rep_picks_a_kind_for_the_guess_and_for_the_clients_reason(
    bot: RunningBot, standin: SlackStandIn, lang: str, rep: str
) -> None:
    add_reps(standin)
    close_deal(bot, "lost", "Globex", rep)
    click(bot, rep, "loss_mode_helped")

    # The guess: the sentence, then an optional kind, in the rep's language.
    click(bot, rep, "guess_open")
    view = last_modal(bot)
    kind = block(view, "guess_category")
    assert kind["optional"] is True and kind["element"]["type"] == "static_select"
    assert [o["value"] for o in kind["element"]["options"]] == SLUGS
    assert [o["text"]["text"] for o in kind["element"]["options"]] == [
        label(bot, lang, s) for s in SLUGS
    ]
    assert kind["label"]["text"] == bot.rt.catalog.text(lang, "reasons.label_guess_category")
    submit(bot, rep, view, {"guess": "Too expensive", "guess_category": Pick("price")})
    assert debrief_data(bot, rep)["guess_category"] == "price"
    script = find_message(bot, rep, "loss_log_open")
    assert label(bot, lang, "price") in texts(script)

    # The client's answer: the kind right after the reason, and which competitor.
    click(bot, rep, "loss_log_open")
    view = last_modal(bot)
    fields = [b["block_id"] for b in view["blocks"] if b["type"] == "input"]
    assert fields[:4] == ["reason", "reason_category", "competitor", "missed"]
    assert block(view, "reason_category")["optional"] is True
    assert block(view, "competitor")["optional"] is True
    resp = submit(
        bot,
        rep,
        view,
        {**LOSS_ANSWERS, "reason_category": Pick("competitor"), "competitor": "Initrode"},
    )
    assert not (resp.json() or {}).get("response_action")
    summary = find_message(bot, rep, "log_confirm")
    assert label(bot, lang, "competitor") in texts(summary) and "Initrode" in texts(summary)
    click(bot, rep, "log_confirm")

    data = debrief_data(bot, rep)
    assert data["client"] == {
        **LOSS_ANSWERS,
        "reason_category": "competitor",
        "competitor": "Initrode",
    }
    saved = find_message(bot, rep, "concern_open")
    different = bot.rt.catalog.text(
        lang,
        "reasons.compare_different",
        guess=label(bot, lang, "price"),
        reason=label(bot, lang, "competitor"),
    )
    assert json.dumps(different, ensure_ascii=False)[1:-1] in texts(saved)

    # Edit: the form opens with both as they were saved.
    click(bot, rep, "log_edit")
    view = last_modal(bot)
    assert block(view, "reason_category")["element"]["initial_option"]["value"] == "competitor"
    assert block(view, "competitor")["element"]["initial_value"] == "Initrode"
    assert_all_block_kit_valid(bot)


def test_latin_american_spanish_reads_the_same_categories(
    bot: RunningBot, standin: SlackStandIn
) -> None:
    add_reps(standin)
    logged_debrief(bot, REP_LA, "Globex", "timing", "timing")
    saved = find_message(bot, REP_LA, "concern_open")
    same = bot.rt.catalog.text("es-LA", "reasons.compare_same", guess=label(bot, "es", "timing"))
    assert json.dumps(same, ensure_ascii=False)[1:-1] in texts(saved)


def test_picking_nothing_keeps_the_answers_as_they_were(bot: RunningBot) -> None:
    logged_debrief(bot, REP, "Globex", None, None)
    data = debrief_data(bot, REP)
    assert data["client"] == LOSS_ANSWERS and "guess_category" not in data
    saved = find_message(bot, REP, "concern_open")
    assert ":white_check_mark:" not in texts(saved) and ":twisted" not in texts(saved)


def test_a_no_decision_debrief_takes_the_status_quo(bot: RunningBot) -> None:
    close_deal(bot, "no_decision", "Hooli", REP)
    click(bot, REP, "loss_mode_helped")
    guess(bot, REP, "status_quo", "They never had budget")
    log(bot, REP, reason_category=Pick("status_quo"))
    click(bot, REP, "log_confirm")
    data = debrief_data(bot, REP)
    assert data["guess_category"] == "status_quo"
    assert data["client"]["reason_category"] == "status_quo"
    assert "competitor" not in data["client"]


# --- what no form offers --------------------------------------------------------------------


@pytest.mark.parametrize("forged", ["bribery", "PRICE", "price ", ""])
def test_a_forged_kind_is_refused_and_never_stored(bot: RunningBot, forged: str) -> None:
    close_deal(bot, "lost", "Globex", REP)
    click(bot, REP, "loss_mode_helped")
    answer = guess(bot, REP, forged)
    assert answer["response_action"] == "errors" and "guess_category" in answer["errors"]
    assert "guess" not in debrief_data(bot, REP)  # nothing saved, not even the sentence

    answer = log(bot, REP, reason_category=Pick(forged))
    assert answer["response_action"] == "errors" and "reason_category" in answer["errors"]
    data = debrief_data(bot, REP)
    assert "draft" not in data and "client" not in data


def test_a_competitor_name_goes_with_the_competitor_kind(bot: RunningBot) -> None:
    close_deal(bot, "lost", "Globex", REP)
    click(bot, REP, "loss_mode_helped")
    # Beside another kind: said so, in the field.
    answer = log(bot, REP, reason_category=Pick("price"), competitor="Initrode")
    assert answer["response_action"] == "errors" and "competitor" in answer["errors"]
    assert "draft" not in debrief_data(bot, REP)
    # Typed alone, it is a loss to that competitor.
    assert not (log(bot, REP, competitor="Initrode") or {}).get("response_action")
    assert debrief_data(bot, REP)["draft"]["reason_category"] == "competitor"
    assert debrief_data(bot, REP)["draft"]["competitor"] == "Initrode"


def test_a_forged_kind_in_the_callers_form_is_refused(bot: RunningBot) -> None:
    set_manager(bot, REP, MANAGER)
    close_deal(bot, "lost", "Globex", REP)
    click(bot, REP, "manager_call_request")
    click(bot, MANAGER, "manager_log_open")
    answer = submit_call(
        bot, MANAGER, last_modal(bot), {**CALL_ANSWERS, "reason_category": "kickback"}
    ).json()
    assert answer["response_action"] == "errors" and "reason_category" in answer["errors"]
    [call] = runs(bot, "manager_call")
    assert "draft" not in call.data


# --- the caller's form ---------------------------------------------------------------------


@pytest.mark.parametrize(("lang", "rep"), [("en", REP), ("es", REP2), ("fr", REP_FR)])
def test_the_callers_kind_of_reason_reaches_the_rep_beside_their_guess(
    bot: RunningBot, standin: SlackStandIn, lang: str, rep: str
) -> None:
    add_reps(standin)
    set_manager(bot, rep, MANAGER)
    close_deal(bot, "lost", "Globex", rep)
    click(bot, rep, "loss_mode_helped")
    guess(bot, rep, "price")
    click(bot, rep, "manager_call_request")

    # The manager (English) sees the rep's guess and its kind, then logs their own.
    manager_dm = find_message(bot, MANAGER, "manager_log_open")
    assert label(bot, "en", "price") in texts(manager_dm)
    click(bot, MANAGER, "manager_log_open")
    view = last_modal(bot)
    assert [o["value"] for o in block(view, "reason_category")["element"]["options"]] == SLUGS
    log_the_call(bot, MANAGER, {**CALL_ANSWERS, "reason_category": "timing"})

    data = debrief_data(bot, rep)
    assert data["logged_by"] == "manager"
    assert data["client"]["reason_category"] == "timing" and data["guess_category"] == "price"
    result = dm_messages(bot, rep)[-1]
    different = bot.rt.catalog.text(
        lang,
        "reasons.compare_different",
        guess=label(bot, lang, "price"),
        reason=label(bot, lang, "timing"),
    )
    assert json.dumps(different, ensure_ascii=False)[1:-1] in texts(result)
    assert_all_block_kit_valid(bot)


# --- the report, the CSV, prep, App Home ----------------------------------------------------


def seed(bot: RunningBot) -> None:
    """REP (MANAGER's report): guessed price, the client said price (agree). REP2 (nobody's
    report): guessed timing, the client said competitor Initrode (disagree)."""
    set_manager(bot, REP, MANAGER)
    logged_debrief(bot, REP, "Globex", "price", "price")
    logged_debrief(bot, REP2, "Hooli", "timing", "competitor", competitor="Initrode")


def test_the_report_shows_agreement_per_role(bot: RunningBot) -> None:
    seed(bot)
    mine = report(bot, REP)
    assert table_row(mine, REP)[-1] == "1/1"
    assert "Initrode" not in json.dumps(mine)
    reasons = bot.rt.catalog.text(
        "en", "reasons.report_reasons", reasons=f"{label(bot, 'en', 'price')} 1"
    )
    assert reasons in json.dumps(mine, ensure_ascii=False)

    team = report(bot, MANAGER)
    assert table_row(team, REP)[-1] == "1/1"
    with pytest.raises(AssertionError):
        table_row(team, REP2)

    everyone = report(bot, ADMIN)
    assert table_row(everyone, REP)[-1] == "1/1" and table_row(everyone, REP2)[-1] == "0/1"
    shown = json.dumps(everyone, ensure_ascii=False)
    assert "1/2" in shown  # the totals line
    assert "Initrode" not in shown  # counts only, never the words

    # The Spanish rep reads theirs in Spanish.
    spanish = json.dumps(report(bot, REP2), ensure_ascii=False)
    assert f"{label(bot, 'es', 'competitor')} 1" in spanish


def test_the_csv_has_the_kinds_only_where_the_reader_may_read_the_debrief(
    bot: RunningBot,
) -> None:
    seed(bot)
    [own] = export(bot, REP, "debriefs")["debriefs"]
    assert list(own)[-3:] == ["reason_category", "competitor", "guess_category"]
    assert (own["reason_category"], own["competitor"], own["guess_category"]) == (
        "price",
        "",
        "price",
    )
    [other] = export(bot, REP2, "debriefs")["debriefs"]
    assert (other["reason_category"], other["competitor"], other["guess_category"]) == (
        "competitor",
        "Initrode",
        "timing",
    )
    # The manager and the admin see the rows, not what the reps kept to themselves.
    for reader in (MANAGER, ADMIN):
        for row in export(bot, reader, "debriefs")["debriefs"]:
            assert row["reason_category"] == row["competitor"] == row["guess_category"] == ""


def test_prep_shows_the_clients_reason_to_who_may_read_it(bot: RunningBot) -> None:
    seed(bot)
    line = bot.rt.catalog.text(
        "es",
        "reasons.prep_reason_competitor",
        category=label(bot, "es", "competitor"),
        competitor="Initrode",
    )
    own = bot.send(bot.slack.slash_command("prep Hooli", user=REP2)).json()
    assert json.dumps(line, ensure_ascii=False)[1:-1] in json.dumps(own, ensure_ascii=False)
    # Another rep: not until the lesson is shared with the team.
    other = bot.send(bot.slack.slash_command("prep Hooli", user=REP)).json()
    assert "Initrode" not in json.dumps(other)
    click(bot, REP2, "privacy_share")
    other = bot.send(bot.slack.slash_command("prep Hooli", user=REP)).json()
    english = bot.rt.catalog.text(
        "en",
        "reasons.prep_reason_competitor",
        category=label(bot, "en", "competitor"),
        competitor="Initrode",
    )
    assert english in json.dumps(other, ensure_ascii=False)


def home_opened(bot: RunningBot, user: str) -> dict[str, Any]:
    event = {"type": "app_home_opened", "user": user, "channel": "D" + user[1:], "tab": "home"}
    assert bot.send(bot.slack.event_request(event)).status == 200
    [*_, call] = [c for c in bot.standin.calls_to("views.publish") if c.body["user_id"] == user]
    return dict(call.body["view"])


def test_app_home_shows_the_reps_own_guesses_and_nobody_elses(bot: RunningBot) -> None:
    seed(bot)
    logged_debrief(bot, REP, "Initech", "relationship", "price")
    home = json.dumps(home_opened(bot, REP), ensure_ascii=False)
    assert bot.rt.catalog.text("en", "reasons.home_header") in home
    assert bot.rt.catalog.text("en", "reasons.home_rate", agreed=1, compared=2) in home
    assert "Globex" in home and "Initech" in home
    assert label(bot, "en", "relationship") in home
    assert "Hooli" not in home  # REP2's

    # The manager's Home has REP's deals (counts) but no guess of theirs.
    managers = json.dumps(home_opened(bot, MANAGER), ensure_ascii=False)
    assert bot.rt.catalog.text("en", "reasons.home_header") not in managers
    assert label(bot, "en", "relationship") not in managers
    assert "Price, I think" not in managers

    # The second rep sees their own, in Spanish, and none of REP's.
    second = json.dumps(home_opened(bot, REP2), ensure_ascii=False)
    assert bot.rt.catalog.text("es", "reasons.home_header") in second
    assert "Hooli" in second and "Globex" not in second and "Initech" not in second
    assert bot.rt.catalog.text("es", "reasons.home_rate", agreed=0, compared=1) in second


def test_app_home_says_how_to_start_before_any_comparison(bot: RunningBot) -> None:
    logged_debrief(bot, REP, "Globex", None, "price")
    home = json.dumps(home_opened(bot, REP), ensure_ascii=False)
    assert bot.rt.catalog.text("en", "reasons.home_empty") in home


# --- the storage underneath, on SQLite and PostgreSQL --------------------------------------


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    eng = make_engine(db_url)
    create_db_and_tables(eng)
    yield eng
    eng.dispose()


def _debrief(engine: Engine, rep: str, account: str, data: dict[str, Any], state: str) -> int:
    with unit_of_work(engine) as s:
        deal = Deal(team_id="T1", account=account, outcome="lost", rep_slack_id=rep, created_at=NOW)
        s.add(deal)
        s.flush()
        assert deal.id is not None
        s.add(
            RitualRun(
                team_id="T1",
                ritual="loss_debrief",
                user_slack_id=rep,
                deal_id=deal.id,
                state=state,
                data=data,
                created_at=NOW,
                updated_at=NOW,
            )
        )
        return deal.id


def test_a_forged_kind_never_reaches_the_stored_answer(engine: Engine) -> None:
    deal_id = _debrief(engine, "U0REP", "Acme", {"guess": "Price"}, "dm_sent")
    forged = {**LOSS_ANSWERS, "reason_category": "bribery", "competitor": "X"}
    with unit_of_work(engine) as s:
        debriefs.store_draft(session=s, deal_id=deal_id, role="rep", answers=forged, now=NOW)
    with unit_of_work(engine) as s:
        done = debriefs.confirm_rep_log(session=s, deal_id=deal_id, rev=None, now=NOW)
        assert done is not None and done != debriefs.STALE
    with unit_of_work(engine) as s:
        run = debriefs.debrief_run(session=s, deal_id=deal_id)
        assert run is not None
        assert run.data["client"] == LOSS_ANSWERS
        debriefs.save_guess(session=s, run_id=run.id, guess="Price", category="bogus", now=NOW)
    with unit_of_work(engine) as s:
        run = debriefs.debrief_run(session=s, deal_id=deal_id)
        assert run is not None and "guess_category" not in run.data


def test_home_and_report_read_the_kinds_from_the_stored_rows(engine: Engine) -> None:
    def logged(guess: str | None, reason: str | None) -> dict[str, Any]:
        client = {**LOSS_ANSWERS, **({"reason_category": reason} if reason else {})}
        data: dict[str, Any] = {"client": client, "logged_at": NOW.isoformat()}
        return {**data, "guess_category": guess} if guess else data

    _debrief(engine, "U0REP", "Acme", logged("price", "price"), "logged")
    _debrief(engine, "U0REP", "Globex", logged("timing", "competitor"), "logged")
    _debrief(engine, "U0REP", "Hooli", logged(None, "price"), "logged")
    _debrief(engine, "U0REP", "Initech", logged("made_up", "price"), "logged")
    _debrief(engine, "U0REP", "Umbrella", logged("price", "price"), "dm_sent")
    _debrief(engine, "U0OTHER", "Soylent", logged("price", "price"), "logged")
    with unit_of_work(engine, immediate=False) as s:
        mine = guess_vs_reason(session=s, team_id="T1", user_id="U0REP")
        scope = Scope("T1", "U0REP", frozenset({"U0REP"}))
        [row] = reports.rep_reports(
            session=s, scope=scope, since=NOW - timedelta(days=1), until=NOW + timedelta(days=1)
        )
    assert (mine.compared, mine.agreed, mine.losses) == (2, 1, True)
    assert sorted(mine.rows) == [("Acme", "price", "price"), ("Globex", "timing", "competitor")]
    assert (row.compared, row.agreed) == (2, 1)
    assert row.reasons == {"price": 3, "competitor": 1}


@pytest.mark.parametrize(("lang", "caller"), [("es", REP2), ("fr", REP_FR)])
def test_a_colleague_calling_picks_the_kind_in_their_own_language(
    bot: RunningBot, standin: SlackStandIn, lang: str, caller: str
) -> None:
    add_reps(standin)
    close_deal(bot, "lost", "Globex", REP)
    click(bot, REP, "loss_mode_helped")
    guess(bot, REP, "relationship")
    pick_caller(bot, REP, caller)
    click(bot, caller, "manager_log_open")
    view = last_modal(bot)
    kind = block(view, "reason_category")
    assert kind["label"]["text"] == bot.rt.catalog.text(lang, "reasons.label_category")
    assert [o["text"]["text"] for o in kind["element"]["options"]] == [
        label(bot, lang, s) for s in SLUGS
    ]
    log_the_call(
        bot, caller, {**CALL_ANSWERS, "reason_category": "competitor", "competitor": "Initrode"}
    )
    # The caller's loop-back said it back in their language before it was saved.
    posted = [
        c.body
        for c in bot.standin.calls_to("chat.postMessage", ok=True)
        if c.body.get("channel") == bot.standin.dm_channel(caller)
    ]
    said = bot.rt.catalog.text(
        lang,
        "reasons.loop_category_competitor",
        category=label(bot, lang, "competitor"),
        competitor="Initrode",
    )
    assert json.dumps(said, ensure_ascii=False)[1:-1] in json.dumps(posted, ensure_ascii=False)
    data = debrief_data(bot, REP)
    assert data["client"]["reason_category"] == "competitor"
    assert data["client"]["competitor"] == "Initrode"
    # The rep (English) reads both kinds side by side.
    result = dm_messages(bot, REP)[-1]
    assert label(bot, "en", "relationship") in texts(result)
    assert label(bot, "en", "competitor") in texts(result) and "Initrode" in texts(result)
    assert_all_block_kit_valid(bot)
