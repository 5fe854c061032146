"""The tables. Timestamps are stored as UTC and always come back timezone-aware."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore
from sqlalchemy import JSON, Column, DateTime, Index, Numeric, TypeDecorator, UniqueConstraint
from sqlmodel import Field, SQLModel


class UTCDateTime(TypeDecorator[datetime]):
    """SQLite keeps no zone and PostgreSQL converts to the session's; storing naive UTC
    and re-attaching UTC on the way out makes both behave the same."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utc_column(*, nullable: bool = True, index: bool = False) -> Any:
    return Field(default=None, sa_column=Column(UTCDateTime(), nullable=nullable, index=index))


def json_column() -> Any:
    return Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class Workspace(SQLModel, table=True):
    team_id: str = Field(primary_key=True, max_length=32)
    name: str | None = None
    bot_user_id: str | None = None
    holidays: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    created_at: datetime | None = utc_column()
    # OAuth mode: when Slack said the app was uninstalled (or its tokens revoked). The
    # tokens go at once; the rest of the workspace's rows after the grace period.
    uninstalled_at: datetime | None = utc_column()
    # Enterprise Grid: the org the workspace belongs to, as its requests said (an
    # org-wide install serves every workspace of the org). Rows stay scoped by team_id:
    # a workspace id is unique across Slack, Grid included.
    enterprise_id: str | None = Field(default=None, max_length=32, index=True)


class Person(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("team_id", "slack_id"),)

    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32)
    slack_id: str = Field(max_length=32)
    name: str | None = None
    email: str | None = None
    tz: str | None = None
    locale: str | None = None
    is_admin: bool = False
    is_bot: bool = False
    deleted: bool = False
    manager_slack_id: str | None = None
    paused: bool = False
    snoozed_until: datetime | None = utc_column()
    vacation_start: str | None = None  # ISO date in the rep's own zone
    vacation_end: str | None = None
    refreshed_at: datetime | None = utc_column()
    created_at: datetime | None = utc_column()
    reflections_off: bool = False  # `/loop reflect off`: no end-of-day DMs nor digest


