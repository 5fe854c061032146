"""Deal intake a team can trust: thread chatter is not a deal, one deal announced twice is
one deal, edits and deletions of the post correct it, and the rep can say "Not right?".

Every test drives the running bot with signed Slack requests and reads what the rep sees
(DMs as they stand after chat.update) from the stand-in; time moves on the FakeClock."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import Session, select

from bot.clock import FakeClock
from bot.devkit.requests import plain_text_value, users_select_value
from storage.deals import account_key
from storage.debriefs import loss_streak
from storage.models import Deal, DealAsk, DealSource, Nudge
from tests.conftest import ADMIN, DEALS, MANAGER, REP, REP2, RunningBot

PABLO = "U0PABLO"


@pytest.fixture
def pablo(bot: RunningBot) -> str:
    bot.standin.add_user(
        PABLO, name="pablo", real_name="Pablo Seller", email="pablo@acme.test", locale="en-US"
    )
    bot.standin.set_dnd(PABLO, dnd_enabled=False)
    return PABLO


# --- helpers ------------------------------------------------------------------------------


def deals(bot: RunningBot) -> list[Deal]:
    with Session(bot.rt.engine) as s:
        return list(s.exec(select(Deal).order_by(Deal.id)).all())  # type: ignore[arg-type]


def dm_posts(bot: RunningBot, user: str) -> list[dict[str, Any]]:
    """Every DM posted to `user` (chat.postMessage bodies Slack accepted)."""
    channel = bot.standin.dm_channel(user)
    return [
        c.body
        for c in bot.standin.calls_to("chat.postMessage")
        if c.response.get("ok") and c.body.get("channel") in {user, channel}
    ]


def dm_now(bot: RunningBot, user: str, index: int = 0) -> dict[str, Any]:
    """A bot DM to `user` as it stands now (after any chat.update)."""
    mine = [m for m in bot.standin.messages(bot.standin.dm_channel(user)) if m.get("bot_id")]
    return mine[index]


def shown(message: dict[str, Any]) -> str:
    return json.dumps(message.get("blocks") or [], ensure_ascii=False) + message.get("text", "")


def action_ids(message: dict[str, Any]) -> set[str]:
    found: set[str] = set()
    for block in message.get("blocks") or []:
        for element in block.get("elements") or []:
            if isinstance(element, dict) and element.get("action_id"):
                found.add(element["action_id"])
        accessory = block.get("accessory") or {}
        if accessory.get("action_id"):
            found.add(accessory["action_id"])
    return found


def post(bot: RunningBot, text: str, *, user: str = MANAGER, **extra: Any) -> dict[str, Any]:
    event = bot.slack.message_event(text, channel=DEALS, user=user, **extra)
    bot.send(bot.slack.event_request(event))
    return event


def edit(bot: RunningBot, original: dict[str, Any], text: str) -> None:
    """Slack's message_changed event for a person's edit of `original`."""
    edited_ts = bot.slack.new_ts()
    message = {**original, "text": text, "edited": {"user": original.get("user"), "ts": edited_ts}}
    message.pop("blocks", None)
    message.pop("channel", None)
    event = bot.slack.message_event(
        "",
        channel=DEALS,
        user=None,
        subtype="message_changed",
        hidden=True,
        ts=edited_ts,
        message=message,
        previous_message={k: v for k, v in original.items() if k != "channel"},
    )
    bot.send(bot.slack.event_request(event))


def delete(bot: RunningBot, original: dict[str, Any]) -> None:
    event = bot.slack.message_event(
        "",
        channel=DEALS,
        user=None,
        subtype="message_deleted",
        hidden=True,
        deleted_ts=original["ts"],
        previous_message={k: v for k, v in original.items() if k != "channel"},
    )
    bot.send(bot.slack.event_request(event))


def click(
    bot: RunningBot,
    user: str,
    message: dict[str, Any],
    action_id: str,
    *,
    channel: str | None = None,
    option: str | None = None,
) -> None:
    """Click a button (or pick an overflow option) on a message the user sees."""
    if option is not None:
        request = bot.slack.block_action(
            action_id,
            user=user,
            channel=channel or bot.standin.dm_channel(user),
            message=message,
            action_type="overflow",
            selected_option={"text": {"type": "plain_text", "text": option}, "value": option},
        )
    else:
        request = bot.slack.block_action(
            action_id, user=user, channel=channel or bot.standin.dm_channel(user), message=message
        )
    assert bot.send(request).status == 200


def refused(bot: RunningBot, user: str) -> bool:
    """Did the last answer tell `user`, in their language, that it isn't theirs? The owner
    check in front of every listener says it first; the intake's own check is behind it."""
    lang = "es" if user == REP2 else "en"
    said = replies(bot)[-1]["text"]
    return any(
        bot.rt.catalog.text(lang, key) in said for key in ("privacy.not_yours", "intake.not_yours")
    )


