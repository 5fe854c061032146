"""The CRM webhook's pieces that need no server: the secret command, the settings, the
signature scheme against the verifier the server uses, and the adapters' edge cases."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from pathlib import Path
from typing import Any

import pytest

from bot import cli
from bot.crm.adapters import BadPayload, CrmDeal, Ignored, read
from bot.crm.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from bot.inbound import Refused, verify_signature
from bot.settings import SettingsError, load_settings

FIXTURES = Path(__file__).resolve().parents[1] / "support" / "fixtures" / "crm"


def test_webhook_secret_prints_a_new_random_secret(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["webhook-secret"]) == 0
    first = capsys.readouterr()
    assert cli.main(["webhook-secret"]) == 0
    second = capsys.readouterr().out.strip()
    assert re.fullmatch(r"[0-9a-f]{64}", first.out.strip())
    assert first.out.strip() != second
    assert "CRM_WEBHOOK_SECRET" in first.err
    # What it prints is a secret the settings accept.
    assert load_settings({"CRM_WEBHOOK_SECRET": second}, env_file=None).crm_webhook_secret


def test_settings_refuse_a_short_secret_without_echoing_it() -> None:
    with pytest.raises(SettingsError) as e:
        load_settings({"CRM_WEBHOOK_SECRET": "hunter2"}, env_file=None)
    assert "hunter2" not in str(e.value) and "webhook-secret" in str(e.value)


def test_settings_read_crm_owners() -> None:
    s = load_settings({"CRM_OWNERS": "pipedrive:42=Rita@Acme.com, hubspot:7=s@a.io"}, env_file=None)
    assert s.crm_owners == {("pipedrive", "42"): "rita@acme.com", ("hubspot", "7"): "s@a.io"}
    with pytest.raises(SettingsError, match="CRM_OWNERS"):
        load_settings({"CRM_OWNERS": "42=rita@acme.com"}, env_file=None)


def _headers(signed: dict[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in signed.items()}


def _verify(body: bytes, headers: dict[str, str], now: float) -> None:
    verify_signature(
        "s3cret-s3cret-s3cret",
        body,
        headers,
        now=now,
        timestamp_header=TIMESTAMP_HEADER,
        signature_header=SIGNATURE_HEADER,
    )


def test_signature_is_slacks_v0_scheme_under_our_headers() -> None:
    body = b'{"outcome":"won"}'
    signed = sign("s3cret-s3cret-s3cret", body, 1_700_000_000)
    expected = hmac.new(b"s3cret-s3cret-s3cret", b"v0:1700000000:" + body, hashlib.sha256)
    assert signed["X-Feedback-Loop-Signature"] == "v0=" + expected.hexdigest()
    _verify(body, _headers(signed), now=1_700_000_000 + 300)
    for now in (1_700_000_000 + 301, 1_700_000_000 - 301):
        with pytest.raises(Refused, match="stale"):
            _verify(body, _headers(signed), now=now)
    with pytest.raises(Refused, match="bad signature"):
        _verify(body + b" ", _headers(signed), now=1_700_000_000)


def sample(name: str) -> dict[str, Any]:
    return dict(json.loads((FIXTURES / f"{name}.json").read_text())["payload"])


def test_every_fixture_cites_where_its_shape_comes_from() -> None:
    for path in FIXTURES.glob("*.json"):
        source = json.loads(path.read_text())["source"]
        assert "https://" in source or "README" in source, path.name


def test_hubspot_stage_ids_of_a_custom_pipeline_fall_back_to_the_closed_flags() -> None:
    body = {"hs_object_id": "1", "dealname": "A", "dealstage": "appointmentscheduled"}
    assert isinstance(read(body), Ignored)
    won = read({**body, "dealstage": "1093432", "hs_is_closed_won": "true", "hs_is_closed": "true"})
    assert isinstance(won, CrmDeal) and won.outcome == "won"
    lost = read(
        {**body, "dealstage": "1093433", "hs_is_closed_won": "false", "hs_is_closed": "true"}
    )
    assert isinstance(lost, CrmDeal) and lost.outcome == "lost"
    shelved = read({**body, "dealstage": "closedlost", "closed_lost_reason": "No decision"})
    assert isinstance(shelved, CrmDeal) and shelved.outcome == "no_decision"


def test_salesforce_closed_lost_and_no_decision_stages() -> None:
    opp = sample("salesforce_flow_opportunity")["Opportunity"]
    lost = read({**opp, "StageName": "Closed Lost", "IsWon": False})
    assert isinstance(lost, CrmDeal) and lost.outcome == "lost"
    # Many orgs add a "Closed - No Decision" stage (closed, not won).
    nd = read({**opp, "StageName": "Closed - No Decision", "IsWon": False})
    assert isinstance(nd, CrmDeal) and nd.outcome == "no_decision"


def test_pipedrive_ignores_a_won_deal_whose_other_fields_changed() -> None:
    body = sample("pipedrive_v1_deal_won")
    body["previous"] = {**body["previous"], "status": "won"}
    assert isinstance(read(body), Ignored)


@pytest.mark.parametrize("amount", [True, [1], "1e400", "NaN", "12 apples"])
def test_amounts_that_are_not_numbers_are_refused(amount: Any) -> None:
    with pytest.raises(BadPayload):
        read({**sample("generic"), "amount": amount})


def test_text_fields_are_bounded_and_single_line() -> None:
    got = read({**sample("generic"), "account": "A\n\n" + "b" * 5000})
    assert isinstance(got, CrmDeal) and len(got.account) == 200 and "\n" not in got.account
