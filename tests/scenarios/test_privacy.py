"""Who sees what (README): a rep's notes are theirs; a forged click or submission with
another rep's id changes nothing; forms say who reads them; forget-me forgets.

Everything goes through signed requests to the running app and the Slack stand-in."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import JSON, String
from sqlmodel import Session, SQLModel, select
from sqlmodel.sql.sqltypes import AutoString

from bot import access
from bot.clock import FakeClock
from bot.devkit.standin import SlackStandIn
from storage.db import unit_of_work
from storage.forget import USER_COLUMNS
from storage.models import (
    Deal,
    DealAsk,
    Nudge,
    Person,
    Reflection,
    RitualRun,
    RoleGrant,
    Story,
    Workspace,
)
from tests.conftest import ADMIN, MANAGER, REP, REP2, RunningBot, start_bot
from tests.support.debrief_steps import (
    LOSS_ANSWERS,
    click,
    close_deal,
    deal_ids,
    last_modal,
    set_manager,
    submit,
)

TEAM = "T0001"
WHEN = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)


# --- helpers ------------------------------------------------------------------------------


def registered(bot: RunningBot) -> tuple[set[Any], set[Any]]:
    """The action ids and callback ids (strings or patterns) the running app listens to,
    read from Bolt's own listener list so a listener added later is seen here too."""
    app = bot.asgi.app
    acts: set[Any] = set()
    views: set[Any] = set()
    for listener in app._async_listeners:
        for matcher in listener.matchers:
            inner = _cell(matcher.func, "func")
            if inner is None:
                continue
            names = inner.__code__.co_names
            for name in ("constraints", "callback_id"):
                value = _cell(inner, name)
                if isinstance(value, (str, re.Pattern)):
                    if "_block_action" in names:
                        acts.add(value)
                    elif "is_view_submission" in names:
                        views.add(value)
    return acts, views


def _cell(func: Any, name: str) -> Any:
    code = getattr(func, "__code__", None)
    if code is None or not func.__closure__:
        return None
    cells = dict(zip(code.co_freevars, func.__closure__, strict=True))
    return cells[name].cell_contents if name in cells else None


def snapshot(bot: RunningBot) -> dict[str, list[str]]:
    """Every row of every table, as text: what "nothing changed" compares."""
    out: dict[str, list[str]] = {}
    with bot.rt.engine.connect() as conn:
        for table in SQLModel.metadata.sorted_tables:
            rows = conn.execute(table.select()).mappings().all()
            out[table.name] = sorted(json.dumps(dict(r), default=str, sort_keys=True) for r in rows)
    # Meeting REP2 or the manager for the first time caches their Slack profile; that is
    # not a change to rita's things, so only her own person row is compared.
    out["person"] = [p for p in out["person"] if f'"{REP}"' in p]
    return out


def add(bot: RunningBot, *rows: Any) -> list[Any]:
    with unit_of_work(bot.rt.engine) as session:
        for row in rows:
            session.add(row)
        session.flush()
        return list(rows)


def cat(bot: RunningBot, key: str, lang: str = "en", **values: Any) -> str:
    return bot.rt.catalog.text(lang, key, **values)


def prep(bot: RunningBot, account: str, user: str) -> str:
    body = bot.send(bot.slack.slash_command(f"prep {account}", user=user)).json()
    return json.dumps(body.get("blocks") or [], ensure_ascii=False)


def log_loss(bot: RunningBot, user: str = REP, account: str = "Globex") -> int:
    """rita closes a loss, writes her guess and logs the client's answer, confirmed."""
    close_deal(bot, "lost", account, user)
    click(bot, user, "loss_mode_helped")
    click(bot, user, "guess_open")
    submit(bot, user, last_modal(bot), {"guess": "Our price, I think"})
    click(bot, user, "loss_log_open")
    submit(bot, user, last_modal(bot), LOSS_ANSWERS)
    click(bot, user, "log_confirm")
    return max(deal_ids(bot))


# --- the policy ---------------------------------------------------------------------------