def replies(bot: RunningBot) -> list[dict[str, Any]]:
    return [c.body for c in bot.standin.calls_to("response_url")]


def crm_post(bot: RunningBot, text: str, *, link: str | None = None) -> dict[str, Any]:
    """A CRM app's post (a bot with an attachment titled with the record's link)."""
    attachments = (
        [{"fallback": text, "title": "Opportunity", "title_link": link, "text": text}]
        if link
        else None
    )
    event = bot.slack.message_event(
        text,
        channel=DEALS,
        user="U0SFDCBOT",
        bot_id="B0SFDC",
        attachments=attachments,
        bot_profile={"id": "B0SFDC", "name": "Salesforce", "app_id": "A0SFDC"},
    )
    bot.send(bot.slack.event_request(event))
    return event


# --- 1. thread replies ------------------------------------------------------------------------


def test_thread_replies_are_chatter_not_deals(bot: RunningBot) -> None:
    root = post(bot, f"Closed won: Initech ($120k) <@{REP}>")
    for text in (
        f":tada: Closed won, amazing work <@{REP}>!",
        f"Huge! Initech signed, well done <@{REP}>",
        f"Sorry to hear we lost Globex <@{REP}>, next one!",
    ):
        post(bot, text, user=REP2, thread_ts=root["ts"])
    # "Also send to channel" makes a thread reply visible in the channel: still a reply.
    post(
        bot,
        f"Sorry to hear we lost Globex <@{REP}>, next one!",
        user=REP2,
        thread_ts=root["ts"],
        subtype="thread_broadcast",
    )
    assert len(dm_posts(bot, REP)) == 1
    [deal] = deals(bot)
    assert (deal.account, deal.outcome) == ("Initech", "won")
    with Session(bot.rt.engine) as s:
        assert loss_streak(session=s, team_id=deal.team_id, rep_slack_id=REP) == 0
    assert bot.standin.calls_to("chat.postEphemeral") == []


# --- 2. one real deal is one deal -----------------------------------------------------------


def test_account_key_ignores_case_accents_punctuation_and_legal_forms() -> None:
    same = ["Initech, Inc.", "initech", "INITECH LLC", "Initech Corp.", "The Initech Co"]
    assert {account_key(name) for name in same} == {"initech"}
    assert account_key("Société Générale S.A.") == account_key("societe generale")
    assert account_key("Müller GmbH") == account_key("Muller")
    assert account_key("Harbor & Pine Realty") == account_key("Harbor and Pine Realty")
    assert account_key("Studio 54") != account_key("Studio 55")
    assert account_key("Inc") == "inc"  # a name that is only a legal form stays a name


def test_a_crm_post_then_the_reps_own_post_is_one_deal_and_one_dm(
    bot: RunningBot, pablo: str
) -> None:
    crm_post(bot, "Opportunity Alphaline Logistics moved to Closed Lost. Owner: pablo@acme.test")
    post(bot, f"Closed lost: Alphaline Logistics <@{pablo}> :(", user=pablo)
    assert len(dm_posts(bot, pablo)) == 1
    [deal] = deals(bot)
    assert (deal.account, deal.outcome, deal.rep_slack_id) == ("Alphaline Logistics", "lost", pablo)
    with Session(bot.rt.engine) as s:
        sources = s.exec(select(DealSource).where(DealSource.deal_id == deal.id)).all()
        assert sorted(src.duplicate for src in sources) == [False, True]
        assert loss_streak(session=s, team_id=deal.team_id, rep_slack_id=pablo) == 1


