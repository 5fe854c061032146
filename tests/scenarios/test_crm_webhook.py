"""`POST /crm/webhook`: a CRM's signed deal, through the one intake, to one DM.

Every test signs real bytes (bot/crm/signing.py) and posts them over HTTP to the running
server; the payloads are the vendors' documented shapes (tests/support/fixtures/crm/,
each citing its page). Owners are looked up on the Slack stand-in (users.lookupByEmail)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, select

from bot.clock import FakeClock
from bot.crm.signing import sign, team_secret
from bot.devkit.requests import HttpResult, SlackRequest
from bot.devkit.standin import SlackStandIn
from storage.models import Deal, DealSource, IntakeProblem, Nudge
from tests.conftest import ADMIN, DEALS, REP, REP2, BotServer, RunningBot, start_bot

SECRET = "crm-secret-0123456789abcdef0123456789"
FIXTURES = Path(__file__).resolve().parents[1] / "support" / "fixtures" / "crm"
# Pipedrive and HubSpot name the owner by their own id; CRM_OWNERS maps it to an e-mail.
OWNERS = ",".join(
    [
        "pipedrive:13002455=rita@acme.test",
        "pipedrive:13002456=sam@acme.test",
        "hubspot:71234567=rita@acme.test",
    ]
)


def fixture(name: str) -> dict[str, Any]:
    data = json.loads((FIXTURES / f"{name}.json").read_text())
    assert data["source"], "every sample says where its shape comes from"
    return dict(data["payload"])


@pytest.fixture
def crm(
    standin: SlackStandIn,
    clock: FakeClock,
    sqlite_url: str,
    sqlite_template: Path,
    bot_server: BotServer,
) -> Iterator[RunningBot]:
    import shutil

    shutil.copyfile(sqlite_template, sqlite_url.removeprefix("sqlite:///"))
    env = {"CRM_WEBHOOK_SECRET": SECRET, "CRM_OWNERS": OWNERS}
    running, stop = start_bot(standin, clock, sqlite_url, extra_env=env, server=bot_server)
    yield running
    stop()


def send(
    bot: RunningBot,
    payload: Any,
    *,
    secret: str = SECRET,
    timestamp: int | None = None,
    raw: bytes | None = None,
    headers: dict[str, str] | None = None,
    dispatch: bool = True,
) -> HttpResult:
    """Sign and post; then, unless `dispatch=False`, run the dispatcher once, as the
    server's own does when the webhook wakes it (the tests' servers run none)."""
    body = raw if raw is not None else json.dumps(payload).encode()
    signed = {"Content-Type": "application/json", **sign(secret, body, timestamp)}
    result = SlackRequest(body=body, headers=headers if headers is not None else signed).post(
        bot.url + "/crm/webhook"
    )
    bot.idle()
    if dispatch:
        bot.tick()
    return result


def rows(bot: RunningBot, model: Any) -> list[Any]:
    with Session(bot.rt.engine) as s:
        return list(s.exec(select(model)).all())


def deal_dms(bot: RunningBot, user: str) -> list[dict[str, Any]]:
    channel = bot.standin.dm_channel(user)
    return [
        c.body
        for c in bot.standin.calls_to("chat.postMessage")
        if c.response.get("ok") and c.body.get("channel") in {user, channel}
    ]


# --- each CRM's documented sample: one DM to the right rep ---------------------------------

SAMPLES = [
    ("generic", REP, "lost", "Hooli", "close:lead_7HkqZ2:lost"),
    ("pipedrive_v1_deal_won", REP, "won", "Globex Corporation", "pipedrive:1187:won"),
    (
        "pipedrive_v2_deal_lost_no_decision",
        REP2,
        "no_decision",
        "Initech",
        "pipedrive:2044:no_decision",
    ),
    ("hubspot_workflow_deal_record", REP, "lost", "Umbrella Corp", "hubspot:9133841077:lost"),
    ("hubspot_workflow_custom_body", REP2, "won", "Soylent Inc.", "hubspot:9133841090:won"),
    (
        "salesforce_flow_opportunity",
        REP,
        "won",
        "Stark Industries",
        "salesforce:0065g00000AbCdEAAV:won",
    ),
]


@pytest.mark.parametrize(("name", "rep", "outcome", "account", "key"), SAMPLES)
def test_each_crm_sample_is_one_deal_and_one_dm_to_its_owner(
    crm: RunningBot, name: str, rep: str, outcome: str, account: str, key: str
) -> None:
    result = send(crm, fixture(name))
    assert result.status == 200, result.body
    answer = result.json()
    assert answer["ok"] is True and answer["status"] == "new"
    assert answer["rep"] == rep and answer["outcome"] == outcome and answer["dm"] == "queued"
    [deal] = rows(crm, Deal)
    assert (deal.account, deal.outcome, deal.rep_slack_id) == (account, outcome, rep)
    assert deal.source == "webhook" and deal.external_id == key
    assert answer["deal_id"] == deal.id
    # The DM went through the nudge table like every other.
    [nudge] = [n for n in rows(crm, Nudge) if n.kind == "deal_dm"]
    assert nudge.state == "sent" and nudge.user_slack_id == rep
    assert len(deal_dms(crm, rep)) == 1
    other = REP2 if rep == REP else REP
    assert deal_dms(crm, other) == []


def test_amounts_and_currencies_are_read_from_each_format(crm: RunningBot) -> None:
    send(crm, fixture("pipedrive_v2_deal_lost_no_decision"))
    send(crm, fixture("hubspot_workflow_custom_body"))
    send(crm, fixture("salesforce_flow_opportunity"))
    found = {d.account: (str(d.amount), d.currency) for d in rows(crm, Deal)}
    assert found == {
        "Initech": ("15500.50", "EUR"),
        "Soylent Inc.": ("1250.00", "GBP"),
        "Stark Industries": ("250000.00", "USD"),
    }


# --- retries and other announcements of the same deal ---------------------------------------


def test_a_retried_webhook_sends_no_second_dm(crm: RunningBot) -> None:
    payload = fixture("salesforce_flow_opportunity")
    first = send(crm, payload).json()
    # The CRM did not see the answer and sends the same record again, newly signed.
    again = send(crm, payload, timestamp=int(time.time()) + 1).json()
    assert first["status"] == "new" and again["status"] == "duplicate"
    assert again["deal_id"] == first["deal_id"] and again["dm"] == "none"
    assert len(rows(crm, Deal)) == 1
    assert len(deal_dms(crm, REP)) == 1


def test_a_pipedrive_retry_with_its_retry_counter_is_still_one_deal(crm: RunningBot) -> None:
    payload = fixture("pipedrive_v1_deal_won")
    send(crm, payload)
    send(crm, {**payload, "retry": 1})
    assert len(rows(crm, Deal)) == 1 and len(deal_dms(crm, REP)) == 1


def test_the_reps_own_channel_post_after_the_webhook_is_the_same_deal(crm: RunningBot) -> None:
    send(crm, fixture("salesforce_flow_opportunity"))
    event = crm.slack.message_event(f"Closed won: Stark Industries <@{REP}>", channel=DEALS)
    crm.send(crm.slack.event_request(event))
    assert len(rows(crm, Deal)) == 1
    assert [s.duplicate for s in rows(crm, DealSource)] == [False, True]
    assert len(deal_dms(crm, REP)) == 1


def test_another_outcome_for_the_same_record_is_another_deal(crm: RunningBot) -> None:
    lost = fixture("generic")
    send(crm, lost)
    send(crm, {**lost, "outcome": "won"})
    assert sorted(d.outcome for d in rows(crm, Deal)) == ["lost", "won"]


# --- refused: nothing stored ---------------------------------------------------------------


def _nothing_stored(bot: RunningBot) -> None:
    assert rows(bot, Deal) == [] and rows(bot, Nudge) == [] and rows(bot, IntakeProblem) == []
    assert bot.standin.calls_to("users.lookupByEmail") == []
    assert bot.standin.calls_to("chat.postMessage") == []


@pytest.mark.parametrize(
    "how",
    ["wrong secret", "stale", "future", "no headers", "tampered body", "bad header"],
)
def test_a_bad_or_stale_signature_is_401_and_nothing_is_stored(crm: RunningBot, how: str) -> None:
    payload = fixture("generic")
    body = json.dumps(payload).encode()
    now = int(time.time())
    if how == "wrong secret":
        result = send(crm, payload, secret="not-the-secret-at-all-0000")
    elif how == "stale":
        result = send(crm, payload, timestamp=now - 301)
    elif how == "future":
        result = send(crm, payload, timestamp=now + 301)
    elif how == "no headers":
        result = send(crm, payload, headers={"Content-Type": "application/json"})
    elif how == "tampered body":
        headers = {"Content-Type": "application/json", **sign(SECRET, body)}
        result = send(crm, None, raw=body.replace(b"lost", b"won!"), headers=headers)
    else:
        headers = {**sign(SECRET, body), "X-Feedback-Loop-Signature": "sha256=abc"}
        result = send(crm, None, raw=body, headers=headers)
    assert result.status == 401
    assert result.json()["ok"] is False
    _nothing_stored(crm)


def test_a_signature_just_inside_five_minutes_is_accepted(crm: RunningBot) -> None:
    assert send(crm, fixture("generic"), timestamp=int(time.time()) - 290).status == 200


def test_a_slack_signature_is_not_a_crm_signature(crm: RunningBot) -> None:
    """The Slack signing secret does not open the CRM door, nor the other way round."""
    body = json.dumps(fixture("generic")).encode()
    slack_signed = crm.slack.sign(body, content_type="application/json")
    assert send(crm, None, raw=body, headers=slack_signed).status == 401
    _nothing_stored(crm)


def test_a_workspace_url_is_for_many_workspaces_only(crm: RunningBot) -> None:
    """With one workspace the URL is /crm/webhook; a workspace's own URL (OAuth mode's)
    answers 404 saying which to use, even signed with a derived secret."""
    body = json.dumps(fixture("generic")).encode()
    signed = {"Content-Type": "application/json", **sign(team_secret(SECRET, "T0001"), body)}
    result = SlackRequest(body=body, headers=signed).post(crm.url + "/crm/webhook/T0001")
    assert result.status == 404
    assert result.json()["error"] == "post CRM webhooks to /crm/webhook"
    _nothing_stored(crm)


def test_without_a_secret_configured_everything_is_refused(bot: RunningBot) -> None:
    result = send(bot, fixture("generic"))
    assert result.status == 401
    _nothing_stored(bot)


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", b"", b'"lost"', b"\xff\xfe{}"])
def test_malformed_json_is_400_and_nothing_is_stored(crm: RunningBot, raw: bytes) -> None:
    headers = {"Content-Type": "application/json", **sign(SECRET, raw)}
    result = send(crm, None, raw=raw, headers=headers)
    assert result.status == 400, result.body
    _nothing_stored(crm)


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"outcome": "maybe"}, "outcome must be won, lost or no_decision"),
        ({"account": "  "}, "account"),
        ({"owner_email": None}, "owner_email or owner_slack_id is required"),
        ({"owner_email": "rita at acme"}, "not an e-mail"),
        ({"record_id": None}, "record id is missing"),
        ({"amount": "lots"}, "amount must be a number"),
        ({"currency": "dollars"}, "three-letter code"),
    ],
)
def test_a_payload_that_cannot_be_a_deal_says_what_to_send(
    crm: RunningBot, change: dict[str, Any], words: str
) -> None:
    result = send(crm, {**fixture("generic"), **change})
    assert result.status == 422
    assert words in result.json()["error"]
    assert rows(crm, Deal) == [] and rows(crm, Nudge) == []


def test_an_unknown_format_is_named(crm: RunningBot) -> None:
    result = send(crm, {"hello": "world"})
    assert result.status == 422 and "generic JSON" in result.json()["error"]


def test_a_deal_that_is_not_closed_is_answered_and_ignored(crm: RunningBot) -> None:
    payload = fixture("pipedrive_v1_deal_won")
    payload["current"] = {**payload["current"], "status": "open"}
    result = send(crm, payload)
    assert result.status == 200
    assert result.json() == {
        "ok": True,
        "status": "ignored",
        "crm": "pipedrive",
        "reason": "the deal's status is open, not won or lost",
    }
    open_opp = fixture("salesforce_flow_opportunity")
    open_opp["Opportunity"].update(StageName="Negotiation/Review", IsClosed=False, IsWon=False)
    assert send(crm, open_opp).json()["status"] == "ignored"
    assert rows(crm, Deal) == []


# --- the owner --------------------------------------------------------------------------------


def test_an_unknown_owner_is_an_error_for_the_sender_and_for_the_admins(crm: RunningBot) -> None:
    payload = {**fixture("generic"), "owner_email": "nobody@acme.test"}
    result = send(crm, payload)
    assert result.status == 422
    error = result.json()["error"]
    assert "nobody@acme.test" in error and "no Slack user" in error
    assert rows(crm, Deal) == [] and rows(crm, Nudge) == []
    # A retry is the same problem, counted, not a second line.
    send(crm, payload)
    [problem] = rows(crm, IntakeProblem)
    assert problem.count == 2 and problem.key == "close:lead_7HkqZ2"

    # The admins see it in App Home; a rep does not.
    crm.send(crm.slack.event_request(crm.slack.envelope(_home_event(ADMIN))))
    crm.send(crm.slack.event_request(crm.slack.envelope(_home_event(REP))))
    published = {
        c.body["user_id"]: json.dumps(c.body["view"]) for c in crm.standin.calls_to("views.publish")
    }
    assert (
        "nobody@acme.test" in published[ADMIN] and "Deals that reached no rep" in published[ADMIN]
    )
    assert "nobody@acme.test" not in published[REP]

    # Once the owner is fixed in the CRM, the record comes in and the line goes.
    assert send(crm, fixture("generic")).json()["status"] == "new"
    assert rows(crm, IntakeProblem) == []


def test_an_owner_known_only_by_crm_id_without_a_mapping_says_how_to_map_it(
    crm: RunningBot,
) -> None:
    payload = fixture("pipedrive_v1_deal_won")
    payload["current"] = {**payload["current"], "user_id": 999}
    error = send(crm, payload).json()["error"]
    assert "CRM_OWNERS" in error and "pipedrive:999=" in error


def test_owner_by_slack_id_and_a_bot_or_unknown_id_is_refused(crm: RunningBot) -> None:
    base = {**fixture("generic"), "owner_email": None}
    assert send(crm, {**base, "owner_slack_id": REP2}).json()["rep"] == REP2
    unknown = send(crm, {**base, "record_id": "x2", "owner_slack_id": "U0NOBODY"})
    assert unknown.status == 422 and "U0NOBODY" in unknown.json()["error"]


def test_slack_failing_on_the_lookup_is_a_503_the_crm_retries(crm: RunningBot) -> None:
    crm.standin.fail_next("users.lookupByEmail", status=500, times=5)
    result = send(crm, fixture("generic"))
    assert result.status == 503 and result.json()["retry"] is True
    assert rows(crm, Deal) == [] and rows(crm, IntakeProblem) == []
    crm.standin.clear_faults()
    assert send(crm, fixture("generic")).json()["status"] == "new"
    assert len(deal_dms(crm, REP)) == 1


def test_owner_lookups_are_remembered(crm: RunningBot) -> None:
    payload = fixture("generic")
    for n in range(3):
        send(crm, {**payload, "record_id": f"r{n}", "account": f"Account {n}"})
    assert len(crm.standin.calls_to("users.lookupByEmail")) == 1


def _home_event(user: str) -> dict[str, Any]:
    return {"type": "app_home_opened", "user": user, "channel": "D0HOME", "tab": "home"}


def test_a_slow_slack_still_gets_the_crm_an_answer_within_3_seconds(crm: RunningBot) -> None:
    crm.standin.set_delay("users.lookupByEmail", 4.0)
    started = time.monotonic()
    result = send(crm, fixture("generic"))
    assert time.monotonic() - started < 3.0
    assert result.status == 503 and result.json()["retry"] is True
    crm.standin.set_delay("users.lookupByEmail", None)


def test_a_retry_racing_the_first_delivery_is_still_one_dm(crm: RunningBot) -> None:
    """Pipedrive and HubSpot retry on a timeout, so the second copy can arrive while the
    first is still being taken in."""
    from concurrent.futures import ThreadPoolExecutor

    payload = fixture("hubspot_workflow_custom_body")
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: send(crm, payload), range(4)))
    assert all(r.status == 200 for r in results)
    assert sorted(r.json()["status"] for r in results) == ["duplicate"] * 3 + ["new"]
    assert len(rows(crm, Deal)) == 1 and len(deal_dms(crm, REP2)) == 1


# --- the answer comes before the DM; the DM is the dispatcher's ------------------------------


def test_the_answer_comes_before_the_dm_and_the_dispatcher_sends_it_once(
    crm: RunningBot,
) -> None:
    payload = fixture("salesforce_flow_opportunity")
    first = send(crm, payload, dispatch=False)
    assert first.status == 200 and first.json()["dm"] == "queued"
    # Answered with the deal, its DM and its reminder committed, and nothing sent yet.
    [deal] = rows(crm, Deal)
    assert sorted((n.kind, n.state) for n in rows(crm, Nudge)) == [
        ("deal_dm", "pending"),
        ("debrief_reminder", "pending"),
    ]
    assert deal_dms(crm, REP) == [] and crm.standin.calls_to("chat.postMessage") == []
    # The CRM retries before the DM went out: still one deal, one nudge.
    again = send(crm, payload, timestamp=int(time.time()) + 1, dispatch=False).json()
    assert again["status"] == "duplicate" and again["deal_id"] == deal.id
    assert len([n for n in rows(crm, Nudge) if n.kind == "deal_dm"]) == 1
    crm.tick()
    crm.tick()
    assert len(deal_dms(crm, REP)) == 1
    [nudge] = [n for n in rows(crm, Nudge) if n.kind == "deal_dm"]
    assert nudge.state == "sent"


def test_a_server_gone_after_the_answer_loses_no_deal_and_sends_no_second_dm(
    standin: SlackStandIn,
    clock: FakeClock,
    sqlite_url: str,
    sqlite_template: Path,
    bot_server: BotServer,
) -> None:
    """Between the answer and the DM the server dies: what the CRM was told is in the
    database, so the next server's dispatcher sends the DM, once, and the CRM's retry
    finds the deal."""
    import shutil

    shutil.copyfile(sqlite_template, sqlite_url.removeprefix("sqlite:///"))
    env = {"CRM_WEBHOOK_SECRET": SECRET, "CRM_OWNERS": OWNERS}
    first, stop = start_bot(standin, clock, sqlite_url, extra_env=env, server=bot_server)
    try:
        answer = send(first, fixture("hubspot_workflow_custom_body"), dispatch=False).json()
    finally:
        stop()  # gone before any dispatcher ran
    assert answer["status"] == "new" and standin.calls_to("chat.postMessage") == []

    second, stop = start_bot(standin, clock, sqlite_url, extra_env=env, server=bot_server)
    try:
        retry = send(second, fixture("hubspot_workflow_custom_body")).json()
        assert retry["status"] == "duplicate" and retry["deal_id"] == answer["deal_id"]
        second.tick()
        assert len(deal_dms(second, REP2)) == 1
        assert len(rows(second, Deal)) == 1
    finally:
        stop()


def test_a_burst_of_records_is_one_transaction_each_and_every_dm_goes_out(
    crm: RunningBot,
) -> None:
    """Many records at once (a CRM catching up): each answered with its own deal, the
    owner looked up once, and the dispatcher sends each DM once."""
    from concurrent.futures import ThreadPoolExecutor

    base = fixture("generic")

    def one(n: int) -> HttpResult:
        return send(
            crm, {**base, "record_id": f"burst-{n}", "account": f"Burst {n}"}, dispatch=False
        )

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(one, range(24)))
    assert all(r.status == 200 and r.json()["status"] == "new" for r in results)
    assert len({r.json()["deal_id"] for r in results}) == 24
    crm.tick()
    # (Beside them, the rep's loss streak earned one offer of a manager's call.)
    burst = [m for m in deal_dms(crm, REP) if str(m.get("text")).startswith("Burst")]
    assert sorted(str(m["text"]).split(" was")[0] for m in burst) == sorted(
        f"Burst {n}" for n in range(24)
    )
    # One owner, so one look-up: the others waited for it rather than asking again.
    assert len(crm.standin.calls_to("users.lookupByEmail")) == 1


def test_deliveries_taken_in_together_do_not_fail_each_other(crm: RunningBot) -> None:
    """Deliveries that arrive while a transaction runs share the next one; if that one
    fails, each is taken in alone, so only the bad one fails and the others are deals."""
    import asyncio

    from handlers.deal_intake import intake_queue
    from storage.deals import NewDeal

    def new(account: str, outcome: str) -> NewDeal:
        return NewDeal(
            team_id=crm.rt.team_id or "",
            account=account,
            outcome=outcome,
            rep_slack_id=REP,
            source="webhook",
            reported_by="crm:test",
            external_id=f"test:{account}:{outcome}",
        )

    async def together() -> list[Any]:
        queue = intake_queue(crm.rt)
        return await asyncio.gather(
            queue.take_in(new("Globex", "won")),
            queue.take_in(new("Hooli", "won")),
            queue.take_in(new("Initech", "postponed")),  # no such outcome: it fails
            queue.take_in(new("Globex", "won")),  # the first one again
            return_exceptions=True,
        )

    globex, hooli, bad, again = crm.run(together())
    assert isinstance(bad, KeyError)
    assert (globex.status, hooli.status, again.status) == ("new", "new", "repeat")
    assert again.deal_id == globex.deal_id
    assert sorted(d.account for d in rows(crm, Deal)) == ["Globex", "Hooli"]
    crm.idle()
