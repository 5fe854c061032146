"""What the concern, screen-out and tee-up runs keep in `RitualRun.data`, as typed models
(the debrief's and the manager call's are in storage/debriefs.py).

Like those, each is validated when read (`concern_data`, `screen_out_data`,
`tee_up_data`) and written through one function per ritual with exactly the keys that
were set, so the stored JSON keeps its shape: rows written before these models read
unchanged, and keys a model does not name pass through (`extra="allow"`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict

from storage.models import RitualRun


class ConcernAsk(BaseModel):
    """One answer to a concern's check-in."""

    model_config = ConfigDict(extra="allow")

    n: int | None = None  # the check-in answered; None when answered from the list
    answer: str
    at: str  # ISO time of the answer


class ConcernData(BaseModel):
    """A client's concern and the rep's answers to its check-ins."""

    model_config = ConfigDict(extra="allow")

    concern: str = ""
    asks: list[ConcernAsk] = []


class ScreenOutData(BaseModel):
    """A screen-out: the rep's answers, and where its review DM went."""

    model_config = ConfigDict(extra="allow")

    potential: str | None = None
    review_date: str | None = None  # ISO date the rep chose
    notes: str | None = None
    previous_run: int | None = None  # the screen-out this one reviews
    review_channel: str | None = None
    review_ts: str | None = None


class TeeUpData(BaseModel):
    """A tee-up answer: whether the rep agreed, to which DM, asked from where."""

    model_config = ConfigDict(extra="allow")

    agreed: bool | None = None  # what the account's later debrief reads
    nudge_id: int | None = None
    source: str | None = None


Data = TypeVar("Data", bound=BaseModel)


def concern_data(run: RitualRun) -> ConcernData:
    return ConcernData.model_validate(run.data or {})


def screen_out_data(run: RitualRun) -> ScreenOutData:
    return ScreenOutData.model_validate(run.data or {})


def tee_up_data(run: RitualRun) -> TeeUpData:
    return TeeUpData.model_validate(run.data or {})


def _write(run: RitualRun, model: type[Data], now: datetime, changes: dict[str, Any]) -> Data:
    data = model.model_validate({**(run.data or {}), **changes})
    # A new dict each time: SQLAlchemy only sees a JSON column change on assignment.
    run.data = data.model_dump(mode="json", exclude_unset=True)
    run.updated_at = now
    return data


def write_concern(run: RitualRun, now: datetime, **changes: Any) -> ConcernData:
    """The one way a concern's data changes: `changes` merged in and validated."""
    return _write(run, ConcernData, now, changes)


def write_screen_out(run: RitualRun, now: datetime, **changes: Any) -> ScreenOutData:
    """The one way a screen-out's data changes: `changes` merged in and validated."""
    return _write(run, ScreenOutData, now, changes)


def write_tee_up(run: RitualRun, now: datetime, **changes: Any) -> TeeUpData:
    """The one way a tee-up's data changes: `changes` merged in and validated."""
    return _write(run, TeeUpData, now, changes)