def test_the_same_line_posted_twice_is_one_deal_and_a_day_later_a_new_one(
    bot: RunningBot, clock: FakeClock
) -> None:
    post(bot, f"Closed lost: Globex <@{REP}>")
    post(bot, f"Closed lost: Globex <@{REP}>")
    post(bot, f"Closed lost: GLOBEX Inc. <@{REP}>")
    assert len(dm_posts(bot, REP)) == 1 and len(deals(bot)) == 1
    # The same deal logged by command within the day links too.
    bot.send(bot.slack.slash_command("deal lost Globex", user=REP))
    assert len(dm_posts(bot, REP)) == 1 and len(deals(bot)) == 1
    assert "already logged" in replies(bot)[-1]["text"]
    clock.advance(timedelta(hours=25))
    post(bot, f"Closed lost: Globex <@{REP}>")
    assert len(dm_posts(bot, REP)) == 2 and len(deals(bot)) == 2


def test_a_different_crm_record_is_a_different_deal(bot: RunningBot) -> None:
    text = "Opportunity Alphaline Logistics moved to Closed Lost. Owner: rita@acme.test"
    crm_post(bot, text, link="https://acme.my.salesforce.com/006000000000001")
    crm_post(bot, text, link="https://acme.my.salesforce.com/006000000000001")
    assert len(deals(bot)) == 1
    crm_post(bot, text, link="https://acme.my.salesforce.com/006000000000002")
    assert len(deals(bot)) == 2 and len(dm_posts(bot, REP)) == 2


def test_another_reps_deal_with_the_same_account_is_not_a_repeat(bot: RunningBot) -> None:
    post(bot, f"Closed won: Initech <@{REP}>")
    post(bot, f"Closed won: Initech <@{REP2}>")
    assert len(dm_posts(bot, REP)) == 1 and len(dm_posts(bot, REP2)) == 1


# --- 3. corrections: edits and deletions of the post ------------------------------------------


def test_an_edit_soon_after_updates_the_deal_and_its_dm_in_place(bot: RunningBot) -> None:
    root = post(bot, f"Closed lost: Initech $40k <@{REP}>")
    assert "loss_mode_heard" in action_ids(dm_now(bot, REP))
    edit(bot, root, f"Closed won: Initech Labs $45k <@{REP}>")
    [deal] = deals(bot)
    assert (deal.outcome, deal.account, str(deal.amount)) == ("won", "Initech Labs", "45000.00")
    assert len(dm_posts(bot, REP)) == 1  # corrected in place, not a second DM
    [update] = bot.standin.calls_to("chat.update")
    assert update.response["ok"]
    dm = dm_now(bot, REP)
    assert "win_log_open" in action_ids(dm) and "loss_mode_heard" not in action_ids(dm)
    assert "Initech Labs" in shown(dm)


def test_an_edit_to_another_rep_moves_the_deal_to_them(bot: RunningBot) -> None:
    root = post(bot, f"Closed won: Initech <@{REP}>")
    edit(bot, root, f"Closed won: Initech <@{REP2}>")
    [deal] = deals(bot)
    assert deal.rep_slack_id == REP2
    assert len(dm_posts(bot, REP2)) == 1
    assert "win_log_open" not in action_ids(dm_now(bot, REP))
    assert f"<@{REP2}>" in shown(dm_now(bot, REP))


def test_an_edit_that_is_no_longer_a_deal_withdraws_it(bot: RunningBot) -> None:
    root = post(bot, f"Closed lost: Globex <@{REP}>")
    edit(bot, root, f"Globex call went fine, follow-up next week <@{REP}>")
    [deal] = deals(bot)
    assert (deal.status, deal.withdrawn_reason) == ("withdrawn", "edited")
    dm = dm_now(bot, REP)
    assert action_ids(dm) == set() and "Withdrawn" in shown(dm)
    with Session(bot.rt.engine) as s:
        pending = s.exec(select(Nudge).where(Nudge.state == "pending")).all()
        assert pending == []
        assert loss_streak(session=s, team_id=deal.team_id, rep_slack_id=REP) == 0