class Deal(SQLModel, table=True):
    __table_args__ = (
        # The same Slack message seen twice (a retry, a new event_id) is one deal.
        UniqueConstraint("team_id", "source_channel", "source_ts", name="uq_deal_source"),
        UniqueConstraint("team_id", "external_id", name="uq_deal_external"),
        Index("ix_deal_rep", "team_id", "rep_slack_id", "created_at"),
        # Every announcement looks for the same account's deal (a repeat, another
        # outcome): without it, that read walks all of the rep's deals of the day.
        Index("ix_deal_account", "team_id", "account_key", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32)
    account: str
    outcome: str  # won | lost | no_decision
    amount: Decimal | None = Field(default=None, sa_column=Column(Numeric(16, 2)))
    currency: str | None = None
    rep_slack_id: str | None = None
    reported_by: str | None = None
    source: str = "channel"  # channel | command | shortcut | webhook
    source_channel: str | None = None
    source_ts: str | None = None
    external_id: str | None = None
    raw_text: str | None = None
    created_at: datetime | None = utc_column()
    # The account as it is compared: one real deal announced twice (a CRM post, then the
    # rep's own line) matches on this, not on how each source spelled the name.
    account_key: str | None = Field(default=None, max_length=200)
    status: str = "open"  # open | withdrawn (not a deal after all: never counted)
    withdrawn_reason: str | None = None  # not_a_deal | edited | deleted
    # Bumped by every correction, so follow-up nudges scheduled after it get new keys.
    revision: int = 0
    updated_at: datetime | None = utc_column()


class DealSource(SQLModel, table=True):
    """One announcement of a deal: the message, command or click it came from. A second
    announcement of the same deal is a row here linked to the first deal, not a deal."""

    __table_args__ = (
        UniqueConstraint("team_id", "channel", "ts", name="uq_dealsource_message"),
        Index("ix_dealsource_deal", "deal_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32)
    deal_id: int  # no foreign key: deleting a deal must not be blocked by its mentions
    source: str  # channel | command | ask
    channel: str | None = None
    ts: str | None = None
    external_id: str | None = None
    reported_by: str | None = None
    duplicate: bool = False
    created_at: datetime | None = utc_column()


class DealAsk(SQLModel, table=True):
    """A person's post the parser could not decide, and the one "Did a deal close?" its
    poster was asked about it (one row per message, so a redelivery never asks again)."""

    __table_args__ = (UniqueConstraint("team_id", "channel", "ts", name="uq_dealask_message"),)

    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32)
    channel: str
    ts: str
    user_slack_id: str
    text: str = ""
    state: str = "asked"  # asked | answered | dismissed
    deal_id: int | None = None
    created_at: datetime | None = utc_column()


class RitualRun(SQLModel, table=True):
    """One ritual for one person: its state machine and what it has collected."""

    __table_args__ = (Index("ix_ritual_user", "team_id", "user_slack_id", "ritual", "state"),)

    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32)
    ritual: str  # win_debrief | loss_debrief | manager_call | tee_up | screen_out | concern ...
    user_slack_id: str
    deal_id: int | None = Field(default=None, foreign_key="deal.id")
    account: str | None = None
    state: str = "open"
    data: dict[str, Any] = json_column()
    due_at: datetime | None = utc_column()
    created_at: datetime | None = utc_column()
    updated_at: datetime | None = utc_column()


class SeenEvent(SQLModel, table=True):
    """Slack retries events and may redeliver them; one row per event_id makes the
    second delivery a no-op."""

    team_id: str = Field(primary_key=True, max_length=32)
    event_id: str = Field(primary_key=True, max_length=64)
    received_at: datetime | None = utc_column()


class Nudge(SQLModel, table=True):
    """Every message the bot will send, as a row: the schedule is this table.

    state: pending -> sending -> sent | failed | skipped | uncertain; an uncertain row
    is reconciled against the DM's history (bot.nudges.delivery.reconcile_due): sent if the
    message is there, pending again if not."""

    __table_args__ = (
        Index("ix_nudge_state_due", "state", "due_at"),
        # The noise budget reads one person's sent and pending rows on every send.
        Index("ix_nudge_person_state", "team_id", "user_slack_id", "state"),
    )

    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32)
    user_slack_id: str
    kind: str
    payload: dict[str, Any] = json_column()
    due_at: datetime | None = utc_column(nullable=False)
    idempotency_key: str = Field(unique=True, max_length=200)
    state: str = "pending"
    attempts: int = 0
    last_error: str | None = None
    lease_until: datetime | None = utc_column()
    # New for every claim: only the worker holding this claim may post or settle the row,
    # even after its lease ran out and another worker claimed the row again.
    claim_token: str | None = None
    post_started_at: datetime | None = utc_column()
    # When the first post of this nudge started: reconciling reads the DM's history from
    # a little before it, so a message posted by any earlier attempt is found.
    first_post_at: datetime | None = utc_column()
    # Reads of the DM's history that failed while the row was uncertain (for an uncertain
    # row, due_at is when the next read is due).
    reconcile_attempts: int = 0
    sent_channel: str | None = None
    sent_ts: str | None = None
    # Sent by the dispatcher under the noise budget (bot/nudges/budget.py): such DMs count
    # towards the person's hourly slot and daily cap. A DM sent at once because someone
    # just acted (a deal they logged, a command, a click) never does.
    budgeted: bool = False
    ritual_run_id: int | None = Field(default=None, foreign_key="ritualrun.id")
    created_at: datetime | None = utc_column()
    updated_at: datetime | None = utc_column()


