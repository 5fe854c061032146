"""The ids of our buttons, menus, modals and the values they carry, named once: the
message builders (bot/messages) write them and the listeners (handlers) match them, so
the two sides can't drift apart. Plain constants, importable from any layer."""

from __future__ import annotations

# --- deals, the deal intake, tee-up, prep, screen-out -----------------------------------


# --- debriefs (loss, win), the manager's call, privacy ----------------------------------


# --- concern, reflection, quiet, team, App Home, the /loop router -----------------------

# Concern check-ins: the answers in the DM (their value is "<run id>:<check-in n>").
CONCERN_ANSWER_BLOCK = "concern_answer"
CONCERN_SATISFIED = "concern_satisfied"
CONCERN_NOT_YET = "concern_not_yet"
CONCERN_DIDNT_ASK = "concern_didnt_ask"
CONCERN_DROP = "concern_drop"
CONCERN_ANSWERS = (CONCERN_SATISFIED, CONCERN_NOT_YET, CONCERN_DIDNT_ASK, CONCERN_DROP)
# The open-loops list (`/loop concern list`): one block per loop, "<prefix><run id>".
CONCERN_LIST_BLOCK_PREFIX = "concern_list_"
CONCERN_LIST_CLOSE = "concern_list_close"
CONCERN_LIST_DROP = "concern_list_drop"
CONCERN_LIST_ACTIONS = (CONCERN_LIST_CLOSE, CONCERN_LIST_DROP)
# "Track a concern" in a debrief (its value is the deal id) opens this modal.
CONCERN_OPEN = "concern_open"
CONCERN_MODAL = "concern_modal"
CONCERN_MODAL_SAVED = "concern_modal_saved"
# The modal's fields: each field's block id is also its action id.
CONCERN_FIELD_ACCOUNT = "account"
CONCERN_FIELD_CONCERN = "concern"

# End-of-day reflection: the evening DM's buttons (their value is the local date) and
# its modal, whose three fields each hold one input named REFLECT_VALUE.
REFLECT_BLOCK = "reflect"
REFLECT_OPEN = "reflect_open"
REFLECT_SKIP = "reflect_skip"
REFLECT_MODAL = "reflection"
REFLECT_VALUE = "v"