def test_late_edits_and_edits_after_the_rep_acted_change_nothing(
    bot: RunningBot, clock: FakeClock
) -> None:
    late = post(bot, f"Closed lost: Globex <@{REP}>")
    acted = post(bot, f"Closed lost: Hooli <@{REP}>")
    click(bot, REP, dm_now(bot, REP, 1), "loss_mode_heard")
    # The click itself updates its DM to show the choice; the edits must add nothing.
    updates = len(bot.standin.calls_to("chat.update"))
    edit(bot, acted, f"Closed won: Hooli <@{REP}>")
    clock.advance(timedelta(minutes=16))
    edit(bot, late, f"Closed won: Globex <@{REP}>")
    assert [d.outcome for d in deals(bot)] == ["lost", "lost"]
    assert len(bot.standin.calls_to("chat.update")) == updates


def test_deleting_the_post_withdraws_a_dm_not_sent_yet(bot: RunningBot) -> None:
    bot.send(bot.slack.slash_command("pause", user=REP))
    root = post(bot, f"Closed lost: Globex <@{REP}>")
    assert dm_posts(bot, REP) == []  # paused: the DM waits
    delete(bot, root)
    bot.send(bot.slack.slash_command("resume", user=REP))
    bot.tick()
    assert dm_posts(bot, REP) == []
    [deal] = deals(bot)
    assert deal.status == "withdrawn"


def test_deleting_the_post_soon_after_updates_the_sent_dm(bot: RunningBot) -> None:
    root = post(bot, f"Closed lost: Globex <@{REP}>")
    delete(bot, root)
    dm = dm_now(bot, REP)
    assert action_ids(dm) == set()
    assert "deleted" in shown(dm)
    assert deals(bot)[0].withdrawn_reason == "deleted"


# --- /loop deal with another outcome ------------------------------------------------------------


def test_loop_deal_with_another_outcome_asks_to_change_it(bot: RunningBot) -> None:
    bot.send(bot.slack.slash_command("deal lost Acme", user=REP))
    bot.send(bot.slack.slash_command("deal won Acme", user=REP))
    assert len(deals(bot)) == 1 and len(dm_posts(bot, REP)) == 1
    question = replies(bot)[-1]
    assert "Change *Acme* from lost to won?" in question["text"]
    assert action_ids(question) == {"deal_change_yes", "deal_change_keep"}
    # Someone else's click on it is refused.
    click(bot, REP2, question, "deal_change_yes", channel="D0REP1")
    assert refused(bot, REP2)
    assert deals(bot)[0].outcome == "lost"
    click(bot, REP, question, "deal_change_yes", channel="D0REP1")
    [deal] = deals(bot)
    assert deal.outcome == "won"
    assert "win_log_open" in action_ids(dm_now(bot, REP))
    assert "from lost to won" in replies(bot)[-1]["text"]


def test_keep_leaves_the_deal_as_it_was(bot: RunningBot) -> None:
    bot.send(bot.slack.slash_command("deal lost Acme", user=REP))
    bot.send(bot.slack.slash_command("deal won Acme", user=REP))
    click(bot, REP, replies(bot)[-1], "deal_change_keep", channel="D0REP1")
    assert [d.outcome for d in deals(bot)] == ["lost"]
    assert bot.standin.calls_to("chat.update") == []
    assert replies(bot)[-1]["replace_original"] is True


# --- 4. "Not right?" ----------------------------------------------------------------------------


def fix(bot: RunningBot, user: str, deal_id: int, what: str, owner: str = REP) -> None:
    click(bot, user, dm_now(bot, owner), "deal_fix", option=f"{deal_id}:{what}")


def test_every_deal_dm_has_the_not_right_menu(bot: RunningBot) -> None:
    post(bot, f"Closed won: Initech <@{REP}>")
    post(bot, f"Closed lost: Globex <@{REP}>")
    for i in (0, 1):
        dm = dm_now(bot, REP, i)
        menu = [b for b in dm["blocks"] if (b.get("accessory") or {}).get("type") == "overflow"]
        assert len(menu) == 1
        values = [o["value"] for o in menu[0]["accessory"]["options"]]
        assert [v.split(":")[1] for v in values] == ["outcome", "owner", "withdraw"]


def test_wrong_outcome_picks_the_right_one_and_the_dm_follows(bot: RunningBot) -> None:
    post(bot, f"Closed won: Initech <@{REP}>")
    [deal] = deals(bot)
    assert deal.id is not None
    fix(bot, REP, deal.id, "outcome")
    picker = replies(bot)[-1]
    assert action_ids(picker) == {"deal_fix_outcome_lost", "deal_fix_outcome_no_decision"}
    click(bot, REP, picker, "deal_fix_outcome_lost")
    assert deals(bot)[0].outcome == "lost"
    assert "loss_mode_heard" in action_ids(dm_now(bot, REP))
    with Session(bot.rt.engine) as s:
        assert loss_streak(session=s, team_id=deal.team_id, rep_slack_id=REP) == 1


