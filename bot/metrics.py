"""Prometheus metrics for `GET /metrics`.

Counted where they happen: requests and their ack latency in the server, Slack Web API
errors and 429s in an observer on every client we build (it sees each response before
the retry decision). Read from the database at scrape time: nudges by kind and state,
and the dispatcher's lag (how long the oldest due nudge has waited), since the dispatcher
may be another process or another replica.

The default dispatcher is a child process: `feedback-loop run` points both at one
directory (PROMETHEUS_MULTIPROC_DIR, prometheus_client's multiprocess mode), so the
child's 429s and errors show in the server's `/metrics` too. Nothing here imports
prometheus_client at module level: the mode is fixed when it is first imported, which
must come after the CLI has set that directory."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any
from urllib.parse import urlparse

from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# Seconds: an ack must come within 3 s; most take a few milliseconds.
ACK_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0)
# Request kinds are a closed set, so a forged body cannot grow the label space.
REQUEST_KINDS = frozenset(
    {
        "event",
        "command",
        "block_actions",
        "view_submission",
        "view_closed",
        "shortcut",
        "message_action",
        "block_suggestion",
        "url_verification",
        "refused",
        "other",
    }
)
# What a scrape reads from the database: (kind, state) -> count, and the oldest due time.
NudgeReader = Callable[[], tuple[dict[tuple[str, str], int], datetime | None, datetime]]


def request_kind(body: dict[str, Any]) -> str:
    """A parsed Slack request body's kind, for the `kind` label."""
    if "command" in body:
        return "command"
    kind = body.get("type")
    if kind == "event_callback":
        return "event"
    return kind if isinstance(kind, str) and kind in REQUEST_KINDS else "other"


def _method(url: str) -> str:
    path = urlparse(url).path
    if "/api/" not in path:
        # files_upload_v2 posts the bytes to a one-time URL: one label, not one per file.
        return "files.upload"
    return path.rsplit("/", 1)[-1] or "unknown"


class Metrics:
    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Histogram

        # Each runtime its own registry: two apps in one process (the tests) never
        # share counts. In multiprocess mode the values live in the directory instead.
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "feedback_loop_requests",
            "Requests from Slack, by kind and HTTP status",
            ["kind", "status"],
            registry=self.registry,
        )
        self.ack_seconds = Histogram(
            "feedback_loop_ack_seconds",
            "Time from a request's arrival to its HTTP response (the ack)",
            ["kind"],
            buckets=ACK_BUCKETS,
            registry=self.registry,
        )
        self.slack_errors = Counter(
            "feedback_loop_slack_api_errors",
            "Slack Web API calls that failed, by method and error",
            ["method", "error"],
            registry=self.registry,
        )
        self.rate_limited = Counter(
            "feedback_loop_slack_rate_limited",
            "Slack Web API responses with HTTP 429, by method",
            ["method"],
            registry=self.registry,
        )
        self.nudge_reader: NudgeReader | None = None

    def observer(self) -> SlackCallObserver:
        return SlackCallObserver(self)

    def exposition(self) -> tuple[bytes, str]:
        """The text a scrape gets, and its content type."""
        from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

        counted: Any = self.registry
        if os.environ.get(MULTIPROC_ENV):
            from prometheus_client import multiprocess

            counted = CollectorRegistry()
            multiprocess.MultiProcessCollector(counted)
        return generate_latest(_Scrape(counted, self.nudge_reader)), CONTENT_TYPE_LATEST


class _Scrape:
    """What one scrape collects: the counters, then the nudge table read afresh."""

    def __init__(self, counted: Any, read: NudgeReader | None) -> None:
        self.counted = counted
        self.read = read

    def collect(self) -> Iterator[Any]:
        yield from self.counted.collect()
        if self.read is not None:
            yield from _NudgeCollector(self.read).collect()


class _NudgeCollector:
    def __init__(self, read: NudgeReader) -> None:
        self.read = read

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        counts, oldest_due, now = self.read()
        nudges = GaugeMetricFamily(
            "feedback_loop_nudges", "Nudge rows by kind and state", labels=["kind", "state"]
        )
        for (kind, state), n in sorted(counts.items()):
            nudges.add_metric([kind, state], n)
        yield nudges
        lag = 0.0 if oldest_due is None else max(0.0, (now - oldest_due).total_seconds())
        yield GaugeMetricFamily(
            "feedback_loop_dispatcher_lag_seconds",
            "How long the oldest due nudge has waited to be sent (0: none waiting)",
            value=lag,
        )


class SlackCallObserver(AsyncRetryHandler):
    """Sees every Web API response (slack_sdk asks each retry handler about each one)
    and counts errors and 429s; never asks for a retry itself. First in the list, so it
    sees a 429 before the rate-limit handler retries it."""

    def __init__(self, metrics: Metrics) -> None:
        super().__init__(max_retry_count=0)
        self.metrics = metrics

    async def can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        # Overridden whole: the base class skips handlers whose retry count is spent,
        # and this one must see every call.
        method = _method(request.url)
        if error is not None:
            self.metrics.slack_errors.labels(method, type(error).__name__).inc()
        elif response is not None:
            if response.status_code == 429:
                self.metrics.rate_limited.labels(method).inc()
            elif isinstance(response.body, dict) and response.body.get("ok") is False:
                error_code = str(response.body.get("error", "unknown"))[:64]
                self.metrics.slack_errors.labels(method, error_code).inc()
            elif response.status_code >= 500:
                self.metrics.slack_errors.labels(method, f"http_{response.status_code}").inc()
        return False

    async def _can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        return False