def test_every_registered_button_and_modal_has_an_owner_rule(bot: RunningBot) -> None:
    acts, views = registered(bot)
    assert acts and views
    for constraint in acts:
        if isinstance(constraint, str):
            assert constraint in access.ACTIONS, f"no owner rule for action {constraint!r}"
        elif constraint.pattern != ".*":  # the catch-all answers "no longer available"
            assert any(constraint.fullmatch(a) for a in access.ACTIONS), constraint.pattern
    for constraint in views:
        ids = [constraint] if isinstance(constraint, str) else []
        for callback in ids:
            assert callback in access.VIEWS, f"no owner rule for modal {callback!r}"


def test_ids_that_cannot_be_rows_are_refused_before_the_database() -> None:
    assert access.parse_id("12") == 12
    assert access.parse_id("12:manager:3") == 12
    assert access.parse_id("") is None
    assert access.parse_id("1" * 30) == "bad"
    assert access.parse_id("abc") == "bad"
    assert access.parse_id(str(2**31)) == "bad"


def test_decide_follows_the_who_sees_what_table() -> None:
    rep_rule, call_rule = access.ACTIONS["guess_open"], access.ACTIONS["manager_decline"]
    rows = access.Owners(REP, MANAGER)
    assert access.decide(rep_rule, REP, rows, role="rep", is_admin=False) == "ok"
    assert access.decide(rep_rule, REP2, rows, role="rep", is_admin=True) == "not_yours"
    assert access.decide(rep_rule, MANAGER, rows, role="rep", is_admin=False) == "not_yours"
    assert access.decide(call_rule, MANAGER, rows, role="rep", is_admin=False) == "ok"
    assert access.decide(call_rule, REP, rows, role="rep", is_admin=False) == "not_yours"
    step = access.ACTIONS["log_confirm"]
    assert access.decide(step, MANAGER, rows, role="manager", is_admin=False) == "ok"
    assert access.decide(step, MANAGER, rows, role="rep", is_admin=False) == "not_yours"
    assert access.may_read_debrief(REP2, owner=REP, shared=False, call_manager=None) is False
    assert access.may_read_debrief(REP2, owner=REP, shared=True, call_manager=None) is True
    assert access.may_read_debrief(MANAGER, owner=REP, shared=False, call_manager=MANAGER)
    assert access.gets_reflections(rep=False, opted_in=False, opted_out=False) is False
    assert access.gets_reflections(rep=False, opted_in=True, opted_out=False) is True


# --- forged clicks and submissions --------------------------------------------------------


@pytest.fixture
def ritas_things(bot: RunningBot) -> dict[str, int]:
    """rita's logged loss (guess, answers, manager set), a won deal, a concern, a
    screen-out and a tee-up ask: a row of hers for every kind of id a button carries."""
    set_manager(bot, REP, MANAGER)
    lost = log_loss(bot)
    close_deal(bot, "won", "Initech", REP)
    won = max(deal_ids(bot))
    concern, screen = add(
        bot,
        RitualRun(
            team_id=TEAM,
            ritual="concern",
            user_slack_id=REP,
            account="Globex",
            state="open",
            data={"concern": "rita's secret worry", "n": 1},
            created_at=WHEN,
        ),
        RitualRun(
            team_id=TEAM,
            ritual="screen_out",
            user_slack_id=REP,
            account="Globex",
            state="scheduled",
            data={},
            created_at=WHEN,
        ),
    )
    [nudge] = add(
        bot,
        Nudge(
            team_id=TEAM,
            user_slack_id=REP,
            kind="tee_up",
            payload={"account": "Globex"},
            due_at=WHEN,
            idempotency_key="tee_up:test:rita",
            state="sent",
            created_at=WHEN,
        ),
    )
    # rita's own post that the bot asked her about ("Did a deal close?").
    [ask] = add(
        bot,
        DealAsk(team_id=TEAM, channel="C0DEALS", ts="1.000100", user_slack_id=REP, created_at=WHEN),
    )
    # rita's story in the stories channel.
    [story] = add(
        bot,
        Story(
            team_id=TEAM,
            rep_slack_id=REP,
            week="2026-W45",
            channel="C0STORIES",
            thread_ts="1.000200",
            ts="1.000300",
            lesson="rita's lesson",
            state="posted",
            created_at=WHEN,
        ),
    )
    return {
        "deal": lost,
        "won": won,
        "story": int(story.id),
        "deal_ask": int(ask.id),
        "concern": int(concern.id),
        "screen_out": int(screen.id),
        "nudge": int(nudge.id),
    }