def test_not_my_deal_hands_it_to_the_right_rep(bot: RunningBot) -> None:
    post(bot, f"Closed lost: Globex <@{REP}>")
    [deal] = deals(bot)
    assert deal.id is not None
    fix(bot, REP, deal.id, "owner")
    [opened] = bot.standin.calls_to("views.open")
    view = opened.body["view"]
    view = json.loads(view) if isinstance(view, str) else view
    assert view["callback_id"] == "deal_handoff"
    submit = bot.slack.view_submission(
        "deal_handoff",
        {"rep": {"v": users_select_value(REP2)}},
        user=REP,
        private_metadata=view["private_metadata"],
    )
    assert bot.send(submit).status == 200
    assert deals(bot)[0].rep_slack_id == REP2
    assert len(dm_posts(bot, REP2)) == 1
    assert "loss_mode_heard" in action_ids(dm_now(bot, REP2))
    mine = dm_now(bot, REP)
    assert action_ids(mine) == set() and f"<@{REP2}>" in shown(mine)
    with Session(bot.rt.engine) as s:
        pending = s.exec(select(Nudge).where(Nudge.state == "pending")).all()
        assert {n.user_slack_id for n in pending} == {REP2}  # the reminder moved too


def test_not_a_deal_withdraws_it_and_its_reminder(bot: RunningBot) -> None:
    post(bot, f"Closed lost: Globex <@{REP}>")
    [deal] = deals(bot)
    assert deal.id is not None
    fix(bot, REP, deal.id, "withdraw")
    assert deals(bot)[0].status == "withdrawn"
    assert action_ids(dm_now(bot, REP)) == set()
    with Session(bot.rt.engine) as s:
        kinds = {n.kind: n.state for n in s.exec(select(Nudge)).all()}
    assert kinds["debrief_reminder"] == "cancelled"
    home = bot.send(bot.slack.slash_command("deal won Globex", user=REP))
    assert home.status == 200
    assert len(deals(bot)) == 2  # a withdrawn deal is nothing to "change"


def test_a_withdrawn_loss_breaks_the_streak_before_its_offer_goes_out(bot: RunningBot) -> None:
    for account in ("Globex", "Hooli", "Initech"):
        post(bot, f"Closed lost: {account} <@{REP}>")
    with Session(bot.rt.engine) as s:
        offers = s.exec(select(Nudge).where(Nudge.kind == "loss_streak_offer")).all()
        assert [o.state for o in offers] == ["pending"]
    hooli = deals(bot)[1]
    assert hooli.id is not None
    click(bot, REP, dm_now(bot, REP, 1), "deal_fix", option=f"{hooli.id}:withdraw")
    bot.tick()
    with Session(bot.rt.engine) as s:
        offers = s.exec(select(Nudge).where(Nudge.kind == "loss_streak_offer")).all()
        assert [o.state for o in offers] == ["cancelled"]
        assert loss_streak(session=s, team_id=hooli.team_id, rep_slack_id=REP) == 2


@pytest.mark.parametrize("what", ["outcome", "owner", "withdraw"])
def test_only_the_rep_or_an_admin_may_correct_a_deal(bot: RunningBot, what: str) -> None:
    post(bot, f"Closed lost: Globex <@{REP}>")
    [deal] = deals(bot)
    assert deal.id is not None
    for stranger in (REP2, MANAGER):
        fix(bot, stranger, deal.id, what)
        assert refused(bot, stranger)
    # A forged deal id in the menu's value is refused the same way.
    click(bot, REP2, dm_now(bot, REP), "deal_fix", option=f"{deal.id}:{what}")
    assert bot.standin.calls_to("views.open") == []
    assert bot.standin.calls_to("chat.update") == []
    assert deals(bot)[0].status == "open" and deals(bot)[0].outcome == "lost"
    fix(bot, ADMIN, deal.id, what)
    if what == "withdraw":
        assert deals(bot)[0].status == "withdrawn"
    elif what == "owner":
        assert len(bot.standin.calls_to("views.open")) == 1
    else:
        assert action_ids(replies(bot)[-1]) == {
            "deal_fix_outcome_won",
            "deal_fix_outcome_no_decision",
        }


