"""The ids of our buttons, menus, modals and the values they carry, named once: the
message builders (bot/messages) write them and the listeners (handlers) match them, so
the two sides can't drift apart. Plain constants, importable from any layer."""

from __future__ import annotations

# --- deals, the deal intake, tee-up, prep, screen-out -----------------------------------

# The "Not right?" overflow under every deal DM; each option's value is "<deal id>:<fix>".
DEAL_FIX = "deal_fix"
DEAL_FIX_BLOCK = "deal_fix"
# "Which outcome was it?": one button per outcome (action ids are unique within a
# message), value "<deal id>:<outcome>".
DEAL_PICK_PREFIX = "deal_fix_outcome_"
DEAL_PICK_BLOCK = "deal_fix_outcome"
# "Did a deal close?" under a post the rules could not decide; value is the ask's id.
DEAL_ASK_PREFIX = "deal_ask_"
DEAL_ASK_BLOCK = "deal_ask"
DEAL_ASK_NONE = "none"
# "Change it?" for a deal logged again with another outcome; value "<deal id>:<outcome>".
DEAL_CHANGE_YES = "deal_change_yes"
DEAL_CHANGE_KEEP = "deal_change_keep"
DEAL_CHANGE_BLOCK = "deal_change"
# "Not my deal": the modal that hands a deal to another rep.
DEAL_HANDOFF_VIEW = "deal_handoff"
DEAL_HANDOFF_BLOCK = "rep"
# The account the poster meant, when their words don't say it.
DEAL_ASK_ACCOUNT_VIEW = "deal_ask_account"
DEAL_ASK_ACCOUNT_BLOCK = "account"
# The one input of each intake modal.
DEAL_FIELD = "v"

# Tee-up: the three answers (value: the nudge's id) and the block that holds them.
TEE_UP_AGREED = "teeup_agreed"
TEE_UP_NOT_ASKED = "teeup_not_asked"
TEE_UP_DECLINED = "teeup_declined"
TEE_UP_BLOCK = "teeup_answer"

# Screen-out: the modal, its three inputs, and "Review now" on the review DM (value: the
# run's id).
SCREEN_OUT_VIEW = "screen_out_submit"
SCREEN_OUT_POTENTIAL_BLOCK = "screen_out_potential"
SCREEN_OUT_POTENTIAL = "potential"
SCREEN_OUT_REVIEW_BLOCK = "screen_out_review"
SCREEN_OUT_REVIEW_DATE = "review_date"
SCREEN_OUT_NOTES_BLOCK = "screen_out_notes"
SCREEN_OUT_NOTES = "notes"
SCREEN_OUT_REVIEW_NOW = "screen_out_review_now"
SCREEN_OUT_REVIEW_NOW_BLOCK = "screen_out_review"


# --- debriefs (loss, win), the manager's call, privacy ----------------------------------


# --- concern, reflection, quiet, team, App Home, the /loop router -----------------------