def _value(rule: access.Rule, ids: dict[str, int], action_id: str) -> str:
    if rule.kind == "deal":
        deal = ids["won"] if action_id.startswith("win") else ids["deal"]
        return f"{deal}:manager:1" if rule.who == "by_step" else str(deal)
    return f"{ids.get(rule.kind, 0)}:1" if rule.kind == "concern" else str(ids.get(rule.kind, 0))


def test_rep2_clicking_every_button_with_ritas_ids_changes_nothing(
    bot: RunningBot, ritas_things: dict[str, int]
) -> None:
    before = snapshot(bot)
    opened, to_manager = len(bot.standin.calls_to("views.open")), len(bot.dms_to(MANAGER))
    refused = 0
    for action_id, rule in access.ACTIONS.items():
        if rule.kind == "self":
            continue
        owners_only = rule.who in ("owner", "owner_or_admin")
        for actor in (REP2, MANAGER) if owners_only else (REP2, REP):
            replies = len(bot.standin.calls_to("response_url"))
            value = _value(rule, ritas_things, action_id)
            resp = bot.send(bot.slack.block_action(action_id, user=actor, value=value))
            assert resp.status == 200, action_id
            answers = bot.standin.calls_to("response_url")[replies:]
            lang = "es" if actor == REP2 else "en"
            assert [a.body.get("text") for a in answers] == [cat(bot, "privacy.not_yours", lang)], (
                action_id,
                actor,
            )
            refused += 1
    assert refused > 40
    assert snapshot(bot) == before
    assert len(bot.standin.calls_to("views.open")) == opened  # no modal with her answers
    assert len(bot.dms_to(MANAGER)) == to_manager  # nobody asked her manager to call


def test_rep2_submitting_ritas_modals_changes_nothing(
    bot: RunningBot, ritas_things: dict[str, int]
) -> None:
    before = snapshot(bot)
    deal = ritas_things["deal"]
    forged = {
        "guess_log": ({"deal": deal}, {"guess": "overwritten"}),
        "loss_log": ({"deal": deal, "as": "rep"}, {k: "overwritten" for k in LOSS_ANSWERS}),
        "win_log": ({"deal": ritas_things["won"]}, {"why": "x", "appealed": "y"}),
        "concern_modal": ({"deal_id": deal}, {"account": "Globex", "concern": "z"}),
        "screen_out_submit": (
            {"account": "Globex", "previous_run": ritas_things["screen_out"]},
            {},
        ),
        "deal_handoff": ({"deal": deal}, {"rep": "U0REP2"}),
        "deal_ask_account": ({"ask": ritas_things["deal_ask"], "outcome": "lost"}, {"a": "X"}),
        # Making rita's call, or picking who makes it, is not REP2's either.
        "call_log": ({"deal": deal, "as": "manager"}, {"heard": "overwritten"}),
        "call_pick": ({"deal": deal}, {}),
        "story_modal": (
            {"story": ritas_things["story"]},
            {"lesson": "overwritten", "did": "x", "happened": "y"},
        ),
        "story_link_modal": ({"story": ritas_things["story"]}, {}),
        # Keeping a lesson from rita's debrief is hers alone.
        "lesson_keep": ({"deal": deal}, {"lesson_text": "overwritten"}),
    }
    assert set(forged) == {c for c, r in access.VIEWS.items() if r.kind != "self"}
    for callback, (meta, answers) in forged.items():
        values = {
            k: {k if callback == "concern_modal" else "v": {"type": "plain_text_input", "value": v}}
            for k, v in answers.items()
        }
        resp = bot.send(
            bot.slack.view_submission(
                callback, values, user=REP2, private_metadata=json.dumps(meta)
            )
        )
        assert resp.status == 200
        body = resp.json()
        assert body["response_action"] == "update", callback
        assert cat(bot, "privacy.not_yours", "es") in json.dumps(body["view"], ensure_ascii=False)
    # The manager's role in the metadata does not make REP2 the manager either.
    resp = bot.send(
        bot.slack.view_submission(
            "loss_log", {}, user=REP2, private_metadata=json.dumps({"deal": deal, "as": "manager"})
        )
    )
    assert resp.json()["response_action"] == "update"
    assert snapshot(bot) == before
    assert bot.dms_to(MANAGER) == []


