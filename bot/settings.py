"""Settings: one typed object, read once from the environment (and `.env`) at start-up.

A bad value stops the bot at start-up with one line that names the key and what is
expected, instead of surfacing later as a confusing Slack error. Secrets are kept out of
`repr()` so they never reach a log line.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from dotenv import dotenv_values

DEFAULT_SLACK_API_URL = "https://slack.com/api/"
DEFAULT_DATABASE_URL = "sqlite:///feedback_loop.db"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# Where `feedback-loop run` sends nudges from: a child process of its own (the default,
# so the dispatcher's CPU never competes with the acks under one GIL), its own event
# loop (`inline`, one process), or nowhere (`off`: a `feedback-loop dispatch`
# deployment sends for it).
DISPATCHER_MODES = ("process", "inline", "off")


class SettingsError(ValueError):
    """A configuration value is missing or malformed; the message is one line for the admin."""


@dataclass(frozen=True)
class Settings:
    slack_bot_token: str | None = field(default=None, repr=False)
    slack_signing_secret: str | None = field(default=None, repr=False)
    slack_app_token: str | None = field(default=None, repr=False)
    slack_api_url: str = DEFAULT_SLACK_API_URL
    # OAuth mode (many workspaces): the app's credentials, and the key that signs the
    # install flow's state. On when the first two are set and SLACK_BOT_TOKEN is not.
    slack_client_id: str | None = None
    slack_client_secret: str | None = field(default=None, repr=False)
    slack_state_secret: str | None = field(default=None, repr=False)
    # After app_uninstalled / tokens_revoked: the tokens go at once, the data after this.
    uninstall_grace_days: int = 30
    database_url: str = field(default=DEFAULT_DATABASE_URL, repr=False)
    port: int = 3000
    deals_channels: tuple[str, ...] = ()
    log_level: str = "INFO"
    log_format: str = "text"
    # The report's trend chart, when matplotlib (the `charts` extra) is installed.
    report_charts: bool = True
    scripts_dir: Path | None = None
    deal_words_dir: Path | None = None
    loss_streak: int = 3
    concern_delay_hours: float = 48.0
    debrief_reminder_days: int = 3
    # "You planned to … Done?": days after a logged debrief (and again after "Still on it").
    followup_days: int = 7
    end_of_day: time = time(17, 30)
    working_days: tuple[int, ...] = (0, 1, 2, 3, 4)
    send_rate_per_second: float = 1.0
    tick_seconds: float = 5.0
    dispatcher: str = "process"
    # The noise budget: at most one bot-started DM per rep per hour (what falls due in
    # that hour is gathered into one message) and at most `daily_nudge_cap` a day; off
    # sends every nudge on its own (the benchmark's "before").
    noise_budget: bool = True
    daily_nudge_cap: int = 3
    # Upgrade the database's schema at start-up (else `feedback-loop migrate` must).
    auto_migrate: bool = False
    # Slack admins and owners are admins already; these are the extra ones.
    admins: frozenset[str] = frozenset()
    # Signs `POST /crm/webhook`; unset, the webhook refuses everything (401).
    crm_webhook_secret: str | None = field(default=None, repr=False)
    # (crm, the CRM's owner id) -> e-mail, for CRMs whose webhook names the owner by id only.
    crm_owners: dict[tuple[str, str], str] = field(default_factory=dict)

    # The stories channel (an id, or a #name resolved to one when first used); an
    # admin's `/loop settings stories #channel` overrides it without a restart.
    stories_channel: str | None = None
    # The language of the stories channel's posts (one channel, one language).
    stories_language: str = "en"
    # The workspace's own zone: when "Monday 10:00" and "the 1st of the month" are.
    workspace_tz: str = "UTC"

    @property
    def oauth(self) -> bool:
        """Many workspaces, each with its own token from the install flow."""
        return bool(self.slack_client_id and self.slack_client_secret and not self.slack_bot_token)

    @property
    def socket_mode(self) -> bool:
        return bool(self.slack_app_token)

    @property
    def deals_channel_ids(self) -> frozenset[str]:
        return frozenset(c for c in self.deals_channels if not c.startswith("#"))

    @property
    def deals_channel_names(self) -> frozenset[str]:
        return frozenset(c[1:].lower() for c in self.deals_channels if c.startswith("#"))

    @property
    def database_label(self) -> str:
        """The database URL without a password, safe to log."""
        parsed = urlparse(self.database_url)
        if parsed.password:
            return self.database_url.replace(f":{parsed.password}@", ":***@")
        return self.database_url


def _fail(key: str, expected: str, got: str) -> SettingsError:
    shown = got if len(got) <= 40 else got[:37] + "..."
    return SettingsError(f"{key}: expected {expected}, got {shown!r}")


def _int(env: Mapping[str, str], key: str, default: int, lo: int, hi: int) -> int:
    raw = env.get(key, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise _fail(key, f"a whole number from {lo} to {hi}", raw) from None
    if not lo <= value <= hi:
        raise _fail(key, f"a whole number from {lo} to {hi}", raw)
    return value


def _float(env: Mapping[str, str], key: str, default: float, lo: float, hi: float) -> float:
    raw = env.get(key, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise _fail(key, f"a number from {lo:g} to {hi:g}", raw) from None
    if not lo <= value <= hi:
        raise _fail(key, f"a number from {lo:g} to {hi:g}", raw)
    return value


def _token(env: Mapping[str, str], key: str, prefix: str) -> str | None:
    raw = env.get(key, "").strip()
    if not raw:
        return None
    if not raw.startswith(prefix):
        # Never echo a secret back, not even in an error.
        raise SettingsError(f"{key}: expected a token starting with {prefix!r}")
    return raw


def _oauth(env: Mapping[str, str]) -> tuple[str | None, str | None, str | None]:
    client_id = env.get("SLACK_CLIENT_ID", "").strip() or None
    if client_id is not None and not re.fullmatch(r"\d+\.\d+", client_id):
        raise _fail(
            "SLACK_CLIENT_ID", "the app's Client ID, such as 1234567890.1234567890", client_id
        )
    secret = env.get("SLACK_CLIENT_SECRET", "").strip() or None
    state = env.get("SLACK_STATE_SECRET", "").strip() or None
    on = bool(client_id and secret and not env.get("SLACK_BOT_TOKEN", "").strip())
    # Never echo a secret back, not even in an error.
    if on and (state is None or len(state) < 16):
        raise SettingsError(
            "SLACK_STATE_SECRET: OAuth mode needs at least 16 random characters "
            "(`feedback-loop webhook-secret` makes one)"
        )
    return client_id, secret, state


def _api_url(env: Mapping[str, str]) -> str:
    raw = env.get("SLACK_API_URL", "").strip() or DEFAULT_SLACK_API_URL
    parsed = urlparse(raw)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise _fail("SLACK_API_URL", "an http(s) URL such as https://slack.com/api/", raw)
    return raw if raw.endswith("/") else raw + "/"


def _database_url(env: Mapping[str, str]) -> str:
    raw = env.get("DATABASE_URL", "").strip() or DEFAULT_DATABASE_URL
    scheme = raw.split(":", 1)[0].lower()
    if scheme == "sqlite":
        if not raw.startswith("sqlite://"):
            raise _fail("DATABASE_URL", "sqlite:///path/to/file.db", raw)
        return raw
    if scheme in ("postgres", "postgresql", "postgresql+psycopg"):
        # SQLAlchemy needs the driver named; admins paste what their host gives them.
        return "postgresql+psycopg://" + raw.split("://", 1)[1]
    label = raw.split("@")[-1] if "@" in raw else raw
    raise SettingsError(
        f"DATABASE_URL: expected sqlite:///file.db or postgresql://user@host/db, got {label!r}"
    )


_CHANNEL_ID = re.compile(r"^[CG][A-Z0-9]{2,}$")
_CHANNEL_NAME = re.compile(r"^#[a-z0-9][a-z0-9_\-]{0,79}$")


def _channels(env: Mapping[str, str]) -> tuple[str, ...]:
    raw = env.get("DEALS_CHANNELS", "").strip()
    if not raw:
        return ()
    out: list[str] = []
    for part in (p.strip() for p in raw.split(",")):
        if not part:
            continue
        if _CHANNEL_ID.match(part):
            out.append(part)
        elif _CHANNEL_NAME.match(part.lower()):
            out.append(part.lower())
        else:
            raise _fail("DEALS_CHANNELS", "comma-separated channel IDs (C0123ABC) or #names", part)
    return tuple(dict.fromkeys(out))


def _admins(env: Mapping[str, str]) -> frozenset[str]:
    raw = env.get("ADMINS", "").strip()
    out: set[str] = set()
    for part in (p.strip() for p in raw.split(",")):
        if not part:
            continue
        if not re.fullmatch(r"[UW][A-Z0-9]{2,}", part):
            raise _fail("ADMINS", "comma-separated Slack user IDs (U0123ABC)", part)
        out.add(part)
    return frozenset(out)


_CRM_OWNER = re.compile(r"([a-z][a-z0-9_-]{0,39}):([^=\s]{1,100})=([^@\s]+@[^@\s]+\.[^@\s]+)")


def _crm_owners(env: Mapping[str, str]) -> dict[tuple[str, str], str]:
    raw = env.get("CRM_OWNERS", "").strip()
    out: dict[tuple[str, str], str] = {}
    for part in (p.strip() for p in raw.split(",")):
        if not part:
            continue
        match = _CRM_OWNER.fullmatch(part)
        if not match:
            raise _fail(
                "CRM_OWNERS",
                "comma-separated crm:owner-id=email, e.g. pipedrive:42=rita@acme.com",
                part,
            )
        out[(match[1].lower(), match[2])] = match[3].lower()
    return out


def _crm_secret(env: Mapping[str, str]) -> str | None:
    raw = env.get("CRM_WEBHOOK_SECRET", "").strip()
    if raw and len(raw) < 16:
        # Never echo a secret back, not even in an error.
        raise SettingsError(
            "CRM_WEBHOOK_SECRET: expected at least 16 characters "
            "(`feedback-loop webhook-secret` makes one)"
        )
    return raw or None


def _stories_channel(env: Mapping[str, str]) -> str | None:
    raw = env.get("STORIES_CHANNEL", "").strip()
    if not raw:
        return None
    if _CHANNEL_ID.match(raw):
        return raw
    if _CHANNEL_NAME.match(raw.lower()):
        return raw.lower()
    raise _fail("STORIES_CHANNEL", "a channel ID (C0123ABC) or a #name", raw)


STORY_LANGUAGES = ("en", "es", "fr")


def _stories_language(env: Mapping[str, str]) -> str:
    raw = env.get("STORIES_LANGUAGE", "").strip().lower() or "en"
    if raw not in STORY_LANGUAGES:
        raise _fail("STORIES_LANGUAGE", "one of " + ", ".join(STORY_LANGUAGES), raw)
    return raw


def valid_zone(name: str) -> bool:
    """An IANA zone name zoneinfo knows (Europe/Madrid), not a path or an abbreviation."""
    from zoneinfo import ZoneInfo

    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+)*", name):
        return False
    try:
        ZoneInfo(name)
    except (ValueError, KeyError, OSError):
        return False
    return True


def _workspace_tz(env: Mapping[str, str]) -> str:
    raw = env.get("WORKSPACE_TZ", "").strip() or "UTC"
    if not valid_zone(raw):
        raise _fail("WORKSPACE_TZ", "a time zone name such as Europe/Madrid", raw)
    return raw


def _log_level(env: Mapping[str, str]) -> str:
    raw = env.get("LOG_LEVEL", "").strip().upper() or "INFO"
    if raw not in LOG_LEVELS:
        raise _fail("LOG_LEVEL", "one of " + ", ".join(LOG_LEVELS), raw)
    return raw


def _choice(env: Mapping[str, str], name: str, choices: tuple[str, ...]) -> str:
    raw = env.get(name, "").strip().lower() or choices[0]
    if raw not in choices:
        raise _fail(name, "one of " + ", ".join(choices), raw)
    return raw


def _dispatcher(env: Mapping[str, str]) -> str:
    raw = env.get("DISPATCHER", "").strip().lower() or "process"
    if raw not in DISPATCHER_MODES:
        raise _fail("DISPATCHER", "one of " + ", ".join(DISPATCHER_MODES), raw)
    return raw


def _on_off(env: Mapping[str, str], key: str, default: bool) -> bool:
    raw = env.get(key, "").strip().lower()
    if not raw:
        return default
    if raw in ("on", "true", "1", "yes"):
        return True
    if raw in ("off", "false", "0", "no"):
        return False
    raise _fail(key, "on or off", raw)


def _end_of_day(env: Mapping[str, str]) -> time:
    raw = env.get("END_OF_DAY", "").strip()
    if not raw:
        return time(17, 30)
    match = re.fullmatch(r"(\d{1,2}):(\d{2})", raw)
    if not match or int(match[1]) > 23 or int(match[2]) > 59:
        raise _fail("END_OF_DAY", "a local time as HH:MM, e.g. 17:30", raw)
    return time(int(match[1]), int(match[2]))


def _working_days(env: Mapping[str, str]) -> tuple[int, ...]:
    raw = env.get("WORKING_DAYS", "").strip().lower()
    if not raw:
        return (0, 1, 2, 3, 4)
    days: set[int] = set()
    for part in (p.strip() for p in raw.split(",")):
        if "-" in part:
            start, _, end = part.partition("-")
            if start not in WEEKDAYS or end not in WEEKDAYS:
                raise _fail("WORKING_DAYS", "days like mon-fri or mon,tue,thu", raw)
            a, b = WEEKDAYS.index(start), WEEKDAYS.index(end)
            days.update(range(a, b + 1) if a <= b else [*range(a, 7), *range(0, b + 1)])
        elif part in WEEKDAYS:
            days.add(WEEKDAYS.index(part))
        else:
            raise _fail("WORKING_DAYS", "days like mon-fri or mon,tue,thu", raw)
    return tuple(sorted(days))


def _scripts_dir(env: Mapping[str, str]) -> Path | None:
    raw = env.get("SCRIPTS_DIR", "").strip()
    if not raw:
        return None
    path = Path(raw).expanduser()
    if not path.is_dir():
        raise _fail("SCRIPTS_DIR", "an existing folder holding en.toml / es.toml / fr.toml", raw)
    return path


def _deal_words_dir(env: Mapping[str, str]) -> Path | None:
    raw = env.get("DEAL_WORDS_DIR", "").strip()
    if not raw:
        return None
    path = Path(raw).expanduser()
    if not path.is_dir():
        raise _fail("DEAL_WORDS_DIR", "an existing folder of deal word files (*.toml)", raw)
    # Read the files now, so a bad one stops the start with its name, not the first message.
    from bot.deals.vocabulary import DealWordsError, load_deal_words

    try:
        load_deal_words(path)
    except DealWordsError as e:
        raise SettingsError(f"DEAL_WORDS_DIR: {e}") from None
    return path


def load_settings(
    environ: Mapping[str, str] | None = None, *, env_file: str | Path | None = ".env"
) -> Settings:
    """Read settings once. Real environment variables win over `.env`, as dotenv's
    `override=False` does, so a deploy can always override a checked-in file."""
    merged: dict[str, Any] = {}
    if env_file is not None and Path(env_file).is_file():
        merged.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
    merged.update(os.environ if environ is None else environ)
    env: Mapping[str, str] = merged
    client_id, client_secret, state_secret = _oauth(env)
    return Settings(
        slack_bot_token=_token(env, "SLACK_BOT_TOKEN", "xoxb-"),
        slack_client_id=client_id,
        slack_client_secret=client_secret,
        slack_state_secret=state_secret,
        uninstall_grace_days=_int(env, "UNINSTALL_GRACE_DAYS", 30, 0, 3650),
        slack_signing_secret=env.get("SLACK_SIGNING_SECRET", "").strip() or None,
        slack_app_token=_token(env, "SLACK_APP_TOKEN", "xapp-"),
        slack_api_url=_api_url(env),
        database_url=_database_url(env),
        port=_int(env, "PORT", 3000, 1, 65535),
        deals_channels=_channels(env),
        log_level=_log_level(env),
        log_format=_choice(env, "LOG_FORMAT", ("text", "json")),
        report_charts=_on_off(env, "REPORT_CHARTS", True),
        scripts_dir=_scripts_dir(env),
        deal_words_dir=_deal_words_dir(env),
        loss_streak=_int(env, "LOSS_STREAK", 3, 2, 50),
        concern_delay_hours=_float(env, "CONCERN_DELAY_HOURS", 48.0, 0.01, 24 * 90),
        debrief_reminder_days=_int(env, "DEBRIEF_REMINDER_DAYS", 3, 1, 60),
        followup_days=_int(env, "FOLLOWUP_DAYS", 7, 1, 90),
        end_of_day=_end_of_day(env),
        working_days=_working_days(env),
        send_rate_per_second=_float(env, "SEND_RATE", 1.0, 0.05, 100.0),
        tick_seconds=_float(env, "TICK_SECONDS", 5.0, 0.05, 3600.0),
        dispatcher=_dispatcher(env),
        noise_budget=_on_off(env, "NOISE_BUDGET", True),
        daily_nudge_cap=_int(env, "DAILY_NUDGE_CAP", 3, 1, 50),
        auto_migrate=_on_off(env, "AUTO_MIGRATE", False),
        admins=_admins(env),
        crm_webhook_secret=_crm_secret(env),
        crm_owners=_crm_owners(env),
        stories_channel=_stories_channel(env),
        stories_language=_stories_language(env),
        workspace_tz=_workspace_tz(env),
    )
