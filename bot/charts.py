"""The report's trend chart: deals by outcome per week, as a PNG.

matplotlib is an optional extra (`pip install "feedback-loop[charts]"`), so the base
install stays small; without it (or with REPORT_CHARTS=off) reports are tables only."""

from __future__ import annotations

import importlib.util
import io
from collections.abc import Mapping

OUTCOMES = ("won", "lost", "no_decision")
COLOURS = {"won": "#2eb67d", "lost": "#e01e5a", "no_decision": "#ecb22e"}


def available() -> bool:
    return importlib.util.find_spec("matplotlib") is not None


def outcome_trend_png(
    weeks: Mapping[str, Mapping[str, int]], labels: Mapping[str, str], title: str
) -> bytes | None:
    """Stacked bars, one per ISO week; None without matplotlib or with under two weeks
    of data (one bar is not a trend)."""
    if len(weeks) < 2 or not available():
        return None
    import matplotlib

    matplotlib.use("Agg")  # no screen: render to memory
    from matplotlib import pyplot as plt

    names = list(weeks)
    figure, axes = plt.subplots(figsize=(8, 3.6), dpi=110)
    bottom = [0] * len(names)
    for outcome in OUTCOMES:
        values = [weeks[w].get(outcome, 0) for w in names]
        axes.bar(names, values, bottom=bottom, color=COLOURS[outcome], label=labels[outcome])
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    axes.set_title(title)
    axes.legend(loc="upper left", frameon=False)
    axes.spines[["top", "right"]].set_visible(False)
    axes.tick_params(axis="x", labelrotation=45, labelsize=8)
    figure.tight_layout()
    out = io.BytesIO()
    figure.savefig(out, format="png")
    plt.close(figure)
    return out.getvalue()
