"""The quotes library (seed 001: win feedback gives "quotes to help you win the next
opportunity"): the win log tags an allowed quote with an industry or product line;
`/loop quotes [word]` finds allowed quotes from every rep; `/loop prep` for any account
shows them, the tag's first. A quote the client did not allow never shows anywhere.

The quotes and accounts are invented in the shape of the win-debrief answers the win
log collects (tests/scenarios/test_win_debrief.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.devkit.requests import plain_text_value, static_select_value
from bot.devkit.standin import check_message_blocks, check_view
from storage.db import unit_of_work
from storage.models import Deal, RitualRun
from tests.conftest import REP, REP2, RunningBot
from tests.support.debrief_steps import (
    assert_all_block_kit_valid,
    click,
    close_deal,
    last_modal,
)

TEAM = "T0001"
REP_FR = "U0REPFR"
SECRET = "Between us, your price was the real reason."
INITECH = "They understood a hospital's night shift in one meeting."
UMBRELLA = "Setup took a week, not a quarter."
# (language, who asks)
LANGS = [
    pytest.param("en", REP, id="en"),
    pytest.param("es", REP2, id="es"),
    pytest.param("fr", REP_FR, id="fr"),
]


@pytest.fixture(autouse=True)
def french_rep(bot: RunningBot) -> None:
    bot.standin.add_user(REP_FR, name="flore", tz="Europe/Paris", locale="fr-FR")


def cat(bot: RunningBot, lang: str, key: str, **values: Any) -> str:
    return bot.rt.catalog.text(lang, key, **values)


def log_win(
    bot: RunningBot,
    user: str,
    account: str,
    quote: str,
    *,
    allowed: bool,
    new_tag: str | None = None,
    pick_tag: str | None = None,
) -> dict[str, Any]:
    """A won deal, then the win log filled in as a rep would; returns the modal shown."""
    close_deal(bot, "won", account, user)
    click(bot, user, "win_log_open")
    view = last_modal(bot)
    assert check_view(view) == []
    values: dict[str, Any] = {
        "why": {"v": plain_text_value("They trusted the rollout plan")},
        "appealed": {"v": plain_text_value("Speed")},
        "quote": {"v": plain_text_value(quote)},
        "quote_ok": {
            "v": {
                "type": "checkboxes",
                "selected_options": (
                    [{"text": {"type": "plain_text", "text": "ok"}, "value": "yes"}]
                    if allowed
                    else []
                ),
            }
        },
    }
    if new_tag is not None:
        values["quote_tag_new"] = {"v": plain_text_value(new_tag)}
    if pick_tag is not None:
        values["quote_tag"] = {"v": static_select_value(pick_tag)}
    request = bot.slack.view_submission(
        "win_log",
        values,
        user=user,
        private_metadata=view["private_metadata"],
        blocks=view["blocks"],
    )
    assert bot.send(request).status == 200
    return view


def command(bot: RunningBot, text: str, user: str) -> dict[str, Any]:
    resp = bot.send(bot.slack.slash_command(text, user=user))
    assert resp.status == 200
    body = resp.json()
    assert body["response_type"] == "ephemeral"
    assert check_message_blocks(body["blocks"]) == []
    return dict(body)


def shown(body: dict[str, Any]) -> str:
    return json.dumps(body.get("blocks", []), ensure_ascii=False)


def team_of_quotes(bot: RunningBot) -> None:
    """Rita's Initech quote (allowed, new tag "Healthcare"), her Globex quote (not
    allowed), and Sam's Umbrella quote (allowed, "Healthcare" picked from the team's tags)."""
    log_win(bot, REP, "Initech", INITECH, allowed=True, new_tag="Healthcare")
    log_win(bot, REP, "Globex", SECRET, allowed=False, new_tag="Banking")
    view = log_win(bot, REP2, "Umbrella", UMBRELLA, allowed=True, pick_tag="Healthcare")
    [select] = [b for b in view["blocks"] if b["block_id"] == "quote_tag"]
    offered = [o["value"] for o in select["element"]["options"]]
    assert offered == ["Banking", "Healthcare"]  # tags are not secret: the team's words


# --- the win log's tag ---------------------------------------------------------------------------


def test_a_typed_tag_takes_the_teams_spelling(bot: RunningBot) -> None:
    log_win(bot, REP, "Initech", INITECH, allowed=True, new_tag="Healthcare")
    log_win(bot, REP2, "Umbrella", UMBRELLA, allowed=True, new_tag="  healthcare ")
    body = command(bot, "quotes", REP)
    assert shown(body).count("`Healthcare`") == 2
    assert "healthcare`" not in shown(body)


def test_the_permission_box_says_the_team_will_see_the_quote(bot: RunningBot) -> None:
    view = log_win(bot, REP, "Initech", INITECH, allowed=True, new_tag="Healthcare")
    [box] = [b for b in view["blocks"] if b["block_id"] == "quote_ok"]
    assert box["hint"]["text"] == cat(bot, "en", "quotes.hint_quote_ok")


# --- /loop quotes --------------------------------------------------------------------------------


@pytest.mark.parametrize(("lang", "user"), LANGS)
def test_quotes_lists_every_allowed_quote_with_account_rep_date_and_tag(
    bot: RunningBot, lang: str, user: str
) -> None:
    team_of_quotes(bot)
    body = command(bot, "quotes", user)
    text = shown(body)
    assert body["blocks"][0]["text"]["text"] == cat(bot, lang, "quotes.header")
    assert INITECH in text and UMBRELLA in text
    assert SECRET not in text and "Globex" not in text
    # Newest first; each with its account, rep, the win's date and the tag.
    assert text.index(UMBRELLA) < text.index(INITECH)
    # The win's date the reader's way (bot/messages/formats.py).
    day = {"en": "November 23, 2026", "es": "23 de noviembre de 2026", "fr": "23 novembre 2026"}
    assert f"*Initech* · <@U0REP1> · {day[lang]} · `Healthcare`" in text
    assert f"*Umbrella* · <@U0REP2> · {day[lang]} · `Healthcare`" in text
    assert cat(bot, lang, "quotes.showing", first=1, last=2, total=2) in text
    assert "quotes_more" not in text
    assert_all_block_kit_valid(bot)


@pytest.mark.parametrize(("lang", "user"), LANGS)
def test_quotes_with_a_word_matches_quote_account_or_tag(
    bot: RunningBot, lang: str, user: str
) -> None:
    team_of_quotes(bot)
    by_word = shown(command(bot, "quotes night SHIFT", user))
    assert INITECH in by_word and UMBRELLA not in by_word
    by_account = shown(command(bot, "quotes umbrella", user))
    assert UMBRELLA in by_account and INITECH not in by_account
    by_tag = shown(command(bot, "quotes health", user))
    assert INITECH in by_tag and UMBRELLA in by_tag
    # The words of a quote the client did not allow find nothing, nor its account.
    for hidden in ("price", "Globex"):
        body = command(bot, f"quotes {hidden}", user)
        assert SECRET not in shown(body)
        tags = "`Healthcare`"  # Banking is only on the disallowed quote: it would find nothing
        assert body["text"] == cat(bot, lang, "quotes.no_match", word=hidden, tags=tags)


@pytest.mark.parametrize(("lang", "user"), LANGS)
def test_quotes_before_any_win_says_how_quotes_get_there(
    bot: RunningBot, lang: str, user: str
) -> None:
    assert command(bot, "quotes", user)["text"] == cat(bot, lang, "quotes.none_yet")
    no_tags = cat(bot, lang, "quotes.no_match_no_tags", word="zebra")
    assert command(bot, "quotes zebra", user)["text"] == no_tags


def add_quotes(bot: RunningBot, n: int) -> None:
    """n logged wins with allowed quotes, a day apart (rows shaped as the win log
    stores them: data["win"], storage/debriefs.py)."""
    start = datetime(2026, 11, 1, 15, tzinfo=UTC)
    with unit_of_work(bot.rt.engine) as session:
        for i in range(n):
            when = start + timedelta(days=i)
            deal = Deal(
                team_id=TEAM,
                account=f"Account {i:02d}",
                outcome="won",
                rep_slack_id=REP,
                created_at=when,
                source="command",
            )
            session.add(deal)
            session.flush()
            win = {
                "why": "x",
                "appealed": "y",
                "quote": f"Quote number {i:02d}",
                "quote_ok": True,
                "quote_tag": "Payroll",
            }
            session.add(
                RitualRun(
                    team_id=TEAM,
                    ritual="win_debrief",
                    user_slack_id=REP,
                    deal_id=deal.id,
                    account=deal.account,
                    state="logged",
                    data={"win": win},
                    created_at=when,
                    updated_at=when,
                )
            )


def test_quotes_are_paged_within_block_kit_limits(bot: RunningBot) -> None:
    add_quotes(bot, 19)
    body = command(bot, "quotes payroll", REP2)
    text = shown(body)
    assert "Quote number 18" in text and "Quote number 11" in text
    assert "Quote number 10" not in text
    assert len(body["blocks"]) <= 50
    [more] = [b for b in body["blocks"] if b["type"] == "actions"]
    request = bot.slack.block_action(
        "quotes_more", user=REP2, message={"type": "message", "ts": "1.2", "blocks": body["blocks"]}
    )
    bot.send(request)
    [call] = bot.standin.calls_to("response_url")
    assert call.body["replace_original"] is True
    page2 = json.dumps(call.body["blocks"], ensure_ascii=False)
    assert "Quote number 10" in page2 and "Quote number 03" in page2
    assert "Quote number 11" not in page2 and "Quote number 02" not in page2
    assert cat(bot, "es", "quotes.showing", first=9, last=16, total=19) in page2
    assert more["elements"][0]["text"]["text"] == cat(bot, "es", "quotes.button_more")


def test_a_forged_page_value_shows_the_first_page(bot: RunningBot) -> None:
    add_quotes(bot, 3)
    bot.send(bot.slack.block_action("quotes_more", user=REP, value='{"w": 5, "p": "x"}'))
    [call] = bot.standin.calls_to("response_url")
    assert "Quote number 02" in json.dumps(call.body["blocks"])


def test_help_lists_the_quotes_command(bot: RunningBot) -> None:
    for lang, user in (("en", REP), ("es", REP2), ("fr", REP_FR)):
        assert cat(bot, lang, "quotes.help_line") in shown(command(bot, "help", user))


# --- /loop prep for another account ------------------------------------------------------------


@pytest.mark.parametrize(("lang", "user"), LANGS)
def test_prep_for_another_account_shows_quotes_with_the_matching_tag(
    bot: RunningBot, lang: str, user: str
) -> None:
    team_of_quotes(bot)
    add_quotes(bot, 2)  # newer "Payroll" quotes: they must not push the tag's ones out
    body = command(bot, "prep Hooli Health — healthcare", user)
    text = shown(body)
    assert body["blocks"][0]["text"]["text"] == cat(
        bot, lang, "prep.header", account="Hooli Health"
    )
    assert cat(bot, lang, "quotes.prep_header_tag", tag="Healthcare") in text
    assert INITECH in text and UMBRELLA in text
    assert "Quote number" not in text and SECRET not in text
    # Without a tag: the newest allowed quotes, from any account, never the secret one.
    untagged = shown(command(bot, "prep Hooli Health", user))
    assert cat(bot, lang, "quotes.prep_header") in untagged
    assert "Quote number 01" in untagged and SECRET not in untagged
    assert_all_block_kit_valid(bot)


def test_prep_reads_the_tag_after_a_dash_but_not_inside_a_name(bot: RunningBot) -> None:
    team_of_quotes(bot)
    add_quotes(bot, 2)
    body = command(bot, "prep Hewlett-Packard - Healthcare", REP)
    assert body["blocks"][0]["text"]["text"] == cat(
        bot, "en", "prep.header", account="Hewlett-Packard"
    )
    assert INITECH in shown(body) and "Quote number" not in shown(body)
    untagged = command(bot, "prep Hewlett-Packard", REP)
    assert untagged["blocks"][0]["text"]["text"] == cat(
        bot, "en", "prep.header", account="Hewlett-Packard"
    )


def test_prep_for_an_account_uses_its_own_quotes_tag(bot: RunningBot) -> None:
    team_of_quotes(bot)
    add_quotes(bot, 3)
    # Umbrella's own quote is tagged Healthcare: prep finds Initech's too, not Payroll's.
    text = shown(command(bot, "prep Umbrella", REP))
    assert INITECH in text and "Quote number" not in text


def test_the_globex_rep_never_sees_her_own_disallowed_quote_offered(bot: RunningBot) -> None:
    team_of_quotes(bot)
    for text in ("prep Globex", "prep Acme — banking", "quotes", "quotes Banking"):
        assert SECRET not in shown(command(bot, text, REP))


# --- a quote leaves the library --------------------------------------------------------------


def resubmit_win(bot: RunningBot, user: str, *, allowed: bool) -> None:
    """Edit on the saved win: the same form, the permission box changed."""
    click(bot, user, "win_log_open")
    view = last_modal(bot)
    values = {
        name: {"v": plain_text_value(block["element"].get("initial_value"))}
        for name, block in ((b["block_id"], b) for b in view["blocks"] if b["type"] == "input")
        if block["element"]["type"] == "plain_text_input"
    }
    chosen = [{"text": {"type": "plain_text", "text": "ok"}, "value": "yes"}] if allowed else []
    values["quote_ok"] = {"v": {"type": "checkboxes", "selected_options": chosen}}
    request = bot.slack.view_submission(
        "win_log",
        values,
        user=user,
        private_metadata=view["private_metadata"],
        blocks=view["blocks"],
    )
    assert bot.send(request).status == 200


def test_a_permission_taken_back_takes_the_quote_out(bot: RunningBot) -> None:
    log_win(bot, REP, "Initech", INITECH, allowed=True, new_tag="Healthcare")
    assert INITECH in shown(command(bot, "quotes", REP2))
    resubmit_win(bot, REP, allowed=False)
    assert INITECH not in shown(command(bot, "quotes", REP2))
    assert INITECH not in shown(command(bot, "prep Hooli — healthcare", REP2))


def test_a_withdrawn_deal_or_a_forgotten_rep_takes_the_quote_out(bot: RunningBot) -> None:
    add_quotes(bot, 2)
    with unit_of_work(bot.rt.engine) as session:
        deal = session.get(Deal, 1)
        assert deal is not None
        deal.status = "withdrawn"
        session.add(deal)
    text = shown(command(bot, "quotes", REP2))
    assert "Quote number 01" in text and "Quote number 00" not in text
    bot.send(bot.slack.slash_command("forget-me", user=REP))
    bot.send(bot.slack.block_action("forget_me_confirm", user=REP))
    assert command(bot, "quotes", REP2)["text"] == cat(bot, "es", "quotes.none_yet")
