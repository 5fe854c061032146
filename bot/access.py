"""Who sees what, and who may act on what: the one policy the guard, `/loop prep`, App
Home and the role checks all read. Pure: the rows it judges are looked up by
storage/access.py, and the README's "Who sees what" table says the same in words.

Every button and modal the app registers names here the row it acts on (a deal, a
concern, a screen-out, a tee-up ask, or only the clicker's own things) and who may act
on it. A listener added without a rule is caught by tests/scenarios/test_privacy.py."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from bot.slack import ids

# The shapes storage/access.py answers in, and the debrief reading rule its query applies:
# defined there so storage imports nothing above it, and part of this policy all the same.
from storage.access import Kind as Kind
from storage.access import Owners as Owners
from storage.access import may_read_debrief as may_read_debrief

# Who may act: the row's owner (the deal's rep), the manager the rep handed a call to,
# either one as the button's step says ("<id>:manager:<rev>"), an admin, or the owner or
# an admin (correcting a deal: an admin fixes what a CRM got wrong).
Who = Literal["owner", "call_manager", "by_step", "admin", "owner_or_admin"]

# The largest id the tables hold (PostgreSQL `integer`): a longer one cannot be a row,
# and handing it to the database would fail the request instead of answering.
MAX_ID = 2**31 - 1


@dataclass(frozen=True)
class Rule:
    kind: Kind
    who: Who = "owner"
    # For modals: the private_metadata key holding the id (absent = the person's own).
    meta_key: str = ""


DEAL = Rule("deal")
ACTIONS: dict[str, Rule] = {
    # The deal DM, the loss script and the guess.
    "loss_mode_heard": DEAL,
    "loss_mode_helped": DEAL,
    "loss_mode_hugged": DEAL,
    "debrief_start": DEAL,
    "debrief_next": DEAL,
    "guess_open": DEAL,
    "loss_log_open": DEAL,
    "loss_tell_manager": DEAL,
    "win_log_open": DEAL,
    ids.CONCERN_OPEN: DEAL,
    "privacy_share": DEAL,
    # Asking the manager (or a trusted colleague) to call: the rep's decision, never a
    # teammate's.
    "manager_call_request": DEAL,
    ids.CALL_PICK_OPEN: DEAL,
    "streak_yes": DEAL,
    "streak_no": DEAL,
    # The person who was asked (the manager, or the colleague the rep picked) logs or
    # declines the call; nobody else, whatever user id a request claims.
    "manager_log_open": Rule("deal", "call_manager"),
    "manager_decline": Rule("deal", "call_manager"),
    # The loop-back summary: the rep's or the manager's, as its step says.
    "log_edit": Rule("deal", "by_step"),
    "log_confirm": Rule("deal", "by_step"),
    # Concern check-ins and the open-loops list.
    ids.CONCERN_SATISFIED: Rule("concern"),
    ids.CONCERN_NOT_YET: Rule("concern"),
    ids.CONCERN_DIDNT_ASK: Rule("concern"),
    ids.CONCERN_DROP: Rule("concern"),
    ids.CONCERN_LIST_CLOSE: Rule("concern"),
    ids.CONCERN_LIST_DROP: Rule("concern"),
    "screen_out_review_now": Rule("screen_out"),
    "teeup_agreed": Rule("nudge"),
    "teeup_not_asked": Rule("nudge"),
    "teeup_declined": Rule("nudge"),
    # "You planned to … Done?": the rep's own follow-up nudge.
    ids.FOLLOWUP_DONE: Rule("nudge"),
    ids.FOLLOWUP_STILL: Rule("nudge"),
    ids.FOLLOWUP_DROP: Rule("nudge"),
    # Only ever about the person clicking: their own reflection, their own data.
    ids.REFLECT_OPEN: Rule("self"),
    ids.REFLECT_SKIP: Rule("self"),
    "forget_me_confirm": Rule("self"),
    "forget_me_cancel": Rule("self"),
    # Correcting a deal ("Not right?", "Change it?"): its rep, or an admin.
    "deal_fix": Rule("deal", "owner_or_admin"),
    "deal_fix_outcome_won": Rule("deal", "owner_or_admin"),
    "deal_fix_outcome_lost": Rule("deal", "owner_or_admin"),
    "deal_fix_outcome_no_decision": Rule("deal", "owner_or_admin"),
    "deal_change_yes": Rule("deal", "owner_or_admin"),
    "deal_change_keep": Rule("deal", "owner_or_admin"),
    # "Did a deal close?" is the poster's question alone.
    "deal_ask_won": Rule("deal_ask"),
    "deal_ask_lost": Rule("deal_ask"),
    "deal_ask_no_decision": Rule("deal_ask"),
    "deal_ask_none": Rule("deal_ask"),
    # Stories: anyone may share one from the week's prompt; the win invitation is the
    # deal's rep's; a story is edited, deleted or linked by its author alone.
    ids.STORY_SHARE: Rule("self"),
    ids.STORY_INVITE_SHARE: DEAL,
    ids.STORY_EDIT: Rule("story"),
    ids.STORY_DELETE: Rule("story"),
    ids.STORY_LINK: Rule("story"),
    ids.STORY_NOT_STORY: Rule("story"),
    # The practice focus is the clicker's own; a takeaway is read from their own debrief.
    ids.FOCUS_OPEN: Rule("self"),
    ids.FOCUS_FROM_TAKEAWAY: DEAL,
    # A lesson is kept by the deal's rep, from their own debrief; the ask is theirs.
    ids.LESSON_KEEP: DEAL,
    ids.LESSON_TRY_YES: Rule("nudge"),
    ids.LESSON_TRY_NOT_YET: Rule("nudge"),
    ids.LESSON_TRY_DROP: Rule("nudge"),
    # The quotes library: only quotes the client allowed, which the whole team may read.
    ids.QUOTES_MORE: Rule("self"),
    # The workspace's settings in App Home: admins only.
    ids.SETTINGS_OPEN: Rule("self", "admin"),
}

VIEWS: dict[str, Rule] = {
    "guess_log": Rule("deal", meta_key="deal"),
    "loss_log": Rule("deal", "by_step", meta_key="deal"),
    ids.CALL_LOG_VIEW: Rule("deal", "call_manager", meta_key="deal"),
    ids.CALL_PICK_VIEW: Rule("deal", meta_key="deal"),
    "win_log": Rule("deal", meta_key="deal"),
    ids.CONCERN_MODAL: Rule("deal", meta_key="deal_id"),
    "screen_out_submit": Rule("screen_out", meta_key="previous_run"),
    ids.REFLECT_MODAL: Rule("self"),
    "deal_handoff": Rule("deal", "owner_or_admin", meta_key="deal"),
    "deal_ask_account": Rule("deal_ask", meta_key="ask"),
    # "Log a closed deal": anyone may log one, for any rep, as with `/loop deal … @rep`.
    ids.LOG_DEAL_VIEW: Rule("self"),
    # A new story is the clicker's own; an edit names the story, its author's alone.
    ids.STORY_MODAL: Rule("story", meta_key="story"),
    ids.STORY_LINK_MODAL: Rule("story", meta_key="story"),
    ids.FOCUS_MODAL: Rule("self"),
    ids.SETTINGS_MODAL: Rule("self", "admin"),
    ids.LESSON_KEEP_MODAL: Rule("deal", meta_key="deal"),
}


Verdict = Literal["ok", "not_yours", "bad_id"]

_ID = re.compile(r"[0-9]{1,10}")


def parse_id(raw: object) -> int | None | Literal["bad"]:
    """A row id from a button value's head or a metadata field: None when there is none,
    "bad" when it cannot be one of ours (not digits, or too large for the tables)."""
    if raw is None or raw == "":
        return None
    text = str(raw).partition(":")[0].strip()
    if not _ID.fullmatch(text) or int(text) > MAX_ID:
        return "bad"
    return int(text)


def step_role(value: str) -> Literal["rep", "manager"]:
    """The role a loop-back button carries after its deal id (`<id>:manager:<rev>`)."""
    return "manager" if value.partition(":")[2].startswith("manager") else "rep"


def decide(rule: Rule, actor: str, owners: Owners, *, role: str, is_admin: bool) -> Verdict:
    """May `actor` act on a row whose owners are `owners`? `role` is "manager" when the
    button or modal says it is the manager's (log_edit/log_confirm/loss_log)."""
    if rule.who == "admin":
        return "ok" if is_admin else "not_yours"
    if rule.who == "owner_or_admin" and is_admin:
        return "ok"
    wants_manager = rule.who == "call_manager" or (rule.who == "by_step" and role == "manager")
    if wants_manager:
        return "ok" if actor and actor == owners.call_manager else "not_yours"
    return "ok" if actor and actor == owners.owner else "not_yours"


# --- reading: who sees a logged debrief ---------------------------------------------------


def may_read_private(viewer: str, owner: str | None) -> bool:
    """Concerns, reflections, screen-outs, tee-up answers: the owner's alone."""
    return bool(viewer) and viewer == owner


def is_admin(*, slack_admin: bool, user_id: str, configured: frozenset[str], granted: bool) -> bool:
    """Admins are Slack's admins and owners, people named in ADMINS, and those an admin
    named with `/loop team admin @x`."""
    return slack_admin or user_id in configured or granted


def is_rep(*, has_deal: bool, has_manager: bool, listed: bool) -> bool:
    """A rep has a deal, or is listed on the team (has a manager, or was named a rep)."""
    return has_deal or has_manager or listed


def gets_reflections(*, rep: bool, opted_in: bool, opted_out: bool) -> bool:
    """Reflections and digests go to reps; anyone may opt in, and anyone out."""
    return not opted_out and (rep or opted_in)