@pytest.mark.parametrize("value", ["1" * 30, "abc", "-1", "9" * 11])
def test_odd_ids_get_a_clean_answer(bot: RunningBot, value: str) -> None:
    """An id no row can have gets a clean answer: "I can't find that any more", or — for a
    digit run longer than any Slack sends — a 400 at the door. Never a 500."""
    before_rows = snapshot(bot)
    for action_id in [a for a, rule in access.ACTIONS.items() if rule.kind != "self"]:
        before = len(bot.standin.calls_to("response_url"))
        resp = bot.send(bot.slack.block_action(action_id, user=REP2, value=value))
        answers = bot.standin.calls_to("response_url")[before:]
        if resp.status == 400:
            assert len(value) > 18 and answers == [], action_id
            continue
        assert resp.status == 200
        assert [a.body["text"] for a in answers] == [cat(bot, "privacy.gone", "es")], action_id
    resp = bot.send(
        bot.slack.view_submission(
            "guess_log", {}, user=REP2, private_metadata=json.dumps({"deal": value})
        )
    )
    assert resp.status == 400 or resp.json()["response_action"] == "update"
    assert snapshot(bot) == before_rows


def test_the_manager_asked_to_call_may_log_it_and_nobody_else(bot: RunningBot) -> None:
    set_manager(bot, REP, MANAGER)
    close_deal(bot, "lost", "Globex", REP)
    click(bot, REP, "manager_call_request")
    # REP2 forging the manager's button is refused; the manager's own click opens the form.
    deal = max(deal_ids(bot))
    bot.send(bot.slack.block_action("manager_log_open", user=REP2, value=str(deal)))
    assert bot.standin.calls_to("views.open") == []
    click(bot, MANAGER, "manager_log_open")
    view = last_modal(bot)
    assert view["blocks"][0]["block_id"] == "audience"
    assert f"<@{REP}>" in view["blocks"][0]["elements"][0]["text"]


# --- reading ------------------------------------------------------------------------------


def test_prep_shows_another_reps_notes_only_once_shared(bot: RunningBot) -> None:
    log_loss(bot)
    secret = LOSS_ANSWERS["missed"]
    assert secret in prep(bot, "Globex", REP)  # her own notes
    assert secret not in prep(bot, "Globex", REP2)
    assert secret not in prep(bot, "Globex", MANAGER)  # not asked to call, not shared
    bot.send(bot.slack.slash_command("concern Globex | worried about the rollout", user=REP))
    assert "worried about the rollout" not in prep(bot, "Globex", REP2)
    # She shares the lesson from the saved summary: teammates see it in prep.
    click(bot, REP, "privacy_share")
    assert bot.standin.calls_to("response_url")[-1].body["text"] == cat(
        bot, "privacy.shared", account="Globex"
    )
    assert secret in prep(bot, "Globex", REP2)
    assert cat(bot, "privacy.shared_lesson", "es", rep=f"<@{REP}>") in prep(bot, "Globex", REP2)
    assert secret in prep(bot, "Globex", MANAGER)
    assert "Shared by" not in prep(bot, "Globex", REP)  # her own notes say nothing of sharing


def test_the_manager_asked_to_call_sees_the_notes_in_prep(bot: RunningBot) -> None:
    set_manager(bot, REP, MANAGER)
    log_loss(bot)
    assert LOSS_ANSWERS["missed"] not in prep(bot, "Globex", MANAGER)
    click(bot, REP, "manager_call_request")
    assert LOSS_ANSWERS["missed"] in prep(bot, "Globex", MANAGER)
    assert LOSS_ANSWERS["missed"] not in prep(bot, "Globex", REP2)


