"""Settings are read once, and a bad value stops start-up with one line naming the key."""

from __future__ import annotations

from datetime import time
from pathlib import Path

import pytest

from bot.cli import main
from bot.settings import DEFAULT_DATABASE_URL, SettingsError, load_settings


def test_defaults_need_no_configuration() -> None:
    s = load_settings({}, env_file=None)
    assert s.slack_api_url == "https://slack.com/api/"
    assert s.database_url == DEFAULT_DATABASE_URL
    assert (s.port, s.log_level, s.deals_channels, s.socket_mode) == (3000, "INFO", (), False)
    assert s.end_of_day == time(17, 30) and s.working_days == (0, 1, 2, 3, 4)
    assert s.dispatcher == "process"


def test_values_are_parsed_and_normalised() -> None:
    s = load_settings(
        {
            "SLACK_BOT_TOKEN": "xoxb-1-2-abc",
            "SLACK_APP_TOKEN": "xapp-1-A-xyz",
            "SLACK_API_URL": "http://127.0.0.1:9000/api",
            "DATABASE_URL": "postgres://u:pw@db/feedback",
            "PORT": "8080",
            "DEALS_CHANNELS": "C0DEALS, #Won-Deals ,C0DEALS",
            "LOG_LEVEL": "debug",
            "WORKING_DAYS": "sun-thu",
            "END_OF_DAY": "18:05",
            "DISPATCHER": " Off ",
        },
        env_file=None,
    )
    assert s.slack_api_url == "http://127.0.0.1:9000/api/"
    assert s.database_url == "postgresql+psycopg://u:pw@db/feedback"
    assert s.database_label == "postgresql+psycopg://u:***@db/feedback"
    assert s.port == 8080 and s.log_level == "DEBUG" and s.socket_mode
    assert s.deals_channels == ("C0DEALS", "#won-deals")
    assert s.deals_channel_ids == {"C0DEALS"} and s.deals_channel_names == {"won-deals"}
    assert s.working_days == (0, 1, 2, 3, 6) and s.end_of_day == time(18, 5)
    assert s.dispatcher == "off"


@pytest.mark.parametrize(
    "key, value, expected",
    [
        ("PORT", "eighty", "PORT: expected a whole number from 1 to 65535"),
        ("PORT", "70000", "PORT: expected a whole number from 1 to 65535"),
        ("SLACK_API_URL", "slack.com/api", "SLACK_API_URL: expected an http(s) URL"),
        ("DATABASE_URL", "mysql://db/x", "DATABASE_URL: expected sqlite:///file.db or"),
        ("DEALS_CHANNELS", "deals", "DEALS_CHANNELS: expected comma-separated channel IDs"),
        ("LOG_LEVEL", "LOUD", "LOG_LEVEL: expected one of DEBUG, INFO, WARNING, ERROR"),
        ("NOISE_BUDGET", "maybe", "NOISE_BUDGET: expected on or off"),
        ("DAILY_NUDGE_CAP", "0", "DAILY_NUDGE_CAP: expected a whole number from 1 to 50"),
        ("SLACK_BOT_TOKEN", "xoxp-user-token", "SLACK_BOT_TOKEN: expected a token starting"),
        ("SLACK_APP_TOKEN", "xoxb-wrong", "SLACK_APP_TOKEN: expected a token starting"),
        ("END_OF_DAY", "5pm", "END_OF_DAY: expected a local time as HH:MM"),
        ("WORKING_DAYS", "weekdays", "WORKING_DAYS: expected days like mon-fri"),
        ("LOSS_STREAK", "1", "LOSS_STREAK: expected a whole number from 2 to 50"),
        ("DISPATCHER", "thread", "DISPATCHER: expected one of process, inline, off"),
        ("SCRIPTS_DIR", "/no/such/folder", "SCRIPTS_DIR: expected an existing folder"),
    ],
)
def test_bad_value_names_the_key_and_what_is_expected(key: str, value: str, expected: str) -> None:
    with pytest.raises(SettingsError) as err:
        load_settings({key: value}, env_file=None)
    assert str(err.value).startswith(expected)
    assert "\n" not in str(err.value)


def test_the_noise_budget_is_on_with_a_cap_of_three_unless_set() -> None:
    default = load_settings({}, env_file=None)
    assert (default.noise_budget, default.daily_nudge_cap) == (True, 3)
    off = load_settings({"NOISE_BUDGET": "off", "DAILY_NUDGE_CAP": "5"}, env_file=None)
    assert (off.noise_budget, off.daily_nudge_cap) == (False, 5)


def test_a_bad_token_is_never_echoed() -> None:
    with pytest.raises(SettingsError) as err:
        load_settings({"SLACK_BOT_TOKEN": "xoxp-secret-value-123"}, env_file=None)
    assert "secret-value" not in str(err.value)


def test_secrets_are_not_in_repr() -> None:
    s = load_settings(
        {
            "SLACK_BOT_TOKEN": "xoxb-very-secret",
            "SLACK_SIGNING_SECRET": "shh-signing",
            "DATABASE_URL": "postgresql://u:dbpass@h/db",
        },
        env_file=None,
    )
    shown = repr(s)
    assert "very-secret" not in shown and "shh-signing" not in shown and "dbpass" not in shown


def test_dotenv_is_read_and_the_environment_wins(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("PORT=4000\nLOG_LEVEL=WARNING\n")
    s = load_settings({"PORT": "5000"}, env_file=env_file)
    assert s.port == 5000 and s.log_level == "WARNING"


def test_run_with_a_bad_value_exits_with_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PORT", "not-a-port")
    with pytest.raises(SystemExit) as exit_info:
        main(["run"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "PORT: expected a whole number" in err


def test_run_without_a_token_explains_the_manifest_and_the_demo(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    for key in ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "PORT", "DATABASE_URL"):
        monkeypatch.delenv(key, raising=False)
    assert main(["run"]) == 1
    err = capsys.readouterr().err
    assert "manifest.yml" in err and "feedback-loop demo" in err


def test_http_mode_without_signing_secret_refuses_to_start(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test")
    monkeypatch.delenv("SLACK_SIGNING_SECRET", raising=False)
    monkeypatch.delenv("SLACK_APP_TOKEN", raising=False)
    assert main(["run", "--http"]) == 2
    assert "SLACK_SIGNING_SECRET" in capsys.readouterr().err


def test_oauth_mode_is_on_with_client_id_and_secret_and_no_bot_token() -> None:
    from bot.settings import SettingsError, load_settings

    env = {
        "SLACK_CLIENT_ID": "1111.2222",
        "SLACK_CLIENT_SECRET": "s3cret",
        "SLACK_STATE_SECRET": "0123456789abcdef0123",
    }
    assert load_settings(env, env_file=None).oauth
    with_token = load_settings({**env, "SLACK_BOT_TOKEN": "xoxb-1"}, env_file=None)
    assert not with_token.oauth
    assert load_settings(env, env_file=None).uninstall_grace_days == 30
    try:
        load_settings({**env, "SLACK_STATE_SECRET": ""}, env_file=None)
    except SettingsError as e:
        assert "SLACK_STATE_SECRET" in str(e) and "s3cret" not in str(e)
    else:
        raise AssertionError("OAuth mode without a state secret must not start")
    assert "s3cret" not in repr(load_settings(env, env_file=None))