class Reflection(SQLModel, table=True):
    """One rep's end-of-day reflection: private to them, read back only in their digest.

    One per rep and local day; reflecting again that day updates it."""

    __table_args__ = (
        UniqueConstraint("team_id", "user_slack_id", "local_date", name="uq_reflection_day"),
    )

    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32)
    user_slack_id: str = Field(max_length=32)
    local_date: str = Field(max_length=10)  # ISO date in the rep's own zone
    went: str = ""
    short: str = ""
    better: str = ""
    created_at: datetime | None = utc_column()
    updated_at: datetime | None = utc_column()


# The reflection planner asks "who has no pending reflection?" every tick; this keeps
# that an index lookup per person instead of a scan of the nudge table.
Index("ix_nudge_user_kind", Nudge.team_id, Nudge.user_slack_id, Nudge.kind, Nudge.state)


class RoleGrant(SQLModel, table=True):
    """Roles Slack does not know about: an admin named by `/loop team admin @x`, a rep
    listed by hand, someone who opted into reflections with `/loop reflect on`.

    A table of its own (not Person columns) so an existing database gains it with
    create_all and no migration."""

    __table_args__ = (UniqueConstraint("team_id", "slack_id", "role", name="uq_role_grant"),)

    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32)
    slack_id: str = Field(max_length=32)
    role: str = Field(max_length=32)  # admin | rep | reflections
    granted_by: str | None = Field(default=None, max_length=32)
    created_at: datetime | None = utc_column()


class IntakeProblem(SQLModel, table=True):
    """A deal that came in without a way to reach its rep (a CRM owner no Slack user has,
    a Workflow Builder step with a bad input): shown to admins in App Home, never dropped
    silently. One row per source record, counted again on each retry."""

    __table_args__ = (UniqueConstraint("team_id", "key", name="uq_intakeproblem_key"),)

    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32)
    key: str = Field(max_length=200)  # e.g. "hubspot:1234" (the CRM record)
    source: str = "webhook"  # webhook | workflow
    detail: str = ""
    count: int = 1
    first_at: datetime | None = utc_column()
    last_at: datetime | None = utc_column(index=True)


class PracticeFocus(SQLModel, table=True):
    """What a rep is working on ("I'm working on…"): one row per focus they set, so the
    history stays; the current one is the row not yet ended. Private to the rep."""

    __table_args__ = (Index("ix_focus_user", "team_id", "user_slack_id", "ended_at"),)

    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32)
    user_slack_id: str = Field(max_length=32)
    text: str
    source: str = Field(default="home", max_length=16)  # home | reflection | takeaway
    deal_id: int | None = None  # the debrief a takeaway came from (no foreign key: see DealSource)
    set_at: datetime | None = utc_column()
    ended_at: datetime | None = utc_column()


class FocusCheck(SQLModel, table=True):
    """An evening's "Did it come up today?" about the practice focus it named: the focus
    as it read that day (a focus changed mid-week must not rewrite earlier days in the
    digest) and the answer (None: not answered). One per rep and local day.

    A table of its own, not Reflection columns, so an existing database gains it with
    create_all and no migration."""

    __table_args__ = (
        UniqueConstraint("team_id", "user_slack_id", "local_date", name="uq_focuscheck_day"),
    )

    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32)
    user_slack_id: str = Field(max_length=32)
    local_date: str = Field(max_length=10)  # ISO date in the rep's own zone
    focus_id: int | None = None  # PracticeFocus.id (no foreign key: forget-me deletes both)
    focus: str
    came_up: bool | None = None
    created_at: datetime | None = utc_column()
    updated_at: datetime | None = utc_column()


class WorkspaceSetting(SQLModel, table=True):
    """A workspace setting an admin changed in Slack (`/loop settings stories #c`): read
    on every use, so it applies at once, on every replica, without a restart. Absent =
    the environment's value. One row per (workspace, key); `value` is JSON."""

    __table_args__ = (UniqueConstraint("team_id", "key", name="uq_workspace_setting"),)

    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32)
    key: str = Field(max_length=64)
    value: dict[str, Any] = json_column()
    updated_by: str | None = Field(default=None, max_length=32)
    updated_at: datetime | None = utc_column()


