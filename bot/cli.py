"""`feedback-loop`: run the bot, run the demo, and the admin's commands."""

from __future__ import annotations

import argparse
import asyncio
import atexit
import contextlib
import gc
import logging
import re
import signal
import sys
from collections.abc import Iterator, Sequence

from bot.logs import configure_logging
from bot.settings import Settings, SettingsError, load_settings
from storage.schema import SchemaOutOfDate

NO_TOKEN_HELP = """\
SLACK_BOT_TOKEN is not set, so there is no Slack workspace to talk to.

To connect Feedback Loop to Slack:
  1. Go to https://api.slack.com/apps -> Create New App -> From a manifest,
     pick your workspace and paste the contents of manifest.yml.
  2. Install the app, then copy the Bot User OAuth Token (xoxb-...) and the
     Signing Secret (Basic Information) into .env:
         SLACK_BOT_TOKEN=xoxb-...
         SLACK_SIGNING_SECRET=...
     For Socket Mode (no public URL needed), also create an app-level token with
     connections:write and set SLACK_APP_TOKEN=xapp-...
  3. Run `feedback-loop run` again.

To serve many workspaces instead (OAuth install), set SLACK_CLIENT_ID,
SLACK_CLIENT_SECRET and SLACK_STATE_SECRET (and no SLACK_BOT_TOKEN); each workspace
then installs the app from GET /slack/install.

To see what the bot does without Slack, run:  feedback-loop demo
"""


def _settings_or_exit() -> Settings:
    try:
        return load_settings()
    except SettingsError as e:
        print(f"feedback-loop: configuration error: {e}", file=sys.stderr)
        raise SystemExit(2) from None


def cmd_run(args: argparse.Namespace) -> int:
    settings = _settings_or_exit()
    configure_logging(settings.log_level, log_format=settings.log_format)
    if not settings.slack_bot_token and not settings.oauth:
        print(NO_TOKEN_HELP, file=sys.stderr)
        return 1
    use_http = args.http or not settings.socket_mode
    if use_http and not settings.slack_signing_secret:
        print(
            "feedback-loop: configuration error: SLACK_SIGNING_SECRET: expected the app's "
            "Signing Secret (Basic Information page); HTTP mode cannot verify requests without it",
            file=sys.stderr,
        )
        return 2
    from bot.app import build_app
    from bot.messages.catalog import ScriptsError
    from bot.runtime import build_runtime
    from storage.db import make_engine

    if settings.dispatcher == "process":
        _share_metrics_with_the_dispatcher()
    try:
        # HTTP mode checkpoints SQLite's log on a thread of its own, not in the commits
        # its requests wait for (storage/checkpoints.py).
        engine = make_engine(settings.database_url, background_checkpoints=use_http)
        rt = build_runtime(settings, engine=engine)
    except ScriptsError as e:
        print(f"feedback-loop: scripts error: {e}", file=sys.stderr)
        return 2
    except SchemaOutOfDate as e:
        print(f"feedback-loop: {e}", file=sys.stderr)
        return 2
    app = build_app(rt)
    log = logging.getLogger("feedback_loop")
    log.info("database: %s", settings.database_label)
    log.info("dispatcher: %s", DISPATCHER_LABELS[settings.dispatcher])
    if use_http:
        from bot.server import SlackASGI, make_server

        port = args.port or settings.port
        log.info("HTTP mode: POST /slack/events and GET /healthz on port %d", port)
        asgi = SlackASGI(rt, app, dispatcher=settings.dispatcher)
        server = make_server(asgi, host=args.host, port=port, log_level=settings.log_level)
        # What is loaded by now lives as long as the process: out of the collector's way,
        # a full collection under load scans what requests made (a few ms), not every
        # module, table and script as well (150 ms, measured by bench/crm_webhook).
        gc.collect()
        gc.freeze()
        with _signals_end_cleanly():
            server.run()
        return 0 if server.started else 1
    return asyncio.run(_socket_mode(rt, app))


def _share_metrics_with_the_dispatcher() -> None:
    """The dispatcher child counts its own 429s and Slack errors; prometheus_client's
    multiprocess mode (a directory both write to, which the child inherits through the
    environment) puts them in the server's /metrics. Set before anything imports
    prometheus_client, which fixes the mode on import."""
    import os
    import shutil
    import tempfile

    from bot.metrics import MULTIPROC_ENV

    if os.environ.get(MULTIPROC_ENV):
        return
    path = tempfile.mkdtemp(prefix="feedback-loop-metrics-")
    os.environ[MULTIPROC_ENV] = path
    atexit.register(shutil.rmtree, path, ignore_errors=True)