def test_app_home_of_a_teammate_and_the_manager_shows_no_private_notes(bot: RunningBot) -> None:
    set_manager(bot, REP, MANAGER)
    log_loss(bot)
    for viewer in (REP2, MANAGER):
        bot.send(
            bot.slack.event_request(
                bot.slack.envelope(
                    {"type": "app_home_opened", "user": viewer, "tab": "home", "channel": "D0X"}
                )
            )
        )
        home = json.dumps(bot.standin.calls_to("views.publish")[-1].body, ensure_ascii=False)
        for secret in (*LOSS_ANSWERS.values(), "Our price, I think"):
            assert secret not in home
    assert "Globex" in home  # the manager sees the deal itself, and the counts
    assert cat(bot, "privacy.team_counts", won=0, lost=1, no_decision=0) in home


def test_every_form_says_who_reads_it_in_the_readers_language(bot: RunningBot) -> None:
    close_deal(bot, "lost", "Globex", REP2)
    click(bot, REP2, "loss_mode_helped")
    click(bot, REP2, "guess_open")
    view = last_modal(bot)
    assert view["blocks"][0]["elements"][0]["text"] == cat(bot, "privacy.only_you", "es")
    bot.send(bot.slack.slash_command("reflect", user=REP))
    view = last_modal(bot)
    assert view["blocks"][0]["elements"][0]["text"] == cat(bot, "privacy.only_you")


def test_a_debrief_form_names_the_manager_asked_to_call_and_a_shared_lesson(
    bot: RunningBot,
) -> None:
    set_manager(bot, REP, MANAGER)
    close_deal(bot, "lost", "Globex", REP)
    click(bot, REP, "manager_call_request")
    click(bot, REP, "loss_mode_helped")
    click(bot, REP, "guess_open")
    line = last_modal(bot)["blocks"][0]["elements"][0]["text"]
    assert line == cat(bot, "privacy.you_and", who=f"<@{MANAGER}>")
    close_deal(bot, "won", "Initech", REP)
    click(bot, REP, "win_log_open")
    submit(bot, REP, last_modal(bot), {"why": "fast answers", "appealed": "the team"})
    click(bot, REP, "privacy_share")
    click(bot, REP, "win_log_open")
    line = last_modal(bot)["blocks"][0]["elements"][0]["text"]
    assert line == cat(bot, "privacy.you_and_team")
    assert "fast answers" in prep(bot, "Initech", REP2)


# --- forget-me ----------------------------------------------------------------------------


def test_every_user_column_is_known_to_forget_me() -> None:
    user_like = re.compile(r"(slack_id|user|rep|reported_by|granted_by|manager)", re.I)
    for table in SQLModel.metadata.sorted_tables:
        for column in table.columns:
            # SQLModel's str columns are AutoString, a decorator over String, not a String.
            is_text = isinstance(column.type, (String, AutoString))
            if is_text and user_like.search(column.name):
                assert (table.name, column.name) in USER_COLUMNS, (table.name, column.name)


@pytest.fixture
def db_bot(standin: SlackStandIn, clock: FakeClock, db_url: str) -> Iterator[RunningBot]:
    running, stop = start_bot(standin, clock, db_url)
    yield running
    stop()


def _mentions(bot: RunningBot, who: str) -> list[str]:
    """Every (table, column) whose text or JSON still names `who`."""
    found = []
    with bot.rt.engine.connect() as conn:
        for table in SQLModel.metadata.sorted_tables:
            for row in conn.execute(table.select()).mappings().all():
                for name, value in row.items():
                    column = table.c[name]
                    if isinstance(column.type, JSON):
                        value = json.dumps(value)
                    if isinstance(value, str) and who in value:
                        found.append(f"{table.name}.{name}")
    return found


