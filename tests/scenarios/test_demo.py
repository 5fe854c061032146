"""`feedback-loop demo` — the README's first command — shows the real flow, no tokens."""

from __future__ import annotations

import pytest

from bot.cli import main


def test_demo_shows_the_reps_dm_the_helped_plan_and_help(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "GLOBEX WENT ANOTHER WAY" in out
    assert "[ Heard ]  [ Helped ]  [ Hugged ]" in out
    assert "Rita clicks [ Helped ]" in out and "plan" in out
    assert "/loop deal won|lost|no-decision" in out
