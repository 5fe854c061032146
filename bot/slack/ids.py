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
# The caller's "Log the call" opens the caller's own form (CALL_LOG_VIEW), not the rep's.
MANAGER_LOG_OPEN = "manager_log_open"
LOG_EDIT = "log_edit"
LOG_CONFIRM = "log_confirm"
WIN_LOG_OPEN = "win_log_open"
# The manager's call.
STREAK_YES = "streak_yes"
STREAK_NO = "streak_no"
MANAGER_DECLINE = "manager_decline"
# The caller's own log (the manager's, or a trusted colleague's): its modal and fields,
# and the door question's one select.
CALL_LOG_VIEW = "call_log"
CALL_DOOR_FIELD = "door"
# "Ask a colleague instead": the button on the loss DM (value: the deal id), the modal
# with the person picker, and the picker's block.
CALL_PICK_OPEN = "call_pick_open"
CALL_PICK_VIEW = "call_pick"
CALL_PICK_BLOCK = "caller"
# App Home: one block per call to make ("<prefix><deal id>": block ids are unique).
HOME_CALL_BLOCK_PREFIX = "home_call_"
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

# The shortcuts "Log as a closed deal" (on a message) and "Log a closed deal" (global),
# their modal and its fields; the Workflow Builder step.
LOG_DEAL_MESSAGE_SHORTCUT = "log_closed_deal_message"
LOG_DEAL_GLOBAL_SHORTCUT = "log_closed_deal"
LOG_DEAL_VIEW = "log_closed_deal"
LOG_DEAL_DONE_VIEW = "log_closed_deal_done"
LOG_DEAL_OUTCOME_BLOCK = "outcome"
LOG_DEAL_ACCOUNT_BLOCK = "account"
LOG_DEAL_AMOUNT_BLOCK = "amount"
LOG_DEAL_REP_BLOCK = "rep"
DEAL_STEP_FUNCTION = "start_deal_debrief"

# --- stories --------------------------------------------------------------------------------

# "Share a story" on the week's prompt (anyone) and in the win invitation (value: the deal).
STORY_BLOCK = "story_share"
STORY_SHARE = "story_share"
STORY_INVITE_BLOCK = "story_invite"
STORY_INVITE_SHARE = "story_invite_share"
# Edit / Delete under a story the bot posted (value: the story's id; its rep only).
STORY_OWN_BLOCK = "story_own"
STORY_EDIT = "story_edit"
STORY_DELETE = "story_delete"
# The ephemeral under a story typed in the thread (value: the story's id).
STORY_LINK_BLOCK = "story_link"
STORY_LINK = "story_link"
STORY_NOT_STORY = "story_not_story"
# The story modal and its fields (each block holds one input whose action id is "v").
STORY_MODAL = "story_modal"
STORY_LINK_MODAL = "story_link_modal"
STORY_LESSON = "lesson"
STORY_DID = "did"
STORY_HAPPENED = "happened"
STORY_DEAL = "deal"
STORY_SHARE_FIELD = "share"

# Follow it up: a week after a logged debrief, "You planned to … Done?" (value: the nudge id).
FOLLOWUP_BLOCK = "followup_answer"
FOLLOWUP_DONE = "followup_done"
FOLLOWUP_STILL = "followup_still"
FOLLOWUP_DROP = "followup_drop"
FOLLOWUP_ANSWERS = (FOLLOWUP_DONE, FOLLOWUP_STILL, FOLLOWUP_DROP)

# --- the practice focus and the quotes library --------------------------------------------

# "Set my focus" / "Change" (App Home, the evening DM): value says where it was clicked.
FOCUS_OPEN = "focus_open"
FOCUS_FROM_HOME = "home"
FOCUS_FROM_REFLECTION = "reflect"
FOCUS_BLOCK = "focus"
FOCUS_MODAL = "practice_focus"
FOCUS_FIELD = "focus"
# "Make it my focus" beside a logged takeaway: value "<deal id>:<takeaway n>".
FOCUS_FROM_TAKEAWAY = "focus_from_takeaway"
FOCUS_TAKEAWAY_BLOCK_PREFIX = "focus_takeaway_"
# The reflection modal's extra fields when a focus is set (or can be).
REFLECT_CAME_UP = "came_up"
REFLECT_FOCUS = "next_focus"
# `/loop quotes`: the next page (value: JSON of the word and the page).
QUOTES_MORE = "quotes_more"
QUOTES_BLOCK = "quotes_more"
# The win log's tag for a quote: one of the team's tags, or a new one.
QUOTE_TAG_FIELD = "quote_tag"
QUOTE_TAG_NEW_FIELD = "quote_tag_new"

# --- the workspace settings (admins, App Home) -----------------------------------------------

# "Settings" in an admin's App Home; the modal and its fields (each block holds one input
# whose action id is FIELD_VALUE).
SETTINGS_OPEN = "settings_open"
SETTINGS_BLOCK = "workspace_settings"
SETTINGS_MODAL = "workspace_settings"
SETTINGS_DEALS = "set_deals_channels"
SETTINGS_STORIES = "set_stories_channel"
SETTINGS_END_OF_DAY = "set_end_of_day"
SETTINGS_DAYS = "set_working_days"
SETTINGS_STREAK = "set_loss_streak"
SETTINGS_REMINDER = "set_debrief_reminder_days"
SETTINGS_CONCERN = "set_concern_delay_hours"
SETTINGS_FOLLOWUP = "set_followup_days"
SETTINGS_HOLIDAYS = "set_holidays"
SETTINGS_ADMINS = "set_admins"
# --- lessons (kept from a debrief, a manager's call or a win interview) -------------------

# "Keep a lesson" under a logged debrief, the call's result, a logged win (value: the deal).
LESSON_KEEP = "lesson_keep"
LESSON_KEEP_BLOCK = "lesson_keep"
LESSON_KEEP_MODAL = "lesson_keep"
LESSON_PICK_FIELD = "lesson_pick"  # which of the debrief's takeaways (value: its index)
LESSON_TEXT_FIELD = "lesson_text"  # or in the rep's own words
LESSON_SHARE_FIELD = "lesson_share"  # private | team
# "Did you get to try …?" (value: the nudge id).
LESSON_TRY_BLOCK = "lesson_try"
LESSON_TRY_YES = "lesson_try_yes"
LESSON_TRY_NOT_YET = "lesson_try_not_yet"
LESSON_TRY_DROP = "lesson_try_drop"
LESSON_TRY_ANSWERS = (LESSON_TRY_YES, LESSON_TRY_NOT_YET, LESSON_TRY_DROP)
# The story modal's "or pick a lesson" (value: the lesson's id).
STORY_LESSON_PICK = "lesson_pick"
# The reason category beside a loss log's reason (the rep's and the caller's form), the
# competitor's name that goes with "competitor", and the guess's own category.
REASON_CATEGORY_FIELD = "reason_category"
COMPETITOR_FIELD = "competitor"
GUESS_CATEGORY_FIELD = "guess_category"