def test_forget_me_deletes_everything_about_the_rep_table_by_table(db_bot: RunningBot) -> None:
    bot = db_bot
    set_manager(bot, REP, MANAGER)
    log_loss(bot)
    click(bot, REP, "manager_call_request")
    close_deal(bot, "won", "Initech", REP)
    bot.send(bot.slack.slash_command("concern Globex | rollout", user=REP))
    # Her posts in the deals channel: a deal (an announcement row) and one the bot asked
    # her about (a row holding her words).
    for text in (f"Closed won: Umbrella Corp <@{REP}>", f"<@{REP}> closed it with Soylent today"):
        bot.send(
            bot.slack.event_request(
                bot.slack.envelope(bot.slack.message_event(text, channel="C0DEALS", user=REP))
            )
        )
    assert bot.standin.calls_to("chat.postEphemeral")  # the undecided one was asked about
    add(
        bot,
        Reflection(team_id=TEAM, user_slack_id=REP, local_date="2026-11-02", went="ok"),
        RoleGrant(team_id=TEAM, slack_id=REP, role="reflections", created_at=WHEN),
    )
    close_deal(bot, "lost", "Hooli", REP2)
    with Session(bot.rt.engine) as s:
        outcomes = sorted((d.outcome, str(d.created_at)) for d in s.exec(select(Deal)))
    assert _mentions(bot, REP)
    resp = bot.send(bot.slack.slash_command("forget-me", user=REP))
    assert "forget_me_confirm" in json.dumps(resp.json()["blocks"])
    prompt = {"ts": "1.1", "blocks": resp.json()["blocks"]}
    bot.send(bot.slack.block_action("forget_me_confirm", user=REP, message=prompt))
    assert bot.standin.calls_to("response_url")[-1].body["text"] == cat(bot, "privacy.forgotten")
    assert _mentions(bot, REP) == []
    # Her own App Home is replaced by the empty one.
    [*_, home] = bot.standin.calls_to("views.publish")
    assert home.body["user_id"] == REP
    assert "Globex" not in json.dumps(home.body) and "Initech" not in json.dumps(home.body)
    secrets = ("rita", "Rita Rep", "rita@acme.test", "Our price", "Globex", "Initech")
    for secret in (*secrets, "Umbrella", "Soylent"):
        assert _mentions(bot, secret) == [], secret
    with Session(bot.rt.engine) as s:
        assert s.exec(select(Person).where(Person.slack_id == REP)).first() is None
        # Deal counts stay: same outcomes and dates, REP2's deal untouched.
        assert sorted((d.outcome, str(d.created_at)) for d in s.exec(select(Deal))) == outcomes
        assert s.exec(select(Deal).where(Deal.account == "Hooli")).one().rep_slack_id == REP2
        assert s.exec(select(Person).where(Person.slack_id == REP2)).first() is not None
    assert "Nothing logged for *Globex* yet" in prep(bot, "Globex", MANAGER)
    # The manager's App Home no longer lists her on the team.
    bot.send(
        bot.slack.event_request(
            bot.slack.envelope(
                {"type": "app_home_opened", "user": MANAGER, "tab": "home", "channel": "D0X"}
            )
        )
    )
    home = json.dumps(bot.standin.calls_to("views.publish")[-1].body, ensure_ascii=False)
    assert REP not in home and "Globex" not in home


def test_forget_me_as_a_manager_clears_the_team_rows(bot: RunningBot) -> None:
    set_manager(bot, REP, MANAGER)
    bot.send(bot.slack.slash_command("forget-me", user=MANAGER))
    bot.send(bot.slack.block_action("forget_me_confirm", user=MANAGER, value="me"))
    assert _mentions(bot, MANAGER) == []
    with Session(bot.rt.engine) as s:
        assert s.exec(select(Person).where(Person.slack_id == REP)).one().manager_slack_id is None


def test_keep_it_deletes_nothing(bot: RunningBot) -> None:
    log_loss(bot)
    before = snapshot(bot)
    bot.send(bot.slack.block_action("forget_me_cancel", user=REP, value="me"))
    assert snapshot(bot) == before
    assert bot.standin.calls_to("response_url")[-1].body["text"] == cat(bot, "privacy.kept")