def test_a_handoff_submitted_by_someone_else_is_refused(bot: RunningBot) -> None:
    post(bot, f"Closed lost: Globex <@{REP}>")
    [deal] = deals(bot)
    submit = bot.slack.view_submission(
        "deal_handoff",
        {"rep": {"v": users_select_value(REP2)}},
        user=REP2,
        private_metadata=json.dumps({"deal": deal.id}),
    )
    answer = bot.send(submit).json()
    not_yours = bot.rt.catalog.text("es", "privacy.not_yours")
    assert answer["response_action"] == "update"
    assert not_yours in json.dumps(answer["view"], ensure_ascii=False)
    assert deals(bot)[0].rep_slack_id == REP


def test_the_menu_speaks_the_reps_language(bot: RunningBot) -> None:
    post(bot, f"Closed lost: Globex <@{REP2}>")
    dm = dm_now(bot, REP2)
    spanish = bot.rt.catalog.text("es", "intake.fix_owner")
    assert spanish in shown(dm) and bot.rt.catalog.text("en", "intake.fix_owner") not in shown(dm)


# --- 5. "Did a deal close?" ---------------------------------------------------------------------

# A post the rules can't decide (the corpus marks its kind `ask`): no account named.
UNDECIDED = f"<@{REP}> closed it with them today, more soon"


def test_an_undecided_post_asks_its_poster_once_and_ephemerally(bot: RunningBot) -> None:
    envelope = bot.slack.envelope(bot.slack.message_event(UNDECIDED, channel=DEALS, user=MANAGER))
    bot.send(bot.slack.event_request(envelope))
    bot.send(bot.slack.event_request(envelope, retry_num=1))
    bot.send(bot.slack.event_request(dict(envelope, event_id="EvAGAIN0001")))
    [asked] = bot.standin.calls_to("chat.postEphemeral")
    assert asked.response == {"ok": True, "message_ts": asked.response["message_ts"]}
    assert asked.body["user"] == MANAGER and asked.body["channel"] == DEALS
    assert action_ids(asked.body) == {
        "deal_ask_won",
        "deal_ask_lost",
        "deal_ask_no_decision",
        "deal_ask_none",
    }
    assert deals(bot) == [] and bot.standin.calls_to("chat.postMessage") == []


def test_no_question_for_bots_thread_replies_or_chatter(bot: RunningBot) -> None:
    root = post(bot, "Big week ahead, team")
    post(bot, UNDECIDED, thread_ts=root["ts"])
    post(bot, "lunch anyone? we lost track of time")
    crm_post(bot, UNDECIDED)
    assert bot.standin.calls_to("chat.postEphemeral") == []


def test_answering_the_question_logs_the_deal_like_loop_deal(bot: RunningBot) -> None:
    post(bot, UNDECIDED)
    [asked] = bot.standin.calls_to("chat.postEphemeral")
    message = {"type": "message", "ts": asked.response["message_ts"], **asked.body}
    # Only the poster may answer.
    click(bot, REP2, message, "deal_ask_lost", channel=DEALS)
    assert refused(bot, REP2)
    click(bot, MANAGER, message, "deal_ask_lost", channel=DEALS)
    [opened] = bot.standin.calls_to("views.open")
    view = opened.body["view"]
    view = json.loads(view) if isinstance(view, str) else view
    submit = bot.slack.view_submission(
        "deal_ask_account",
        {"account": {"v": plain_text_value("Hooli")}},
        user=MANAGER,
        private_metadata=view["private_metadata"],
    )
    bot.send(submit)
    bot.send(submit)  # a double submit logs nothing more
    [deal] = deals(bot)
    assert (deal.account, deal.outcome, deal.rep_slack_id, deal.source) == (
        "Hooli",
        "lost",
        REP,
        "ask",
    )
    assert len(dm_posts(bot, REP)) == 1
    with Session(bot.rt.engine) as s:
        [ask] = s.exec(select(DealAsk)).all()
    assert (ask.state, ask.deal_id) == ("answered", deal.id)


