"""The dispatcher as a child process of the server, supervised.

Sending a nudge costs CPU (the claim and the settles, rendering, the HTTP call): about
13 ms each, measured. In the server's process that work takes turns with the acks
under one GIL, so a busy dispatcher shows up in `/loop help`'s p99. In a process of its
own it only shares the machine's cores. `feedback-loop run` (DISPATCHER=process, the
default) therefore starts `feedback-loop dispatch --supervised` once it listens:

- the child builds its own runtime and registry from the same settings, and its log
  lines go to the same stderr, marked `dispatcher[pid]`;
- if it dies it is started again, after 1 s, then 2, 4 ... up to a minute while it
  keeps dying early (a child that ran for a while starts over at 1 s);
- when the server stops, the child gets SIGTERM: it finishes the send in flight, hands
  back what it had claimed and exits; after STOP_TIMEOUT it is killed (its leases
  then run out and another dispatcher takes the rows back);
- the child keeps the server's CPU priority: at a lower one it could be preempted
  while it holds the database's write lock (SQLite) or a row's lock, and the server's
  writes would wait behind it;
- the child reads its standard input, a pipe from the server, and stops when it
  closes: a server killed with SIGKILL leaves no dispatcher behind. It ignores
  Ctrl-C, which a terminal sends to both; the server passes it on as SIGTERM.

The child stays in the server's process group, so whoever stops or pauses the
server's group (a terminal, a benchmark) reaches both.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Sequence

log = logging.getLogger(__name__)

FIRST_DELAY = 1.0
MAX_DELAY = 60.0
# A child that ran this long was healthy: the next restart waits FIRST_DELAY again.
HEALTHY_AFTER = 60.0
STOP_TIMEOUT = 30.0


def dispatch_argv() -> list[str]:
    """`feedback-loop dispatch --supervised`, with this interpreter (the same virtualenv)."""
    return [sys.executable, "-m", "bot.cli", "dispatch", "--supervised"]


class DispatcherProcess:
    """Starts the child, restarts it with back-off, stops it with SIGTERM. `start` and
    `shutdown` are called on the server's event loop, as the in-process Dispatcher's."""

    def __init__(
        self,
        argv: Sequence[str] | None = None,
        *,
        first_delay: float = FIRST_DELAY,
        max_delay: float = MAX_DELAY,
        healthy_after: float = HEALTHY_AFTER,
        stop_timeout: float = STOP_TIMEOUT,
    ) -> None:
        self.argv = list(argv) if argv is not None else dispatch_argv()
        self.first_delay = first_delay
        self.max_delay = max_delay
        self.healthy_after = healthy_after
        self.stop_timeout = stop_timeout
        self.starts = 0
        self._proc: asyncio.subprocess.Process | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._wake_soon = False

    @property
    def pid(self) -> int | None:
        proc = self._proc
        return proc.pid if proc is not None and proc.returncode is None else None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(
            self._supervise(), name="dispatcher-process"
        )

    def wake(self) -> None:
        """Tell the child a nudge is due now (a byte on its standard input), so it drains
        at once instead of at its next tick. Never blocks: while an earlier byte is still
        unread, the child will drain anyway and nothing more is written. The deals of one
        intake batch are answered together: their wake-ups make one byte, written once
        the loop comes round (one system call, and one drain in the child, not one each)."""
        if not self._wake_soon:
            self._wake_soon = True
            asyncio.get_running_loop().call_soon(self._write_wake)

    def _write_wake(self) -> None:
        self._wake_soon = False
        proc = self._proc
        stdin = proc.stdin if proc is not None and proc.returncode is None else None
        if stdin is None or stdin.is_closing():
            return
        if stdin.transport.get_write_buffer_size() == 0:
            with contextlib.suppress(OSError, RuntimeError):
                stdin.write(b"\n")

    def shutdown(self) -> None:
        """Stop restarting and ask the child to stop (it hands back what it claimed)."""
        self._stopping.set()
        self._signal(signal.SIGTERM)

    async def stopped(self, timeout: float | None = None) -> None:
        """Wait for the child to exit; kill it if it takes longer than the timeout."""
        if self._task is None:
            return
        limit = self.stop_timeout if timeout is None else timeout
        done, _ = await asyncio.wait([self._task], timeout=limit)
        if not done:
            log.error("dispatcher process %s did not stop within %.0fs: killed", self.pid, limit)
            self._signal(signal.SIGKILL)
            await asyncio.wait([self._task], timeout=5)

    def _signal(self, sig: signal.Signals) -> None:
        proc = self._proc
        if proc is not None and proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(sig)

    async def _supervise(self) -> None:
        loop = asyncio.get_running_loop()
        delay = self.first_delay
        while not self._stopping.is_set():
            began = loop.time()
            code = await self._run_once()
            if self._stopping.is_set():
                return
            if loop.time() - began >= self.healthy_after:
                delay = self.first_delay
            log.error(
                "dispatcher process exited (%s); starting another in %gs", _exit_reason(code), delay
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=delay)
            delay = min(delay * 2, self.max_delay)

    async def _run_once(self) -> int | None:
        """One child, from start to exit; its exit status (None: it could not start)."""
        try:
            # stdin: the pipe whose closing tells the child that we are gone. stdout
            # and stderr: ours, so its log lines go where the server's go.
            proc = await asyncio.create_subprocess_exec(*self.argv, stdin=asyncio.subprocess.PIPE)
        except OSError as e:
            log.error("could not start the dispatcher process: %s", e)
            return None
        self._proc = proc
        self.starts += 1
        log.info("dispatcher process %d started", proc.pid)
        if self._stopping.is_set():
            # shutdown() came while the child was being started: it missed the signal.
            self._signal(signal.SIGTERM)
        try:
            return await proc.wait()
        finally:
            if proc.stdin is not None:
                proc.stdin.close()


def _exit_reason(code: int | None) -> str:
    if code is None:
        return "it could not start"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"status {code}"
