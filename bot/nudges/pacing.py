"""Pacing: how fast the dispatcher may post to one workspace.

Slack limits chat.postMessage to about one message per second per channel, with short
bursts, and to "several hundred per minute" per workspace. Every nudge goes to a
different DM, so the workspace limit is the one a 17:30 burst for a whole team meets.
A token bucket per workspace keeps the dispatcher under it: the bucket refills at
SEND_RATE tokens a second up to a small burst, each post takes one token, and a 429
both pauses the workspace until Retry-After and halves its rate, which then climbs back
a little with every post that goes through (so one slow minute at Slack does not keep
the whole evening slow).

Time comes from the injected clock, so the tests can watch the rate without sleeping.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

# A post is allowed this many seconds' worth of tokens at once, and never fewer than
# MIN_BURST: Slack tolerates short bursts, and a handful of nudges falling due together
# (one team's reflections in a test, a manager and a rep) should go out together.
BURST_SECONDS = 1.0
MIN_BURST = 5.0
# After 429s the rate never drops below this share of SEND_RATE.
FLOOR_SHARE = 1 / 16
# Each post that goes through gives back this share of SEND_RATE after a slow-down.
RECOVERY_SHARE = 1 / 20


@dataclass
class Bucket:
    target: float  # SEND_RATE: what the workspace is allowed when all is well
    rate: float  # what it gets now (lower after a 429)
    burst: float
    tokens: float
    updated: datetime
    paused_until: datetime | None = None

    def _refill(self, now: datetime) -> None:
        start = self.updated
        if self.paused_until is not None:
            if now < self.paused_until:
                self.updated = max(self.updated, now)
                return
            start = max(start, self.paused_until)
            self.paused_until = None
        elapsed = (now - start).total_seconds()
        if elapsed > 0:
            self.tokens = min(self.burst, self.tokens + elapsed * self.rate)
        self.updated = max(self.updated, now)

    def available(self, now: datetime) -> int:
        self._refill(now)
        return max(0, math.floor(self.tokens + 1e-9))

    def take(self, now: datetime) -> bool:
        self._refill(now)
        if self.tokens + 1e-9 < 1:
            return False
        self.tokens -= 1
        return True

    def ready_at(self, now: datetime) -> datetime:
        """When the next token is there (now if it already is)."""
        self._refill(now)
        if self.paused_until is not None and now < self.paused_until:
            start, tokens = self.paused_until, self.tokens
        else:
            start, tokens = now, self.tokens
        if tokens + 1e-9 >= 1:
            return start
        return start + timedelta(seconds=(1 - tokens) / self.rate)


class Pacer:
    """One token bucket per workspace."""

    def __init__(self, rate: float, *, burst: float | None = None) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.burst = burst if burst is not None else max(MIN_BURST, rate * BURST_SECONDS)
        self.buckets: dict[str, Bucket] = {}
        self.rate_limited_count = 0

    def bucket(self, team_id: str, now: datetime) -> Bucket:
        found = self.buckets.get(team_id)
        if found is None:
            found = Bucket(
                target=self.rate, rate=self.rate, burst=self.burst, tokens=self.burst, updated=now
            )
            self.buckets[team_id] = found
        return found

    def available(self, team_id: str, now: datetime) -> int:
        return self.bucket(team_id, now).available(now)

    def take(self, team_id: str, now: datetime) -> bool:
        return self.bucket(team_id, now).take(now)

    def ready_at(self, team_id: str, now: datetime) -> datetime:
        return self.bucket(team_id, now).ready_at(now)

    def blocked(self, now: datetime) -> dict[str, datetime]:
        """Workspaces that may not post now, and when they may."""
        return {team: b.ready_at(now) for team, b in self.buckets.items() if b.available(now) < 1}

    def paused(self, team_id: str, now: datetime) -> bool:
        """Told by Slack to wait (a 429 whose Retry-After has not passed)."""
        b = self.buckets.get(team_id)
        return b is not None and b.paused_until is not None and now < b.paused_until

    def sent(self, team_id: str, now: datetime) -> None:
        """A post went through: creep back towards SEND_RATE after a slow-down."""
        b = self.bucket(team_id, now)
        if b.rate < b.target:
            b._refill(now)
            b.rate = min(b.target, b.rate + b.target * RECOVERY_SHARE)

    def rate_limited(self, team_id: str, now: datetime, retry_after: float) -> None:
        """Slack said 429: nothing more for this workspace until Retry-After, then slower."""
        b = self.bucket(team_id, now)
        b._refill(now)
        self.rate_limited_count += 1
        b.tokens = 0.0
        b.rate = max(b.target * FLOOR_SHARE, b.rate / 2)
        until = now + timedelta(seconds=max(retry_after, 0.0))
        b.paused_until = max(b.paused_until or until, until)
        b.updated = now