def test_not_a_deal_is_remembered(bot: RunningBot) -> None:
    post(bot, UNDECIDED)
    [asked] = bot.standin.calls_to("chat.postEphemeral")
    message = {"type": "message", "ts": asked.response["message_ts"], **asked.body}
    click(bot, MANAGER, message, "deal_ask_none", channel=DEALS)
    click(bot, MANAGER, message, "deal_ask_won", channel=DEALS)
    assert deals(bot) == []
    assert bot.standin.calls_to("views.open") == []
    assert "not a deal" in replies(bot)[-2]["text"]


# --- both databases ---------------------------------------------------------------------------


@pytest.fixture
def any_db_bot(standin: Any, clock: FakeClock, db_url: str) -> Any:
    """The bot on SQLite and (with TEST_DATABASE_URL) on PostgreSQL."""
    from tests.conftest import start_bot

    running, stop = start_bot(standin, clock, db_url)
    yield running
    stop()


def test_two_announcements_at_the_same_moment_are_one_deal(any_db_bot: RunningBot) -> None:
    import threading

    bot = any_db_bot
    s = bot.slack
    events = [
        s.message_event(
            "Opportunity Globex moved to Closed Lost. Owner: rita@acme.test",
            channel=DEALS,
            user="U0SFDCBOT",
            bot_id="B0SFDC",
        ),
        s.message_event(f"Closed lost: Globex <@{REP}>", channel=DEALS, user=REP),
        s.message_event(f"Closed lost: Globex Inc <@{REP}>", channel=DEALS, user=MANAGER),
    ]
    threads = [threading.Thread(target=bot.post, args=(s.event_request(e),)) for e in events]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    bot.idle()
    assert len(dm_posts(bot, REP)) == 1
    [deal] = deals(bot)
    with Session(bot.rt.engine) as session:
        sources = session.exec(select(DealSource).where(DealSource.deal_id == deal.id)).all()
    assert len(sources) == 3


def test_an_edit_corrects_the_deal_on_both_databases(any_db_bot: RunningBot) -> None:
    bot = any_db_bot
    root = post(bot, f"Closed won: Initech <@{REP}>")
    edit(bot, root, f"Closed lost: Initech <@{REP}>")
    [deal] = deals(bot)
    assert deal.outcome == "lost" and deal.revision == 1
    assert "loss_mode_heard" in action_ids(dm_now(bot, REP))


# --- more of what a real team does -----------------------------------------------------------


def test_an_edit_while_the_dm_waits_is_what_the_rep_gets(bot: RunningBot) -> None:
    bot.send(bot.slack.slash_command("pause", user=REP))
    root = post(bot, f"Closed lost: Initech <@{REP}>")
    edit(bot, root, f"Closed won: Initech <@{REP}>")
    assert dm_posts(bot, REP) == [] and bot.standin.calls_to("chat.update") == []
    bot.send(bot.slack.slash_command("resume", user=REP))
    bot.tick()
    [dm] = dm_posts(bot, REP)
    assert "win_log_open" in action_ids(dm) and "loss_mode_heard" not in action_ids(dm)


def test_slack_refusing_the_update_still_corrects_the_deal(bot: RunningBot) -> None:
    root = post(bot, f"Closed lost: Initech <@{REP}>")
    bot.standin.fail_next("chat.update", status=500)
    edit(bot, root, f"Closed won: Initech <@{REP}>")
    assert deals(bot)[0].outcome == "won"
    assert [c.status for c in bot.standin.calls_to("chat.update")] == [500]
    assert len(dm_posts(bot, REP)) == 1


def test_the_question_is_asked_in_the_posters_language(bot: RunningBot) -> None:
    post(bot, UNDECIDED, user=REP2)
    [asked] = bot.standin.calls_to("chat.postEphemeral")
    assert asked.body["user"] == REP2
    assert asked.body["text"] == bot.rt.catalog.text("es", "intake.ask_fallback")


def test_a_withdrawn_deal_leaves_app_home(bot: RunningBot) -> None:
    post(bot, f"Closed lost: Globex <@{REP}>")
    post(bot, f"Closed won: Initech <@{REP}>")
    globex = deals(bot)[0]
    click(bot, REP, dm_now(bot, REP, 0), "deal_fix", option=f"{globex.id}:withdraw")
    event = {
        "type": "app_home_opened",
        "user": REP,
        "channel": "D" + REP[1:],
        "tab": "home",
        "event_ts": "1700000000.000100",
    }
    bot.send(bot.slack.event_request(event))
    [published] = bot.standin.calls_to("views.publish")
    home = json.dumps(published.body["view"])
    assert "Initech" in home and "Globex" not in home


