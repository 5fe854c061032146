"""What a CRM's webhook says, read into one shape: `CrmDeal`.

Four formats, told apart by their fields (no configuration per CRM):

- **generic** (ours, documented in the README): `outcome`, `account`, `owner_email` or
  `owner_slack_id`, `amount`, `currency`, `record_id`, `record_url`, `crm`.
- **Pipedrive** webhooks, v1 (`meta` + `current` / `previous`) and v2 (`meta` + `data` /
  `previous`) for a deal: `status` won / lost, `lost_reason`, `title`, `org_name`, `value`,
  `currency`, the owner (`user_id` / `owner_id`).
- **HubSpot** workflow "Send a webhook" for a deal: either the whole record
  (`objectId`, `properties.<name>.value`) or a body of chosen properties (flat); reads
  `dealname`, `dealstage` (`closedwon` / `closedlost`), `hs_is_closed_won`, `hs_is_closed`,
  `closed_lost_reason`, `amount`, `deal_currency_code`, `hubspot_owner_id`, and an owner
  e-mail property when the workflow adds one.
- **Salesforce** Flow HTTP callout with the Opportunity record (as the REST API writes an
  sObject, bare or under `Opportunity`): `Name`, `StageName`, `IsWon`, `IsClosed`, `Amount`,
  `CurrencyIsoCode`, `Owner.Email`, `Id`, `Account.Name`.

A payload about a deal that is not closed (Pipedrive sends every update, a HubSpot
workflow may fire on any stage) is `Ignored`, with why; a payload that cannot be a deal
raises `BadPayload` with a message for whoever wires the CRM. Pure: no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

OUTCOMES = ("won", "lost", "no_decision")
CRMS = ("generic", "pipedrive", "hubspot", "salesforce")
_NO_DECISION = re.compile(r"no[\s_-]*decision|sin[\s_-]*decisi[oó]n|sans[\s_-]*d[ée]cision", re.I)
_OUTCOME_WORDS = {
    "won": "won",
    "closed won": "won",
    "closedwon": "won",
    "lost": "lost",
    "closed lost": "lost",
    "closedlost": "lost",
    "no decision": "no_decision",
}
_EMAIL = re.compile(r"[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+")
_SLACK_USER = re.compile(r"[UW][A-Z0-9]{2,39}")
_CURRENCY = re.compile(r"[A-Za-z]{3}")
_MAX_TEXT = 200


class BadPayload(ValueError):
    """The payload cannot be a deal; the message says what to send instead."""


@dataclass(frozen=True)
class Ignored:
    """A payload about a deal that is not closed: nothing to do, and that is fine."""

    crm: str
    reason: str


@dataclass(frozen=True)
class CrmDeal:
    crm: str
    record_id: str
    outcome: str
    account: str
    owner_email: str | None = None
    owner_slack_id: str | None = None
    # The CRM's own id for the owner, when it sent no e-mail (mapped by CRM_OWNERS).
    owner_ref: str | None = None
    amount: Decimal | None = None
    currency: str | None = None
    record_url: str | None = None

    @property
    def key(self) -> str:
        """The idempotency key (crm, record_id, outcome): a retried webhook is one deal."""
        return f"{self.crm}:{self.record_id}:{self.outcome}"


def read(payload: dict[str, Any]) -> CrmDeal | Ignored:
    """The deal a webhook payload announces; raises BadPayload."""
    if "outcome" in payload:
        return _generic(payload)
    meta = payload.get("meta")
    if isinstance(meta, dict) and "deal" in (meta.get("object"), meta.get("entity")):
        return _pipedrive(payload, meta)
    if "objectId" in payload or "dealId" in payload or "dealstage" in _hubspot_props(payload):
        return _hubspot(payload)
    opportunity = _opportunity(payload)
    if opportunity is not None:
        return _salesforce(opportunity)
    raise BadPayload(
        "not a payload this webhook reads: send the generic JSON (outcome, account, "
        "owner_email or owner_slack_id, record_id, crm; see the README), a Pipedrive deal "
        "webhook, a HubSpot deal workflow webhook or a Salesforce Opportunity"
    )


# --- small readers ------------------------------------------------------------------------


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, dict | list | bool):
        return None
    text = " ".join(str(value).split())
    return text[:_MAX_TEXT] or None


def _amount(value: Any, what: str) -> Decimal | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise BadPayload(f"{what} must be a number, got {value!r}")
    try:
        amount = Decimal(str(value).replace(",", "").strip())
    except InvalidOperation:
        raise BadPayload(f"{what} must be a number, got {str(value)[:40]!r}") from None
    if not amount.is_finite() or abs(amount) >= Decimal(10) ** 14:
        raise BadPayload(f"{what} is out of range: {str(value)[:40]!r}")
    return amount.quantize(Decimal("0.01"))


def _currency(value: Any) -> str | None:
    text = _text(value)
    if text is None:
        return None
    if not _CURRENCY.fullmatch(text):
        raise BadPayload(f"currency must be a three-letter code such as USD, got {text[:40]!r}")
    return text.upper()


def _email(value: Any, what: str) -> str | None:
    text = _text(value)
    if text is None:
        return None
    if not _EMAIL.fullmatch(text):
        raise BadPayload(f"{what} is not an e-mail address: {text[:60]!r}")
    return text.lower()


def _record_id(value: Any, crm: str) -> str:
    text = _text(value)
    if text is None:
        raise BadPayload(
            f"{crm}: the record id is missing; it is how a retried webhook is recognised"
        )
    return text[:100]


def _url(value: Any) -> str | None:
    text = _text(value)
    return text if text and text.startswith(("https://", "http://")) else None


def _is_true(value: Any) -> bool:
    if isinstance(value, dict):
        value = value.get("value")
    return value is True or str(value).strip().lower() == "true"


def _need_account(account: str | None, crm: str, field: str) -> str:
    if not account:
        raise BadPayload(f"{crm}: the account name ({field}) is missing")
    return account


# --- generic ------------------------------------------------------------------------------


def read_outcome(value: Any) -> str:
    text = (_text(value) or "").lower().replace("-", " ").replace("_", " ")
    outcome = _OUTCOME_WORDS.get(" ".join(text.split()))
    if outcome is None:
        raise BadPayload(f"outcome must be won, lost or no_decision, got {str(value)[:40]!r}")
    return outcome


def _generic(p: dict[str, Any]) -> CrmDeal:
    outcome = read_outcome(p.get("outcome"))
    account = _need_account(_text(p.get("account")), "generic", "account")
    owner_slack_id = _text(p.get("owner_slack_id"))
    if owner_slack_id and not _SLACK_USER.fullmatch(owner_slack_id):
        raise BadPayload(f"owner_slack_id is not a Slack user id: {owner_slack_id[:40]!r}")
    owner_email = _email(p.get("owner_email"), "owner_email")
    if not (owner_slack_id or owner_email):
        raise BadPayload("owner_email or owner_slack_id is required: it names the rep to DM")
    crm = (_text(p.get("crm")) or "generic").lower()[:40]
    return CrmDeal(
        crm=crm,
        record_id=_record_id(p.get("record_id"), "generic"),
        outcome=outcome,
        account=account,
        owner_email=owner_email,
        owner_slack_id=owner_slack_id,
        amount=_amount(p.get("amount"), "amount"),
        currency=_currency(p.get("currency")),
        record_url=_url(p.get("record_url")),
    )


# --- Pipedrive ----------------------------------------------------------------------------


def _pipedrive_owner(deal: dict[str, Any]) -> tuple[str | None, str | None]:
    """(e-mail, Pipedrive user id). v1 webhooks send `user_id` as a number; the API's
    deal object (and some webhook versions) expand it to {id, name, email}."""
    owner = deal.get("user_id", deal.get("owner_id"))
    if isinstance(owner, dict):
        return _email(owner.get("email"), "Pipedrive owner e-mail"), _text(owner.get("id"))
    return None, _text(owner)


def _pipedrive(p: dict[str, Any], meta: dict[str, Any]) -> CrmDeal | Ignored:
    deal = p.get("current") if isinstance(p.get("current"), dict) else p.get("data")
    if not isinstance(deal, dict):
        if str(meta.get("action", "")).startswith(("deleted", "delete")):
            return Ignored("pipedrive", "a deleted deal")
        raise BadPayload("pipedrive: the deal (current / data) is missing")
    status = (_text(deal.get("status")) or "").lower()
    if status not in ("won", "lost"):
        return Ignored("pipedrive", f"the deal's status is {status or 'empty'}, not won or lost")
    previous = p.get("previous")
    if isinstance(previous, dict) and previous.get("status") == status:
        return Ignored("pipedrive", f"the deal was {status} already (another field changed)")
    reason = _text(deal.get("lost_reason")) or ""
    outcome = "no_decision" if status == "lost" and _NO_DECISION.search(reason) else status
    email, ref = _pipedrive_owner(deal)
    host = _text(meta.get("host"))
    record_id = _record_id(deal.get("id", meta.get("id", meta.get("entity_id"))), "pipedrive")
    return CrmDeal(
        crm="pipedrive",
        record_id=record_id,
        outcome=outcome,
        account=_need_account(
            _text(deal.get("org_name")) or _text(deal.get("title")), "pipedrive", "org_name/title"
        ),
        owner_email=email,
        owner_ref=ref,
        amount=_amount(deal.get("value"), "value"),
        currency=_currency(deal.get("currency")),
        record_url=f"https://{host}/deal/{record_id}" if host else None,
    )


# --- HubSpot ------------------------------------------------------------------------------


def _hubspot_props(p: dict[str, Any]) -> dict[str, Any]:
    """The deal's properties, flat: {name: value}. The whole-record body nests each one
    as {"value": ..., "timestamp": ..., "versions": [...]}; a chosen-properties body is flat."""
    nested = p.get("properties")
    props: dict[str, Any] = nested if isinstance(nested, dict) else p
    return {k: (v.get("value") if isinstance(v, dict) else v) for k, v in props.items()}


def _hubspot_outcome(props: dict[str, Any]) -> str | None:
    stage = (_text(props.get("dealstage")) or "").lower()
    reason = _text(props.get("closed_lost_reason")) or ""
    if stage == "closedwon" or _is_true(props.get("hs_is_closed_won")):
        return "won"
    if stage == "closedlost" or (
        _is_true(props.get("hs_is_closed")) and "hs_is_closed_won" in props
    ):
        return "no_decision" if _NO_DECISION.search(reason) else "lost"
    return None


def _hubspot(p: dict[str, Any]) -> CrmDeal | Ignored:
    props = _hubspot_props(p)
    outcome = _hubspot_outcome(props)
    if outcome is None:
        stage = _text(props.get("dealstage")) or "unknown"
        return Ignored("hubspot", f"the deal stage is {stage}, not closed won or closed lost")
    email = None
    for key in ("owner_email", "hubspot_owner_email", "deal_owner_email"):
        email = email or _email(props.get(key) or p.get(key), f"HubSpot {key}")
    return CrmDeal(
        crm="hubspot",
        record_id=_record_id(
            p.get("objectId") or p.get("dealId") or props.get("hs_object_id"), "hubspot"
        ),
        outcome=outcome,
        account=_need_account(_text(props.get("dealname")), "hubspot", "dealname"),
        owner_email=email,
        owner_ref=_text(props.get("hubspot_owner_id")),
        amount=_amount(props.get("amount"), "amount"),
        currency=_currency(props.get("deal_currency_code")),
        record_url=_url(props.get("record_url") or p.get("record_url")),
    )


# --- Salesforce ---------------------------------------------------------------------------


def _opportunity(p: dict[str, Any]) -> dict[str, Any] | None:
    for key in ("Opportunity", "opportunity", "record"):
        inner = p.get(key)
        if isinstance(inner, dict) and ("StageName" in inner or "IsClosed" in inner):
            return inner
    attributes = p.get("attributes")
    if "StageName" in p or (
        isinstance(attributes, dict) and attributes.get("type") == "Opportunity"
    ):
        return p
    return None


def _salesforce(o: dict[str, Any]) -> CrmDeal | Ignored:
    stage = _text(o.get("StageName")) or ""
    closed = _is_true(o.get("IsClosed")) if "IsClosed" in o else stage.lower().startswith("closed")
    if not closed:
        return Ignored("salesforce", f"the opportunity's stage is {stage or 'empty'}, not closed")
    won = _is_true(o.get("IsWon")) if "IsWon" in o else stage.lower() == "closed won"
    reason = " ".join(_text(o.get(k)) or "" for k in ("StageName", "Loss_Reason__c"))
    outcome = "won" if won else ("no_decision" if _NO_DECISION.search(reason) else "lost")
    owner: dict[str, Any] = o["Owner"] if isinstance(o.get("Owner"), dict) else {}
    account: dict[str, Any] = o["Account"] if isinstance(o.get("Account"), dict) else {}
    return CrmDeal(
        crm="salesforce",
        record_id=_record_id(o.get("Id"), "salesforce"),
        outcome=outcome,
        account=_need_account(
            _text(account.get("Name")) or _text(o.get("Name")), "salesforce", "Name"
        ),
        owner_email=_email(owner.get("Email") or o.get("OwnerEmail"), "Salesforce Owner.Email"),
        owner_ref=_text(o.get("OwnerId")),
        amount=_amount(o.get("Amount"), "Amount"),
        currency=_currency(o.get("CurrencyIsoCode")),
        record_url=_url(o.get("record_url") or o.get("Link")),
    )