DISPATCHER_LABELS = {
    "process": "a child process (DISPATCHER=process)",
    "inline": "in this process (DISPATCHER=inline)",
    "off": "none here; a `feedback-loop dispatch` process sends the nudges (DISPATCHER=off)",
}


@contextlib.contextmanager
def _signals_end_cleanly() -> Iterator[None]:
    """uvicorn shuts down gracefully on SIGTERM or Ctrl-C and then raises the signal
    again with the handler it found, which would end the process as killed (or with a
    traceback). A stop that was asked for and went well exits 0, as `dispatch` does."""
    stops = (signal.SIGTERM, signal.SIGINT)
    previous = {sig: signal.signal(sig, lambda signum, frame: None) for sig in stops}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


async def _socket_mode(rt: object, app: object) -> int:
    from slack_bolt.async_app import AsyncApp

    from bot.runtime import Runtime
    from bot.socket_mode import SocketModeRunner

    assert isinstance(rt, Runtime) and isinstance(app, AsyncApp)
    runner = SocketModeRunner(rt, app)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        # A stop that was asked for finishes the work already acked, then exits 0.
        loop.add_signal_handler(sig, stop.set)
    await runner.start()
    try:
        await stop.wait()
    finally:
        await runner.stop()
    return 0


def cmd_dispatch(args: argparse.Namespace) -> int:
    """Only the dispatcher, no HTTP server: for replicas beside the HTTP ones, and the
    child of `feedback-loop run` (`--supervised`)."""
    if args.supervised:
        # Before anything slow: a Ctrl-C at the terminal is the server's to handle.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    settings = _settings_or_exit()
    configure_logging(
        settings.log_level,
        process="dispatcher" if args.supervised else None,
        log_format=settings.log_format,
    )
    if not settings.slack_bot_token and not settings.oauth:
        print(NO_TOKEN_HELP, file=sys.stderr)
        return 1
    from datetime import timedelta

    from bot.messages.catalog import ScriptsError
    from bot.nudges.dispatcher import run_dispatch_process
    from bot.runtime import build_runtime

    try:
        rt = build_runtime(settings)
    except ScriptsError as e:
        print(f"feedback-loop: scripts error: {e}", file=sys.stderr)
        return 2
    except SchemaOutOfDate as e:
        print(f"feedback-loop: {e}", file=sys.stderr)
        return 2
    from bot.app import build_registry

    rt.registry = build_registry()
    logging.getLogger("feedback_loop").info("database: %s", settings.database_label)
    lease = timedelta(seconds=args.lease_seconds) if args.lease_seconds else None
    return run_dispatch_process(rt, lease=lease, supervised=args.supervised)


def cmd_migrate(args: argparse.Namespace) -> int:
    from storage import schema
    from storage.db import make_engine

    settings = _settings_or_exit()
    configure_logging(settings.log_level, log_format=settings.log_format)
    engine = make_engine(settings.database_url)
    try:
        before = schema.current(engine)
        schema.upgrade(engine)
        after = schema.current(engine)
    finally:
        engine.dispose()
    label = settings.database_label
    if before == after:
        print(f"{label}: already at {after}; nothing to do.")
    else:
        print(f"{label}: upgraded from {before or 'release 0.1.0 / empty'} to {after}.")
    return 0


def cmd_make_migration(args: argparse.Namespace) -> int:
    """For developers: a new revision from what the models have that head lacks."""
    import tempfile
    from pathlib import Path

    from storage import schema
    from storage.db import make_engine

    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'head.db'}")
        try:
            schema.upgrade(engine)
            schema.make_revision(engine, args.message)
        finally:
            engine.dispose()
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from bot.devkit.demo import run_demo

    return run_demo(verbose=args.verbose)


