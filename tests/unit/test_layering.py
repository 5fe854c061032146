"""The dependency rules hold (tests/layering.py says them), and the check itself fails
on a violation, so it cannot pass by seeing nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.layering import collect, violations

ROOT = Path(__file__).resolve().parents[2]

# Violations still being moved out, each removed by the commit that fixed it: none left.
# The list only shrinks: a new violation fails the test.
KNOWN: set[str] = set()


def _key(problem: str) -> str:
    # "module:line imports target — rule": the line number moves with every edit.
    head, _, rest = problem.partition(" imports ")
    return f"{head.split(':')[0]} imports {rest}" if rest else problem


def test_the_code_follows_the_dependency_rules() -> None:
    found = {_key(p) for p in violations(ROOT)}
    assert found - KNOWN == set(), "\n".join(sorted(found - KNOWN))


def test_the_known_list_only_names_what_is_still_there() -> None:
    found = {_key(p) for p in violations(ROOT)}
    assert KNOWN - found == set(), "fixed; remove from KNOWN: " + ", ".join(sorted(KNOWN - found))


def test_every_module_is_seen() -> None:
    modules, imports = collect(ROOT)
    assert {"bot.app", "bot.nudges.dispatcher", "storage.models", "handlers.deals"} <= modules
    assert len(imports) > 100


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in {"bot/__init__.py": "", "handlers/__init__.py": "", **files}.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    (tmp_path / "storage").mkdir(exist_ok=True)
    (tmp_path / "storage" / "__init__.py").write_text(files.get("storage/__init__.py", ""))
    return tmp_path


@pytest.mark.parametrize(
    ("files", "rule"),
    [
        ({"storage/models.py": "from bot import settings\n", "bot/settings.py": ""}, "rule 1"),
        ({"bot/messages/__init__.py": "import slack_sdk\n"}, "rule 2"),
        (
            {"bot/deals/__init__.py": "from storage import models\n", "storage/models.py": ""},
            "rule 2",
        ),
        ({"bot/nudges/__init__.py": "def f():\n    import handlers\n"}, "rule 3"),
        (
            {"handlers/deals.py": "from handlers import tee_up\n", "handlers/tee_up.py": ""},
            "rule 4",
        ),
        ({"bot/server.py": "import handlers\n"}, "rule 5"),
        (
            {"bot/server.py": "from bot.devkit import standin\n", "bot/devkit/standin.py": ""},
            "rule 6",
        ),
        (
            {"bot/a.py": "from bot import b\n", "bot/b.py": "def f():\n    from bot import a\n"},
            "import cycle",
        ),
    ],
)
def test_a_deliberate_violation_is_caught(tmp_path: Path, files: dict[str, str], rule: str) -> None:
    problems = violations(_tree(tmp_path, files))
    assert any(rule in p for p in problems), problems


def test_a_clean_tree_has_no_violations(tmp_path: Path) -> None:
    files = {
        "storage/models.py": "import sqlmodel\n",
        "bot/messages/__init__.py": "from bot.messages import blocks\n",
        "bot/messages/blocks.py": "",
        "handlers/deals.py": "from handlers import loop_command\nfrom storage import models\n",
        "handlers/loop_command.py": "",
        "bot/app.py": "import handlers\nfrom handlers import deals\n",
    }
    assert violations(_tree(tmp_path, files)) == []
