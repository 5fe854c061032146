"""The nudge kinds registry: plain data, the way job queues declare their tasks.

Each ritual module declares its kinds of nudge (`NUDGE_KINDS`: how one looks, what
happens once it is sent, how late it may go out and what quiet time does to it), and the
factories of its planners (`PLANNERS`, run at every dispatcher tick) and quiet checks
(`QUIET_CHECKS`). The composition root (bot/app.py) collects them into one `Registry`
and hands it to both the Bolt app and the dispatcher, so `feedback-loop dispatch` learns
the kinds without building a Bolt app, and delivery stays ignorant of rituals.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from bot.runtime import Runtime
    from storage.models import Nudge, Person


class Renderable(Protocol):
    """What a renderer returns: a `Message`, or the message builders' `Built`."""

    @property
    def text(self) -> str: ...

    @property
    def blocks(self) -> list[dict[str, Any]]: ...


Renderer = Callable[["Runtime", "Nudge", "Person"], Awaitable[Renderable | None]]
AfterSent = Callable[["Runtime", "Nudge", str, str], Awaitable[None]]
# Returns when a quiet person may next be nudged (None: not quiet now).
QuietCheck = Callable[["Runtime", "Nudge", "Person"], Awaitable[datetime | None]]
# Runs at the start of every tick, before due rows are claimed (end-of-day reflections,
# weekly digests: it makes sure the next recurring nudges exist).
Planner = Callable[["Runtime"], Awaitable[None]]


@dataclass(frozen=True)
class KindPolicy:
    """How a kind of nudge behaves when it cannot go out on time.

    max_late: past its due time by more than this, it is skipped instead of sent
      (an end-of-day reflection at 3 a.m. makes no sense; a concern check-in a day
      late still does). None = always worth sending.
    when_quiet: "wait" keeps it until the person is reachable again; "skip" drops it.
    respects_quiet: False for messages the person asked for just now (a deal DM
      they triggered themselves), which go out even while snoozed.
    collapse_missed: for recurring kinds. When several of one person's nudges of this
      kind are due at once (the bot was down over several slots), only the newest is
      sent; the older ones are skipped (storage.nudges.collapse_missed).
    early: the noise budget may send it up to an hour before it is due, in the same DM
      as something due now (bot/nudges/budget.py). False for a nudge whose content
      depends on the hour before it (the weekly digest reports that evening's
      reflection)."""

    max_late: timedelta | None = None
    when_quiet: str = "wait"
    respects_quiet: bool = True
    collapse_missed: bool = False
    early: bool = True


@dataclass(frozen=True)
class NudgeKind:
    name: str
    render: Renderer
    after_sent: AfterSent | None = None
    policy: KindPolicy = field(default_factory=KindPolicy)


@dataclass
class Registry:
    """Per runtime, never global: two apps in one process (tests, the demo) never share
    a planner's or a quiet check's state."""

    kinds: dict[str, NudgeKind] = field(default_factory=dict)
    planners: list[Planner] = field(default_factory=list)
    quiet_checks: list[QuietCheck] = field(default_factory=list)

    def add(self, *kinds: NudgeKind) -> None:
        for kind in kinds:
            if kind.name in self.kinds and self.kinds[kind.name] != kind:
                raise ValueError(f"nudge kind {kind.name!r} is declared twice")
            self.kinds[kind.name] = kind

    def policy(self, name: str) -> KindPolicy:
        kind = self.kinds.get(name)
        return kind.policy if kind is not None else KindPolicy()

    @classmethod
    def collect(cls, declarations: Iterable[Any]) -> Registry:
        """A registry from modules (or any objects) declaring NUDGE_KINDS, PLANNERS and
        QUIET_CHECKS; the last two hold factories, called once per registry."""
        registry = cls()
        for source in declarations:
            registry.add(*getattr(source, "NUDGE_KINDS", ()))
            registry.planners.extend(make() for make in getattr(source, "PLANNERS", ()))
            registry.quiet_checks.extend(make() for make in getattr(source, "QUIET_CHECKS", ()))
        return registry