def test_a_double_click_on_change_it_changes_once(bot: RunningBot) -> None:
    bot.send(bot.slack.slash_command("deal lost Acme", user=REP))
    bot.send(bot.slack.slash_command("deal won Acme", user=REP))
    question = replies(bot)[-1]
    click(bot, REP, question, "deal_change_yes", channel="D0REP1")
    click(bot, REP, question, "deal_change_yes", channel="D0REP1")
    [deal] = deals(bot)
    assert (deal.outcome, deal.revision) == ("won", 1)
    assert len(bot.standin.calls_to("chat.update")) == 1


def test_an_answer_logs_the_account_the_post_names_without_a_form(bot: RunningBot) -> None:
    post(bot, f"Hooli is closed, nice one <@{REP}>")
    [asked] = bot.standin.calls_to("chat.postEphemeral")
    message = {"type": "message", "ts": asked.response["message_ts"], **asked.body}
    click(bot, MANAGER, message, "deal_ask_lost", channel=DEALS)
    click(bot, MANAGER, message, "deal_ask_lost", channel=DEALS)  # a double click
    assert bot.standin.calls_to("views.open") == []
    [deal] = deals(bot)
    assert (deal.account, deal.outcome, deal.rep_slack_id) == ("Hooli", "lost", REP)
    assert len(dm_posts(bot, REP)) == 1
    answer = replies(bot)[-2]
    assert answer["replace_original"] is True and "Hooli" in answer["text"]


def test_a_deal_cannot_be_handed_to_an_app_or_a_stranger(bot: RunningBot) -> None:
    bot.standin.add_user("U0CRMBOT", name="crm", real_name="CRM", is_bot=True, email="")
    post(bot, f"Closed lost: Globex <@{REP}>")
    [deal] = deals(bot)
    meta = json.dumps({"deal": deal.id})
    for target in ("U0CRMBOT", "U0NOBODY"):
        answer = bot.send(
            bot.slack.view_submission(
                "deal_handoff",
                {"rep": {"v": users_select_value(target)}},
                user=REP,
                private_metadata=meta,
            )
        ).json()
        assert answer["errors"]["rep"] == bot.rt.catalog.text("en", "intake.handoff_not_person")
    assert deals(bot)[0].rep_slack_id == REP


def test_an_outcome_corrected_to_lost_can_complete_a_streak(bot: RunningBot) -> None:
    post(bot, f"Closed lost: Globex <@{REP}>")
    post(bot, f"Closed lost: Hooli <@{REP}>")
    post(bot, f"Closed won: Initech <@{REP}>")
    with Session(bot.rt.engine) as s:
        assert s.exec(select(Nudge).where(Nudge.kind == "loss_streak_offer")).all() == []
    initech = deals(bot)[2]
    click(bot, REP, dm_now(bot, REP, 2), "deal_fix", option=f"{initech.id}:outcome")
    click(bot, REP, replies(bot)[-1], "deal_fix_outcome_lost")
    bot.tick()
    with Session(bot.rt.engine) as s:
        [offer] = s.exec(select(Nudge).where(Nudge.kind == "loss_streak_offer")).all()
    assert (offer.state, offer.payload["deal_id"]) == ("sent", initech.id)


def test_deleting_the_post_after_the_rep_acted_leaves_their_dm(
    bot: RunningBot, clock: FakeClock
) -> None:
    root = post(bot, f"Closed lost: Globex <@{REP}>")
    click(bot, REP, dm_now(bot, REP), "loss_mode_heard")
    # The click updates its DM to show the choice; the deletion must add nothing.
    updates = len(bot.standin.calls_to("chat.update"))
    delete(bot, root)
    assert deals(bot)[0].status == "open"
    assert len(bot.standin.calls_to("chat.update")) == updates
    # Heard was chosen: its button made way for the choice, the other two stay.
    assert "loss_mode_heard" not in action_ids(dm_now(bot, REP))
    assert "loss_mode_helped" in action_ids(dm_now(bot, REP))