# --- roles --------------------------------------------------------------------------------


def test_team_admin_names_and_removes_admins_and_only_admins_may(bot: RunningBot) -> None:
    mention = f"<@{REP2}|sam>"
    bot.send(bot.slack.slash_command(f"team admin {mention}", user=REP))
    assert bot.standin.calls_to("response_url")[-1].body["text"] == cat(bot, "errors.admin_only")
    bot.send(bot.slack.slash_command(f"team admin {mention}", user=ADMIN))
    assert bot.standin.calls_to("response_url")[-1].body["text"] == cat(
        bot, "privacy.admin_added", user=f"<@{REP2}>"
    )
    # The new admin may now set managers.
    bot.send(bot.slack.slash_command(f"team <@{REP}|rita> manager <@{MANAGER}|maya>", user=REP2))
    with Session(bot.rt.engine) as s:
        assert (
            s.exec(select(Person).where(Person.slack_id == REP)).one().manager_slack_id == MANAGER
        )
    bot.send(bot.slack.slash_command(f"team admin remove {mention}", user=ADMIN))
    with Session(bot.rt.engine) as s:
        assert s.exec(select(RoleGrant).where(RoleGrant.role == "admin")).all() == []


def test_reflections_and_digests_go_to_reps_only(bot: RunningBot) -> None:
    from tests.scenarios.test_reflection import at, reflection_dms, utc
    from tests.scenarios.test_weekly_digest import digests

    close_deal(bot, "lost", "Globex", REP)  # rita is a rep: she has a deal
    for viewer in (MANAGER, ADMIN):  # they only open App Home
        bot.send(
            bot.slack.event_request(
                bot.slack.envelope(
                    {"type": "app_home_opened", "user": viewer, "tab": "home", "channel": "D0X"}
                )
            )
        )
    at(bot, utc(2026, 11, 27, 12))  # a Friday
    # 17:31 and 18:31 in UTC (the admin has no zone), then in New York.
    for hour in (17, 18, 22, 23):
        at(bot, utc(2026, 11, 27, hour, 31))
    assert len(reflection_dms(bot, REP)) == 1
    assert len(digests(bot, REP)) == 1
    assert reflection_dms(bot, MANAGER) == [] and reflection_dms(bot, ADMIN) == []
    assert bot.dms_to(MANAGER) == [] and bot.dms_to(ADMIN) == []
    # The manager opts in.
    bot.send(bot.slack.slash_command("reflect on", user=MANAGER))
    at(bot, utc(2026, 11, 30, 12))
    at(bot, utc(2026, 11, 30, 22, 31))
    assert len(reflection_dms(bot, MANAGER)) == 1


def test_people_named_in_admins_are_admins(
    standin: SlackStandIn, clock: FakeClock, sqlite_url: str
) -> None:
    bot, stop = start_bot(standin, clock, sqlite_url, extra_env={"ADMINS": f"{REP2}, U0OTHER"})
    try:
        assert bot.rt.settings.admins == frozenset({REP2, "U0OTHER"})
        bot.send(bot.slack.slash_command("settings holidays add 2026-12-24", user=REP2))
        bot.send(
            bot.slack.slash_command(f"team <@{REP}|rita> manager <@{MANAGER}|maya>", user=REP2)
        )
        with Session(bot.rt.engine) as s:
            person = s.exec(select(Person).where(Person.slack_id == REP)).one()
            assert person.manager_slack_id == MANAGER
            assert "2026-12-24" in s.exec(select(Workspace)).one().holidays
        # rita is not named: still refused.
        bot.send(bot.slack.slash_command("settings holidays add 2026-12-25", user=REP))
        assert bot.standin.calls_to("response_url")[-1].body["text"] == cat(
            bot, "errors.admin_only"
        )
    finally:
        stop()


def test_admins_setting_rejects_what_is_not_a_user_id() -> None:
    from bot.settings import SettingsError, load_settings

    with pytest.raises(SettingsError, match="ADMINS"):
        load_settings({"ADMINS": "rita@acme.test"}, env_file=None)
