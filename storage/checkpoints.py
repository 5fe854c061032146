"""SQLite's WAL checkpoints, moved off the server's requests.

By default the connection whose commit takes the write-ahead log past 1,000 pages copies
the log back into the database file there and then: thousands of page writes and two
syncs inside that commit. Under a burst of CRM deliveries that is every few dozen intake
transactions, and every delivery waiting for the next one waited for it too (stalls of
30 ms and more, measured by bench/crm_webhook). The HTTP server's engine therefore never
checkpoints on commit (`make_engine(..., background_checkpoints=True)`); a thread of the
server does it every second on a connection of its own, in PASSIVE mode: it never waits
for, nor blocks, a writer or a reader. Other processes (the dispatcher child, the CLI)
keep SQLite's default."""

from __future__ import annotations

import logging
import sqlite3
import threading
import weakref

from sqlalchemy.engine import Engine

log = logging.getLogger(__name__)

EVERY_SECONDS = 1.0

_CHECKPOINTERS: weakref.WeakKeyDictionary[Engine, WalCheckpointer] = weakref.WeakKeyDictionary()


class WalCheckpointer:
    """One engine's checkpoints, on a thread started with the server and stopped with it."""

    def __init__(self, path: str, every: float = EVERY_SECONDS) -> None:
        self.path = path
        self.every = every
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def checkpoint_once(self) -> tuple[int, int, int]:
        """SQLite's answer: (busy, pages in the log, pages copied back)."""
        with sqlite3.connect(self.path, timeout=5) as conn:
            row = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        conn.close()
        return int(row[0]), int(row[1]), int(row[2])

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="wal-checkpoints", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread; one last checkpoint, so the log is small when the server ends."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        self._stop.set()
        thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self._checkpoint()
        self._checkpoint()

    def _checkpoint(self) -> None:
        try:
            self.checkpoint_once()
        except sqlite3.Error as e:  # a busy or vanished file: the next second tries again
            log.warning("WAL checkpoint of %s failed: %s", self.path, e)


def register(engine: Engine, path: str) -> WalCheckpointer:
    checkpointer = WalCheckpointer(path)
    _CHECKPOINTERS[engine] = checkpointer
    return checkpointer


def checkpointer_of(engine: Engine) -> WalCheckpointer | None:
    """The engine's background checkpointer, for an engine made to have one."""
    return _CHECKPOINTERS.get(engine)
