"""A debrief's run data is a typed model (storage/debriefs.py): rows stored before it
existed read unchanged, keys other rituals write survive a debrief's write, and what
cannot be right is refused before it is stored."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy.engine import Engine

from bot.slack import ids
from handlers import win_debrief
from handlers.common import RT
from storage import debriefs
from storage.db import create_db_and_tables, make_engine, unit_of_work
from storage.models import Deal, RitualRun
from tests.conftest import REP, RunningBot
from tests.support.debrief_steps import close_deal, runs

NOW = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)
# The shape a loss debrief's data had before the model, as the listeners wrote it key by
# key (deal DM, mode, script, guess, a draft waiting for its loop-back), plus a key of
# another ritual's that the model does not name.
STORED = {
    "dm_channel": "D0REP",
    "dm_ts": "1700000000.000100",
    "mode": "helped",
    "stage": "exchange",
    "script_channel": "D0REP",
    "script_ts": "1700000000.000200",
    "guess": "Price, I think",
    "draft": {"reason": "Budget cut", "missed": "", "takeaways": "Ask earlier"},
    "draft_rev": 2,
    "corrected_from": 7,
}


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    eng = make_engine(db_url)
    create_db_and_tables(eng)
    yield eng
    eng.dispose()


def _loss(engine: Engine, data: dict[str, object]) -> int:
    with unit_of_work(engine) as s:
        deal = Deal(team_id="T1", account="Acme", outcome="lost", rep_slack_id="U0REP")
        s.add(deal)
        s.flush()
        assert deal.id is not None
        s.add(
            RitualRun(
                team_id="T1",
                ritual="loss_debrief",
                user_slack_id="U0REP",
                deal_id=deal.id,
                state="dm_sent",
                data=dict(data),
            )
        )
        return deal.id


def _stored(engine: Engine, deal_id: int) -> tuple[str, dict[str, object]]:
    with unit_of_work(engine, immediate=False) as s:
        run = debriefs.debrief_run(session=s, deal_id=deal_id)
        assert run is not None
        return run.state, dict(run.data)


def test_an_existing_row_reads_as_typed_data(engine: Engine) -> None:
    deal_id = _loss(engine, STORED)
    with unit_of_work(engine, immediate=False) as s:
        state = debriefs.deal_state(session=s, deal_id=deal_id)
    assert state is not None
    data = state.data
    assert (data.guess, data.stage, data.draft_rev, data.mode) == (
        "Price, I think",
        "exchange",
        2,
        "helped",
    )
    assert data.draft == STORED["draft"]
    assert data.client is None and data.shared is None
    assert state.call_data.rep is None  # no manager call asked for


def test_confirming_keeps_the_stored_shape_and_other_rituals_keys(engine: Engine) -> None:
    deal_id = _loss(engine, STORED)
    with unit_of_work(engine) as s:
        done = debriefs.confirm_rep_log(session=s, deal_id=deal_id, rev=2, now=NOW)
    assert done != debriefs.STALE and done is not None
    state, data = _stored(engine, deal_id)
    expected = {k: v for k, v in STORED.items() if k != "draft"}
    assert state == debriefs.LOGGED
    # Exactly the keys that were there, the draft turned into the client's answer: no
    # defaults written out for keys nobody set.
    assert data == {
        **expected,
        "client": STORED["draft"],
        "logged_at": NOW.isoformat(),
        "logged_by": "rep",
    }


def test_an_older_summary_is_stale_and_changes_nothing(engine: Engine) -> None:
    deal_id = _loss(engine, STORED)
    with unit_of_work(engine) as s:
        assert debriefs.confirm_rep_log(session=s, deal_id=deal_id, rev=1, now=NOW) == "stale"
    assert _stored(engine, deal_id) == ("dm_sent", STORED)


def test_a_write_that_cannot_be_right_is_refused_before_it_is_stored(engine: Engine) -> None:
    deal_id = _loss(engine, STORED)
    with pytest.raises(ValidationError):
        with unit_of_work(engine) as s:
            run = debriefs.debrief_run(session=s, deal_id=deal_id)
            assert run is not None
            debriefs.write_debrief(run, NOW, draft_rev="not a number")
    assert _stored(engine, deal_id) == ("dm_sent", STORED)


def test_an_empty_row_gets_only_what_was_written(engine: Engine) -> None:
    deal_id = _loss(engine, {})
    with unit_of_work(engine) as s:
        run = debriefs.debrief_run(session=s, deal_id=deal_id)
        assert run is not None
        assert debriefs.claim_choice(session=s, run_id=run.id, field="mode", value="heard", now=NOW)
        assert not debriefs.claim_choice(
            session=s, run_id=run.id, field="mode", value="heard", now=NOW
        )
    assert _stored(engine, deal_id) == ("dm_sent", {"mode": "heard"})


def test_a_listener_can_be_called_directly_with_its_context(bot: RunningBot) -> None:
    """Listeners are module-level and find the runtime in Bolt's context: a missing
    required answer is refused in the modal, and nothing is stored."""
    close_deal(bot, "won", "Initech", REP)
    [run] = runs(bot, "win_debrief")
    deal_id = run.deal_id
    acked: list[dict[str, Any]] = []

    async def ack(**kwargs: Any) -> None:
        acked.append(kwargs)

    body = {
        "type": "view_submission",
        "user": {"id": REP, "team_id": bot.rt.team_id},
        "view": {
            "callback_id": ids.WIN_LOG_VIEW,
            "private_metadata": json.dumps({ids.META_DEAL: deal_id}),
            "state": {"values": {"why": {ids.FIELD_VALUE: {"value": "  "}}}},
        },
    }
    context = {RT: bot.rt}
    asyncio.run(win_debrief.on_submit(ack, body, bot.rt.client, context))  # type: ignore[arg-type]
    required = bot.rt.catalog.text("en", "errors.required_field")
    assert acked == [
        {"response_action": "errors", "errors": {"appealed": required, "why": required}}
    ]
    [run] = runs(bot, "win_debrief")
    assert "win" not in run.data and run.state != debriefs.LOGGED