class Story(SQLModel, table=True):
    """A story of applying a lesson, shared in the stories channel's weekly thread: from
    the modal (posted by the bot, the rep credited) or typed in the thread by the rep.

    Kept with what a report needs: who, which week, where (channel, thread, ts), the
    lesson, the deal it helped and the share of that deal the rep credits to the lesson.
    state: waiting (saved; the week's thread is being started) -> posted -> deleted."""

    __table_args__ = (
        UniqueConstraint("team_id", "channel", "ts", name="uq_story_message"),
        Index("ix_story_team_week", "team_id", "week"),
        Index("ix_story_rep", "team_id", "rep_slack_id"),
        Index("ix_story_deal", "deal_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32)
    rep_slack_id: str = Field(max_length=32)
    week: str = Field(max_length=10)  # ISO week in the workspace's zone, 2026-W49
    source: str = "modal"  # modal | typed
    channel: str = Field(max_length=32)
    thread_ts: str | None = Field(default=None, max_length=32)
    ts: str | None = Field(default=None, max_length=32)
    permalink: str | None = None
    lang: str = "en"
    lesson: str = ""
    did: str = ""
    happened: str = ""
    text: str = ""  # a typed story's words
    deal_id: int | None = None  # no foreign key: a forgotten deal leaves the story
    share: int | None = None  # 0-100: the part of the deal credited to the lesson
    # The kept lesson the story applies (storage/lessons.py), when picked from the list:
    # a teammate's shared lesson credits them. No foreign key: forget-me deletes lessons.
    lesson_id: int | None = Field(default=None, index=True)
    state: str = "waiting"  # waiting | posting | posted | deleted
    created_at: datetime | None = utc_column(index=True)
    updated_at: datetime | None = utc_column()


class Lesson(SQLModel, table=True):
    """A lesson a rep kept from a logged debrief, a manager's call or a win interview:
    private (theirs alone) or shared with the team (teammates may pick it for a story,
    and see it in their prep). A week later the rep is asked whether they got to try it.
    state: open -> tried | dropped."""

    __table_args__ = (
        UniqueConstraint("team_id", "owner_slack_id", "key", name="uq_lesson_key"),
        Index("ix_lesson_owner", "team_id", "owner_slack_id", "state"),
        Index("ix_lesson_shared", "team_id", "shared"),
    )

    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32)
    owner_slack_id: str = Field(max_length=32)
    # The lesson's words folded (case, spaces): keeping the same lesson twice is one row.
    key: str = Field(max_length=300)
    text: str
    source: str = Field(default="debrief", max_length=16)  # debrief | call | win
    deal_id: int | None = None  # no foreign key: a forgotten deal leaves the lesson
    account: str = ""  # the deal's account when kept ("learned from … Globex")
    outcome: str | None = Field(default=None, max_length=16)  # that deal's, for "similar"
    shared: bool = False
    state: str = Field(default="open", max_length=16)  # open | tried | dropped
    created_at: datetime | None = utc_column()
    updated_at: datetime | None = utc_column()


# OAuth mode's installations (one row per install or token refresh; the newest wins),
# the workspace's bot as Bolt reads it, and the install flow's one-time states: slack_sdk's
# SQLAlchemy stores' own tables, declared here so the migrations make and check them.
SLACK_INSTALLATIONS = SQLAlchemyInstallationStore.build_installations_table(
    SQLModel.metadata, SQLAlchemyInstallationStore.default_installations_table_name
)
SLACK_BOTS = SQLAlchemyInstallationStore.build_bots_table(
    SQLModel.metadata, SQLAlchemyInstallationStore.default_bots_table_name
)
SLACK_OAUTH_STATES = SQLAlchemyOAuthStateStore.build_oauth_states_table(
    SQLModel.metadata, SQLAlchemyOAuthStateStore.default_table_name
)
