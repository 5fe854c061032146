"""The real bot over HTTP on a database bench/export.py filled, for timing a command end
to end: the ack (the HTTP answer to Slack's signed request) and the delivery (the report
posted to the response_url, the export's files uploaded), both as the local Slack
stand-in receives them, and the bot's peak memory. Used by bench/report.py and
bench/export.py.

The bot runs as `python -m bot.cli run --http` in a process of its own (with its default
dispatcher child), like a deployment; the stand-in and the requests come from this one."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.devkit.requests import SlackRequests  # noqa: E402
from bot.devkit.standin import SlackStandIn  # noqa: E402

START_TIMEOUT = 60.0
ADMIN = "U0ADMIN"
MANAGER = "U0M0000"  # manages U0R00000-U0R00009 in bench/export.py's data
REP = "U0R00000"
VIEWERS = (("admin (everyone)", ADMIN), ("manager (10 reps)", MANAGER), ("rep", REP))


@dataclass(frozen=True)
class Timing:
    ack: float  # seconds from sending the request to its HTTP answer
    delivered: float  # seconds from sending it to the stand-in receiving the result
    status: int
    cpu: float  # CPU seconds the bot's process spent meanwhile (whatever the machine's load)
    standin_cpu: float  # CPU seconds this process (the stand-in receiving it) spent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of the process so far (/proc/<pid>/stat), NaN where none."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def load_average() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident memory (VmHWM), in MB; NaN where /proc has none."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


class LiveBot:
    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self.secret = secrets.token_hex(16)
        self.standin = SlackStandIn(validate_blocks=False).start()
        self.standin.add_user(ADMIN, name="ada", is_admin=True)
        for user in (MANAGER, REP):
            self.standin.add_user(user, name=user.lower())
        self.requests = SlackRequests(self.secret)
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}/slack/events"
        self._tmp = tempfile.TemporaryDirectory()
        self.log = Path(self._tmp.name) / "bot.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> LiveBot:
        env = {
            **os.environ,
            "SLACK_BOT_TOKEN": self.standin.token,
            "SLACK_SIGNING_SECRET": self.secret,
            "SLACK_API_URL": self.standin.api_url,
            "SLACK_APP_TOKEN": "",
            "DATABASE_URL": self.database_url,
            "LOG_LEVEL": "WARNING",
            # The trend chart is a second upload after the report; timed without it.
            "REPORT_CHARTS": "off",
        }
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "bot.cli", "run", "--http", "--host", "127.0.0.1"]
                + ["--port", str(self.port)],
                env=env,
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._wait_healthy()
        self._settle()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.proc is not None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(30)
        self.standin.stop()
        self._tmp.cleanup()

    def _wait_healthy(self) -> None:
        assert self.proc is not None
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                tail = self.log.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"the bot exited:\n{tail}")
            try:
                with opener.open(f"http://127.0.0.1:{self.port}/healthz", timeout=2) as resp:
                    if resp.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.1)
        raise RuntimeError("the bot did not answer /healthz")

    def _settle(self, quiet: float = 0.05, limit: float = 20.0) -> None:
        """Wait until the bot and its dispatcher child have started (their imports and
        first ticks take a couple of CPU-seconds): until both spent under `quiet`
        CPU-seconds in a second, at most `limit` seconds. Otherwise the first command
        measures the start, not itself."""
        assert self.proc is not None
        pids = [self.proc.pid]
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        deadline = time.monotonic() + limit
        before = -1.0
        while time.monotonic() < deadline:
            if children.exists():
                pids = [self.proc.pid, *(int(p) for p in children.read_text().split())]
            now = sum(cpu_seconds(pid) for pid in pids)
            if before >= 0 and now - before < quiet:
                return
            before = now
            time.sleep(1.0)

    def command(self, user: str, text: str, *, delivered_by: str, timeout: float = 120) -> Timing:
        """`/loop <text>` from `user`: the ack, then the first new call to `delivered_by`
        ("response_url" for the report, "files.completeUploadExternal" for an export)."""
        before = len(self.standin.calls_to(delivered_by))
        request = self.requests.slash_command(
            text, user=user, response_url=self.standin.response_url("commands")
        )
        assert self.proc is not None
        cpu = cpu_seconds(self.proc.pid)
        own = time.process_time()
        started = time.perf_counter()
        result = request.post(self.url, timeout=timeout)
        ack = time.perf_counter() - started
        self.standin.wait_for(delivered_by, before + 1, timeout=timeout)
        delivered = time.perf_counter() - started
        return Timing(
            ack,
            delivered,
            result.status,
            cpu_seconds(self.proc.pid) - cpu,
            time.process_time() - own,
        )

    def peak_rss_mb(self) -> float:
        assert self.proc is not None
        return peak_rss_mb(self.proc.pid)