def cmd_import_team(args: argparse.Namespace) -> int:
    from pathlib import Path

    from bot.clock import SystemClock
    from bot.runtime import make_client
    from bot.team_import import TeamImportError, import_team
    from storage import schema
    from storage.db import make_engine

    settings = _settings_or_exit()
    if not settings.slack_bot_token:
        print(
            "feedback-loop: import-team looks people up in Slack and needs SLACK_BOT_TOKEN",
            file=sys.stderr,
        )
        return 1
    engine = make_engine(settings.database_url)
    try:
        schema.prepare(engine, auto_migrate=settings.auto_migrate)
    except schema.SchemaOutOfDate as e:
        print(f"feedback-loop: {e}", file=sys.stderr)
        engine.dispose()
        return 2
    client = make_client(settings)
    try:
        report = asyncio.run(
            import_team(Path(args.csv), client=client, engine=engine, clock=SystemClock())
        )
    except TeamImportError as e:
        print(f"feedback-loop: import-team: {e}", file=sys.stderr)
        return 2
    finally:
        engine.dispose()
    for line in report.done:
        print(line)
    for line in report.failed:
        print(line, file=sys.stderr)
    if not report.ok:
        print(f"{len(report.failed)} line(s) failed; nothing was imported.", file=sys.stderr)
        return 1
    print(f"{len(report.done)} line(s) imported.")
    return 0


def cmd_webhook_secret(args: argparse.Namespace) -> int:
    from bot.crm.signing import new_secret, team_secret

    if args.team:
        # OAuth mode: the workspace's own secret, derived from CRM_WEBHOOK_SECRET.
        base = _settings_or_exit().crm_webhook_secret or ""
        if not base:
            print(
                "CRM_WEBHOOK_SECRET is not set: set it first (feedback-loop webhook-secret "
                "prints a new one), then ask again with --team.",
                file=sys.stderr,
            )
            return 2
        if not re.fullmatch(r"T[A-Z0-9]{2,31}", args.team):
            print(f"{args.team!r} is not a workspace id: it looks like T0123ABCD.", file=sys.stderr)
            return 2
        print(team_secret(base, args.team))
        print(
            f"Give it to workspace {args.team}'s CRM: it signs webhooks sent to "
            f"/crm/webhook/{args.team}.",
            file=sys.stderr,
        )
        return 0
    # Only the secret on stdout, so `feedback-loop webhook-secret >> .env` style use works.
    print(new_secret())
    print(
        "Set it as CRM_WEBHOOK_SECRET for the bot and in your CRM's webhook signing step.",
        file=sys.stderr,
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="feedback-loop",
        description="Feedback Loop: feedback rituals for sales teams, in Slack.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the bot (Socket Mode if SLACK_APP_TOKEN is set)")
    run.add_argument("--http", action="store_true", help="force HTTP mode")
    run.add_argument("--host", default="0.0.0.0", help="address to listen on (HTTP mode)")
    run.add_argument("--port", type=int, default=None, help="port (default: PORT or 3000)")
    run.set_defaults(func=cmd_run)
    dispatch = sub.add_parser(
        "dispatch", help="run only the nudge dispatcher (no HTTP server); stops on SIGTERM"
    )
    dispatch.add_argument(
        "--lease-seconds",
        type=float,
        default=None,
        help="how long a claimed nudge stays this process's before another may take it "
        "back (default 120)",
    )
    dispatch.add_argument(
        "--supervised",
        action="store_true",
        help="started by `feedback-loop run`: stop when standard input closes (the server "
        "is gone) and leave Ctrl-C to the server",
    )
    dispatch.set_defaults(func=cmd_dispatch)
    demo = sub.add_parser("demo", help="see the bot work against a local Slack stand-in")
    demo.add_argument("--verbose", action="store_true", help="also print the bot's log")
    demo.set_defaults(func=cmd_demo)
    team = sub.add_parser(
        "import-team", help="set reps' managers from a CSV file with the header rep,manager"
    )
    team.add_argument("csv", help="path to the CSV file (Slack user IDs or emails)")
    team.set_defaults(func=cmd_import_team)
    secret = sub.add_parser(
        "webhook-secret", help="print a new random secret for CRM_WEBHOOK_SECRET"
    )
    secret.add_argument(
        "--team",
        metavar="T…",
        help="OAuth mode: print that workspace's own secret (derived from CRM_WEBHOOK_SECRET)",
    )
    secret.set_defaults(func=cmd_webhook_secret)
    migrate = sub.add_parser(
        "migrate", help="upgrade the database (DATABASE_URL) to this release's schema"
    )
    migrate.set_defaults(func=cmd_migrate)
    revision = sub.add_parser(
        "make-migration", help="(developers) write a schema revision for changed models"
    )
    revision.add_argument("message", help="what changed, e.g. 'story table'")
    revision.set_defaults(func=cmd_make_migration)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
