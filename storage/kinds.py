"""The closed vocabularies of the stored rows: ritual names, each ritual's run states, a
deal's status, an ask's state and the nudge kinds.

StrEnums so a typo is a name error, not a row no query finds; each member IS its plain
string, so rows written before these existed read back unchanged and a member compares
equal to the string a column returns.
"""

from __future__ import annotations

from enum import StrEnum


class Ritual(StrEnum):
    """`RitualRun.ritual`."""

    WIN_DEBRIEF = "win_debrief"
    LOSS_DEBRIEF = "loss_debrief"
    MANAGER_CALL = "manager_call"
    TEE_UP = "tee_up"
    SCREEN_OUT = "screen_out"
    CONCERN = "concern"


DEBRIEF_RITUALS = (Ritual.WIN_DEBRIEF, Ritual.LOSS_DEBRIEF)


class DebriefState(StrEnum):
    """`RitualRun.state` of a win or loss debrief."""

    DM_PENDING = "dm_pending"
    DM_SENT = "dm_sent"
    LOGGED = "logged"
    WITHDRAWN = "withdrawn"


class CallState(StrEnum):
    """`RitualRun.state` of a manager call."""

    OPEN = "open"
    DECLINED = "declined"
    LOGGED = "logged"


class TeeUpState(StrEnum):
    """`RitualRun.state` of a tee-up: the rep's answer."""

    AGREED = "agreed"
    DECLINED = "declined"
    NOT_ASKED = "not_asked"


TEEUP_DECIDED = (TeeUpState.AGREED, TeeUpState.DECLINED, TeeUpState.NOT_ASKED)


class ScreenOutState(StrEnum):
    """`RitualRun.state` of a screen-out."""

    SCHEDULED = "scheduled"
    REVIEW_SENT = "review_sent"
    REVIEWED = "reviewed"


class ConcernState(StrEnum):
    """`RitualRun.state` of a concern."""

    OPEN = "open"
    CLOSED = "closed"
    DROPPED = "dropped"


class DealStatus(StrEnum):
    """`Deal.status`: a withdrawn deal was not a deal after all and is never counted."""

    OPEN = "open"
    WITHDRAWN = "withdrawn"


class AskState(StrEnum):
    """`DealAsk.state`."""

    ASKED = "asked"
    ANSWERED = "answered"
    DISMISSED = "dismissed"


class ReasonCategory(StrEnum):
    """Why a deal was lost, as a countable category: the client's reason in a debrief's
    `data["client"]["reason_category"]` and the rep's guess in `data["guess_category"]`.
    Stable English slugs; the words shown are the scripts' `reasons.option_<slug>`."""

    PRICE = "price"
    PRODUCT_FIT = "product_fit"
    TIMING = "timing"
    RELATIONSHIP = "relationship"
    COMPETITOR = "competitor"
    STATUS_QUO = "status_quo"
    OTHER = "other"


REASON_CATEGORIES: tuple[str, ...] = tuple(c.value for c in ReasonCategory)


class Kind(StrEnum):
    """`Nudge.kind`: the rituals declare these (NUDGE_KINDS) and schedule by the same names."""

    DEAL_DM = "deal_dm"
    DEBRIEF_REMINDER = "debrief_reminder"
    DEBRIEF_MANAGER_NOTE = "debrief_manager_note"
    REP_NEEDS_WORD = "rep_needs_word"
    LOSS_STREAK_OFFER = "loss_streak_offer"
    MANAGER_CALL_DM = "manager_call_dm"
    MANAGER_CALL_REMINDER = "manager_call_reminder"
    MANAGER_CALL_RESULT = "manager_call_result"
    MANAGER_CALL_DECLINED = "manager_call_declined"
    TEE_UP = "tee_up"
    SCREEN_OUT_REVIEW = "screen_out_review"
    SCREEN_OUT_SAVED = "screen_out_saved"
    CONCERN_CHECKIN = "concern_checkin"
    REFLECTION = "reflection"
    WEEKLY_DIGEST = "weekly_digest"
    TAKEAWAY_FOLLOWUP = "takeaway_followup"
