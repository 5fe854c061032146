"""Schema migrations: the models and the migrations agree (autogenerate finds nothing)
on SQLite and PostgreSQL; a database made by release 0.1.0 (create_all, no version)
upgrades with its data intact; a database behind is refused at start-up with one line
saying what to run, or upgraded when AUTO_MIGRATE is on."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text
from sqlmodel import Session, SQLModel, select

from bot.cli import main
from storage import schema
from storage.db import make_engine
from storage.models import Deal, Nudge, Person, Reflection, RitualRun
from storage.schema import compare_type

FIXTURES = Path(__file__).resolve().parents[1] / "support" / "fixtures"


def differences(url: str) -> list[object]:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": compare_type})
            return list(compare_metadata(context, SQLModel.metadata))
    finally:
        engine.dispose()


def test_the_migrations_make_exactly_the_models_schema(db_url: str) -> None:
    engine = make_engine(db_url)
    schema.upgrade(engine)
    assert schema.is_current(engine)
    engine.dispose()
    assert differences(db_url) == []


def test_the_agreement_check_sees_a_column_the_migrations_lack(db_url: str) -> None:
    """The check above can fail: a column dropped behind Alembic's back is found."""
    engine = make_engine(db_url)
    schema.upgrade(engine)
    with engine.begin() as connection:
        connection.execute(text("ALTER TABLE reflection DROP COLUMN better"))
    engine.dispose()
    assert any("better" in repr(diff) for diff in differences(db_url))


def release_0_1_0_sqlite(path: Path) -> str:
    con = sqlite3.connect(path)
    con.executescript((FIXTURES / "release_0_1_0.sqlite.sql").read_text())
    con.close()
    return f"sqlite:///{path}"


def release_0_1_0_postgresql(url: str) -> None:
    """PostgreSQL has no dump of its own here: revision 0001 is release 0.1.0's schema;
    without its version row it is what that release's create_all left."""
    engine = make_engine(url)
    schema.upgrade(engine, "0001")
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE alembic_version"))
        connection.execute(
            text(
                "INSERT INTO deal (team_id, account, outcome, amount, currency, rep_slack_id,"
                " source, status, revision, created_at) VALUES ('T0001', 'Globex', 'lost',"
                " 48000, 'USD', 'U0RITA', 'channel', 'active', 0, '2026-11-20 15:00:00')"
            )
        )
        connection.execute(
            text(
                "INSERT INTO reflection (team_id, user_slack_id, local_date, went, short,"
                " better) VALUES ('T0001', 'U0RITA', '2026-11-20', 'Good call', 'x', 'y')"
            )
        )
    engine.dispose()


def test_a_release_0_1_0_sqlite_database_upgrades_with_its_data(tmp_path: Path) -> None:
    url = release_0_1_0_sqlite(tmp_path / "old.db")
    engine = make_engine(url)
    assert schema.current(engine) is None and not schema.is_empty(engine)
    with pytest.raises(schema.SchemaOutOfDate, match="feedback-loop migrate"):
        schema.prepare(engine, auto_migrate=False)

    schema.upgrade(engine)
    assert schema.is_current(engine)
    with Session(engine) as session:
        [deal] = session.exec(select(Deal)).all()
        assert (deal.account, deal.outcome, str(deal.amount)) == ("Globex", "lost", "48000.00")
        [run] = session.exec(select(RitualRun)).all()
        assert run.data["guess"] == "Our price was too high"
        assert {n.state for n in session.exec(select(Nudge)).all()} == {"sent", "pending"}
        assert session.exec(select(Reflection)).one().better == "Ask about timing first"
        rita = session.exec(select(Person).where(Person.slack_id == "U0RITA")).one()
        assert rita.manager_slack_id == "U0MANNY"
    engine.dispose()
    assert differences(url) == []


@pytest.mark.postgres
def test_a_release_0_1_0_postgresql_database_upgrades_with_its_data(db_url: str) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("the PostgreSQL variant")
    release_0_1_0_postgresql(db_url)
    engine = make_engine(db_url)
    assert schema.current(engine) is None
    schema.upgrade(engine)
    assert schema.is_current(engine)
    with Session(engine) as session:
        assert session.exec(select(Deal)).one().account == "Globex"
        assert session.exec(select(Reflection)).one().went == "Good call"
    engine.dispose()
    assert differences(db_url) == []


def test_run_refuses_an_old_schema_in_one_line_and_auto_migrate_upgrades_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = release_0_1_0_sqlite(tmp_path / "old.db")
    for key, value in {
        "DATABASE_URL": url,
        "SLACK_BOT_TOKEN": "xoxb-test",
        "SLACK_SIGNING_SECRET": "secret",
        "SLACK_APP_TOKEN": "",
        "SLACK_API_URL": "http://127.0.0.1:9/api/",
        "AUTO_MIGRATE": "",
    }.items():
        monkeypatch.setenv(key, value)
    assert main(["dispatch"]) == 2
    lines = [line for line in capsys.readouterr().err.splitlines() if "schema" in line]
    assert len(lines) == 1 and "run `feedback-loop migrate`" in lines[0]

    assert main(["migrate"]) == 0
    assert "upgraded" in capsys.readouterr().out
    engine = make_engine(url)
    assert schema.is_current(engine)
    engine.dispose()


def test_auto_migrate_upgrades_at_start_up(tmp_path: Path) -> None:
    url = release_0_1_0_sqlite(tmp_path / "old.db")
    engine = make_engine(url)
    schema.prepare(engine, auto_migrate=True)
    assert schema.is_current(engine)
    engine.dispose()


def test_an_empty_database_gets_the_schema_without_asking(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'new.db'}")
    schema.prepare(engine, auto_migrate=False)
    assert schema.is_current(engine)
    engine.dispose()
