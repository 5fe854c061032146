"""The ids of our buttons, menus, modals and the values they carry, named once: the
message builders (bot/messages) write them and the listeners (handlers) match them, so
the two sides can't drift apart. Plain constants, importable from any layer."""

from __future__ import annotations

# --- deals, the deal intake, tee-up, prep, screen-out -----------------------------------


# --- debriefs (loss, win), the manager's call, privacy ----------------------------------

# The deal DM's buttons: heard / helped / hugged (the mode is the id's last word).
LOSS_MODE_PREFIX = "loss_mode_"
LOSS_MODES = ("heard", "helped", "hugged")
LOSS_MODE_ACTIONS = tuple(LOSS_MODE_PREFIX + mode for mode in LOSS_MODES)
LOSS_MODE_PATTERN = rf"^{LOSS_MODE_PREFIX}({'|'.join(LOSS_MODES)})$"
MANAGER_CALL_REQUEST = "manager_call_request"
LOSS_TELL_MANAGER = "loss_tell_manager"
# The call script, the guess, the log and its loop-back.
DEBRIEF_START = "debrief_start"
DEBRIEF_NEXT = "debrief_next"
GUESS_OPEN = "guess_open"
LOSS_LOG_OPEN = "loss_log_open"
MANAGER_LOG_OPEN = "manager_log_open"
# The rep's and the manager's log share one modal; the button says whose it is.
LOG_OPEN_PATTERN = rf"^({LOSS_LOG_OPEN}|{MANAGER_LOG_OPEN})$"
LOG_EDIT = "log_edit"
LOG_CONFIRM = "log_confirm"
WIN_LOG_OPEN = "win_log_open"
# The manager's call.
STREAK_YES = "streak_yes"
STREAK_NO = "streak_no"
MANAGER_DECLINE = "manager_decline"
# Privacy.
PRIVACY_SHARE = "privacy_share"
FORGET_CONFIRM = "forget_me_confirm"
FORGET_CANCEL = "forget_me_cancel"

# Modals (callback ids) and the fields the listeners read back.
GUESS_VIEW = "guess_log"
LOSS_LOG_VIEW = "loss_log"
WIN_LOG_VIEW = "win_log"
GUESS_FIELD = "guess"
QUOTE_OK_FIELD = "quote_ok"
FIELD_VALUE = "v"  # the one action id inside every input block; the block_id names the field
# A modal's private_metadata: the deal, and whose log it is ("as": "manager").
META_DEAL = "deal"
META_ROLE = "as"

# Block ids of the action rows.
WIN_DEBRIEF_BLOCK = "win_debrief"
LOSS_MODE_BLOCK = "loss_mode"
LOSS_MANAGER_BLOCK = "loss_manager"
MODE_NEXT_BLOCK = "mode_next"
GUESS_BLOCK = "guess"
DEBRIEF_STAGE_BLOCK = "debrief_stage"
LOG_LOOP_BLOCK = "log_loop"
LOG_AFTER_BLOCK = "log_after"
WIN_AFTER_BLOCK = "win_after"
REMINDER_BLOCK = "reminder"
STREAK_OFFER_BLOCK = "streak_offer"
MANAGER_CALL_BLOCK = "manager_call"
DECLINED_BLOCK = "declined"
FORGET_BLOCK = "forget_me"
CHOICE_BLOCK = "clicks_choice"


# --- concern, reflection, quiet, team, App Home, the /loop router -----------------------
