"""App Home and stories: a rep's own Home lists their recent stories (links to the
thread, with the deal and the share credited); a manager's team lines count each rep's
stories of the last 30 days. Nobody else's Home ever lists a rep's stories. en, es, fr."""

from __future__ import annotations

from datetime import timedelta

from bot.slack import ids
from tests.conftest import ADMIN, MANAGER, REP, REP2, RunningBot
from tests.scenarios.test_home import home_opened
from tests.scenarios.test_report_stories import FR, sbot, seed, share  # noqa: F401
from tests.scenarios.test_stories import at, click_on, stories_in, utc


def home(bot: RunningBot, user: str) -> str:
    """The text of the Home last published for `user`."""
    assert bot.send(home_opened(bot, user)).status == 200
    calls = [c for c in bot.standin.calls_to("views.publish") if c.body.get("user_id") == user]
    view = calls[-1].body["view"]
    assert view["type"] == "home" and len(view["blocks"]) <= 100
    return "\n".join(b["text"]["text"] for b in view["blocks"] if "text" in b)


def test_a_rep_sees_their_own_stories_as_links(sbot: RunningBot) -> None:  # noqa: F811
    seed(sbot)
    text = home(sbot, REP)
    assert sbot.rt.catalog.text("en", "home.stories_header") in text
    [linked] = [line for line in text.splitlines() if "go-live date" in line]
    assert linked.startswith("• <https://") and "Globex, 40% credited" in linked
    assert "Listen more than I talk" in text
    # Never a deleted story, never someone else's.
    assert "A story I took back" not in text
    assert "Hablar del precio" not in text and "Reformuler" not in text


def test_other_people_never_see_a_reps_stories_on_their_home(sbot: RunningBot) -> None:  # noqa: F811
    seed(sbot)
    for user in (REP2, MANAGER, ADMIN, FR):
        text = home(sbot, user)
        assert "go-live date" not in text and "Listen more than I talk" not in text, user
    assert "Hablar del precio" in home(sbot, REP2)
    assert "Reformuler" in home(sbot, FR)


def test_a_manager_sees_how_many_stories_each_rep_shared_lately(sbot: RunningBot) -> None:  # noqa: F811
    seed(sbot)
    text = home(sbot, MANAGER)
    [line] = [line for line in text.splitlines() if f"<@{REP}>" in line]
    # Two stories (the deleted one does not count); only a count, never the lesson.
    assert sbot.rt.catalog.text("en", "home.team_stories", n=2) in line
    assert "go-live" not in text
    # Another story, then 31 days on: only what is within the last 30 days counts.
    share(sbot, REP, "One more")
    assert home(sbot, MANAGER).count(sbot.rt.catalog.text("en", "home.team_stories", n=3)) == 1
    at(sbot, utc(2026, 12, 2, 15) + timedelta(days=31))
    assert sbot.rt.catalog.text("en", "home.team_stories", n=0) in home(sbot, MANAGER)
    # The rep's own list keeps their stories, whatever their age.
    assert "go-live date" in home(sbot, REP)


def test_the_stories_section_in_each_language(sbot: RunningBot) -> None:  # noqa: F811
    seed(sbot)
    catalog = sbot.rt.catalog
    assert catalog.text("es", "home.stories_header") in home(sbot, REP2)
    assert catalog.text("fr", "home.stories_header") in home(sbot, FR)
    assert "Hablar del precio" in home(sbot, REP2) and "Initech, 50 % atribuido" in home(sbot, REP2)


def test_a_rep_with_no_stories_is_shown_how_to_share_one(sbot: RunningBot) -> None:  # noqa: F811
    text = home(sbot, REP)
    assert sbot.rt.catalog.text("en", "home.stories_empty") in text


def test_a_deleted_story_leaves_the_home(sbot: RunningBot) -> None:  # noqa: F811
    seed(sbot)
    click_on(sbot, REP, stories_in(sbot)[0], ids.STORY_DELETE)
    text = home(sbot, REP)
    assert "go-live date" not in text and "Listen more than I talk" in text


def test_without_a_stories_channel_a_rep_with_none_sees_no_stories_section(
    bot: RunningBot,
) -> None:
    text = home(bot, REP)
    assert bot.rt.catalog.text("en", "home.stories_header") not in text
