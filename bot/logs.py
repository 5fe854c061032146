"""Logging: one line per record on stderr, as text (default) or JSON (LOG_FORMAT=json)
for a log pipeline. Every record carries the ids of what it is about — the workspace,
the person, the nudge — from a context the request middleware and the dispatcher set,
so a line can be found by who it concerns without putting anything private in it.

Never in a log line: tokens (redacted even from a library's debug line) and message
text (our own log calls name ids and kinds, never what someone typed)."""

from __future__ import annotations

import contextvars
import json
import logging
import re
from datetime import UTC, datetime
from typing import Any

LOG_FORMATS = ("text", "json")
_ids: contextvars.ContextVar[dict[str, str] | None] = contextvars.ContextVar(
    "log_ids", default=None
)


def bind_ids(**ids: object) -> None:
    """Set what the current request or send is about (team, user, nudge). Replaces the
    whole set, so ids of an earlier unit of work never stick to the next one."""
    _ids.set({key: str(value) for key, value in ids.items() if value not in (None, "")})


def current_ids() -> dict[str, str]:
    return dict(_ids.get() or {})


class RedactSecrets(logging.Filter):
    """Belt and braces: even a library's debug line must never show a token."""

    PATTERN = re.compile(r"(xox[abposre]|xapp)-[A-Za-z0-9-]+")

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if self.PATTERN.search(message):
            record.msg = self.PATTERN.sub(r"\1-***", message)
            record.args = ()
        return True


class WithIds(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.ids = _ids.get() or {}
        return True


class JsonFormatter(logging.Formatter):
    def __init__(self, process_name: str | None = None) -> None:
        super().__init__()
        self.process_name = process_name

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
            "pid": record.process,
        }
        if self.process_name:
            line["process"] = self.process_name
        line.update(getattr(record, "ids", {}) or {})
        if record.exc_info and record.exc_info[0] is not None:
            line["error"] = record.exc_info[0].__name__
            line["traceback"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def configure_logging(level: str, *, process: str | None = None, log_format: str = "text") -> None:
    """`process`: a name for this process's lines, when another one writes to the same
    stderr (the dispatcher child of `feedback-loop run`)."""
    handler = logging.StreamHandler()
    handler.addFilter(RedactSecrets())
    handler.addFilter(WithIds())
    if log_format == "json":
        handler.setFormatter(JsonFormatter(process))
    else:
        tag = f"{process}[%(process)d] " if process else ""
        handler.setFormatter(
            logging.Formatter(f"%(asctime)s %(levelname)s {tag}%(name)s: %(message)s")
        )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Alembic says "Context impl SQLiteImpl" on every check; `migrate` prints its summary.
    logging.getLogger("alembic").setLevel(max(logging.WARNING, root.level))
