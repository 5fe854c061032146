"""`feedback-loop import-team team.csv`: set reps' managers in bulk from a CSV file.

    rep,manager
    U0123ABCD,U0456EFGH
    rita@acme.com,maya@acme.com
    sam@acme.com,none

Each cell is a Slack user ID or an email (found with `users.lookupByEmail`); a blank
manager or `none` clears it. Every line is checked first; if any line fails, the report
names each failing line and why, and nothing is written, so a file is never half
imported. Otherwise all lines are written in one transaction.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.engine import Engine

from bot.clock import Clock
from bot.slack.errors import api_error
from storage.db import unit_of_work
from storage.people import upsert_from_slack

USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")
CLEARS = frozenset({"", "none", "-"})
# Answers meaning "that person is not there"; anything else (a bad token, Slack down)
# stops the whole import instead of being blamed on one line.
NOT_FOUND = frozenset({"user_not_found", "users_not_found", "user_not_visible"})


class TeamImportError(Exception):
    """The file or the Slack connection is unusable; one line for the admin."""


@dataclass
class Line:
    number: int
    rep: str
    manager: str


@dataclass
class Report:
    team_id: str = ""
    done: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed


def read_lines(path: Path) -> list[Line]:
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as e:
        raise TeamImportError(f"{path}: cannot read the file ({e.strerror or e})") from e
    except UnicodeDecodeError as e:
        raise TeamImportError(f"{path}: not UTF-8 text ({e.reason})") from e
    reader = csv.reader(io.StringIO(text))
    header = [h.strip().lower() for h in next(reader, [])]
    if "rep" not in header or "manager" not in header:
        raise TeamImportError(f"{path} line 1: expected the header 'rep,manager'")
    rep_at, manager_at = header.index("rep"), header.index("manager")
    lines: list[Line] = []
    for row in reader:
        if not any(cell.strip() for cell in row):
            continue
        cells = [*row, "", ""]
        lines.append(Line(reader.line_num, cells[rep_at].strip(), cells[manager_at].strip()))
    if not lines:
        raise TeamImportError(f"{path}: no lines after the header; nothing to import")
    return lines


class Directory:
    """Slack users by ID or email, each looked up once."""

    def __init__(self, client: AsyncWebClient) -> None:
        self.client = client
        self._cache: dict[str, dict[str, Any] | str] = {}

    async def find(self, who: str) -> dict[str, Any] | str:
        """The users.info user object, or why it cannot be used."""
        key = who.lower() if "@" in who else who
        if key not in self._cache:
            self._cache[key] = await self._find(who)
        return self._cache[key]

    async def _find(self, who: str) -> dict[str, Any] | str:
        try:
            if "@" in who:
                found = await self.client.users_lookupByEmail(email=who)
                who = str(found["user"]["id"])
            elif not USER_ID.match(who):
                return f"'{who}' is neither a Slack user ID (U…) nor an email"
            # users.info with the locale, so DMs start out in the person's language.
            resp = await self.client.users_info(user=who, include_locale=True)
        except SlackApiError as e:
            error = api_error(e)
            if error in NOT_FOUND:
                return f"no Slack user '{who}' in this workspace"
            raise TeamImportError(f"Slack answered {error or e.response.status_code}") from e
        user = dict(resp["user"])
        if user.get("deleted"):
            return f"'{who}' is deactivated in Slack"
        if user.get("is_bot"):
            return f"'{who}' is a bot"
        return user


def _label(user: dict[str, Any]) -> str:
    profile = user.get("profile") or {}
    name = profile.get("display_name") or user.get("real_name") or user.get("name") or ""
    return f"{name} ({user['id']})" if name else str(user["id"])


async def import_team(
    path: Path, *, client: AsyncWebClient, engine: Engine, clock: Clock
) -> Report:
    lines = read_lines(path)
    try:
        auth = await client.auth_test()
    except SlackApiError as e:
        raise TeamImportError(f"Slack refused the token ({e.response.get('error')})") from e
    report = Report(team_id=str(auth.get("team_id") or ""))
    directory = Directory(client)
    planned: list[tuple[Line, dict[str, Any], dict[str, Any] | None]] = []
    seen: dict[str, int] = {}
    for line in lines:
        problem, rep, manager = await _check(line, directory, seen)
        if problem:
            report.failed.append(f"line {line.number}: {problem}")
        elif rep is not None:
            planned.append((line, rep, manager))
    if report.failed:
        return report
    write_all(engine, report, planned, clock.now)
    return report


async def _check(
    line: Line, directory: Directory, seen: dict[str, int]
) -> tuple[str | None, dict[str, Any] | None, dict[str, Any] | None]:
    if not line.rep:
        return "the rep is empty", None, None
    rep = await directory.find(line.rep)
    if isinstance(rep, str):
        return f"rep: {rep}", None, None
    manager: dict[str, Any] | str | None = None
    if line.manager.lower() not in CLEARS:
        manager = await directory.find(line.manager)
        if isinstance(manager, str):
            return f"manager: {manager}", None, None
        if manager["id"] == rep["id"]:
            return "a rep can't be their own manager", None, None
    if rep["id"] in seen:
        return f"{_label(rep)} is already on line {seen[rep['id']]}", None, None
    seen[rep["id"]] = line.number
    return None, rep, manager if isinstance(manager, dict) else None


def write_all(
    engine: Engine,
    report: Report,
    planned: list[tuple[Line, dict[str, Any], dict[str, Any] | None]],
    now: Callable[[], Any],
) -> None:
    stamp = now()
    with unit_of_work(engine) as session:
        for line, rep, manager in planned:
            person = upsert_from_slack(session=session, team_id=report.team_id, user=rep, now=stamp)
            if manager is not None:
                upsert_from_slack(session=session, team_id=report.team_id, user=manager, now=stamp)
            person.manager_slack_id = manager["id"] if manager else None
            session.add(person)
            target = f"manager {_label(manager)}" if manager else "no manager"
            report.done.append(f"line {line.number}: {_label(rep)} -> {target}")
