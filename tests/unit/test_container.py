"""The container image's shape, checked where Docker itself is not available (CI here):
a slim Python base, a non-root user, the app installed from its wheel, HTTP mode as the
command and a health check on /healthz; and that the wheel it installs builds and carries
the script and word files the bot cannot start without."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def _instructions() -> list[tuple[str, str]]:
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def _final_stage() -> list[tuple[str, str]]:
    steps = _instructions()
    last_from = max(i for i, (word, _) in enumerate(steps) if word == "FROM")
    return steps[last_from:]


def test_the_final_stage_is_a_slim_python_base() -> None:
    [(_, base)] = _final_stage()[:1]
    assert base.startswith("python:3.1") and base.endswith("-slim"), base


def test_it_runs_as_a_user_that_is_not_root_before_the_command() -> None:
    words = [word for word, _ in _final_stage()]
    users = [rest for word, rest in _final_stage() if word == "USER"]
    assert users and users[-1] not in ("root", "0"), users
    assert words.index("USER") < words.index("CMD")


def test_the_command_is_http_mode_and_the_health_check_asks_healthz() -> None:
    steps = dict(_final_stage())
    assert shlex.split(steps["CMD"].strip("[]").replace(",", " ")) == [
        "feedback-loop",
        "run",
        "--http",
    ]
    assert "/healthz" in steps["HEALTHCHECK"]
    assert "EXPOSE" in steps


def test_the_image_installs_the_wheel_and_no_source_tree() -> None:
    final = _final_stage()
    runs = " ".join(rest for word, rest in final if word == "RUN")
    assert "pip install" in runs and ".whl" in runs and "[postgres]" in runs
    copies = [rest for word, rest in final if word == "COPY"]
    assert copies and all(rest.startswith("--from=build") for rest in copies), copies


def test_compose_runs_postgresql_and_two_replicas_sharing_the_send_budget() -> None:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    services = compose["services"]
    assert services["db"]["image"].startswith("postgres:")
    bot = services["bot"]
    assert bot["deploy"]["replicas"] == 2
    assert bot["environment"]["DATABASE_URL"].startswith("postgresql://")
    assert float(bot["environment"]["SEND_RATE"]) <= 0.5
    assert bot["depends_on"]["db"]["condition"] == "service_healthy"


def test_the_wheel_builds_and_carries_the_script_and_word_files(tmp_path: Path) -> None:
    # Built from a copy, as the image's first stage does: the build leaves no trace here.
    source = tmp_path / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    for package in ("bot", "handlers", "storage"):
        shutil.copytree(
            ROOT / package, source / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(tmp_path), "."],
        cwd=source,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    [wheel] = tmp_path.glob("feedback_loop-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for lang in ("en", "es", "fr"):
        assert f"bot/messages/scripts/{lang}.toml" in names
        assert f"bot/deals/words/{lang}.toml" in names
    assert any(name.startswith("handlers/") for name in names)
    assert any(name.startswith("storage/") for name in names)
    # The migrations ship with the app: `feedback-loop migrate` runs in the container.
    assert "storage/migrations/env.py" in names
    assert any(name.startswith("storage/migrations/versions/0001") for name in names)
    assert not any(name.startswith("tests/") for name in names)
