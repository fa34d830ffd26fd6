"""The ``receptionist`` command: serve, replay, bookings, calls, db upgrade, calendar check."""

from __future__ import annotations

import argparse
import sys
from datetime import date, datetime
from functools import partial
from pathlib import Path

import trio

from receptionist.config import DEFAULT_CONFIG_PATH, ENGINE_CHOICES, Config, load_config
from receptionist.errors import ReceptionistError
from receptionist.logs import configure_logging


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        config = load_config(args.config, overrides=_overrides(args))
        return int(args.handler(args, config) or 0)
    except ReceptionistError as exc:
        for line in str(exc).splitlines():  # a ConfigError has one line per problem
            print(f"receptionist: {line}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="receptionist", description=__doc__)
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG_PATH)
    commands = parser.add_subparsers(required=True, metavar="COMMAND")
    settings = argparse.ArgumentParser(add_help=False)
    settings.add_argument(
        "--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
        help="override a config.toml setting, e.g. --set llm.base_url=http://127.0.0.1:8001/v1",
    )  # fmt: skip

    serve = commands.add_parser(
        "serve", parents=[settings], help="run the webhook and media-stream server"
    )
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument(
        "--workers", type=int, default=1, metavar="N",
        help="N server processes on one port, sharing the stream secret (workers.py)",
    )  # fmt: skip
    # A child of --workers: serve on the parent's listening socket.
    serve.add_argument("--listen-fd", type=int, help=argparse.SUPPRESS)
    serve.set_defaults(handler=_serve)

    replay = commands.add_parser(
        "replay", parents=[settings], help="play recorded callers into the pipeline"
    )
    replay.add_argument("fixture", type=Path, help="a WAV or .ulaw file, or a folder of them")
    replay.add_argument("--fast", action="store_true", help="no real-time pacing")
    replay.add_argument("--out", type=Path, default=Path("replay-output"))
    replay.add_argument("--now", type=datetime.fromisoformat, help="the clinic's 'now' (ISO)")
    replay.add_argument(
        "--engines", choices=("offline", "cloud"),
        help="every stage offline, or on its cloud engine (Deepgram, OpenAI, ElevenLabs)",
    )  # fmt: skip
    for stage, choices in ENGINE_CHOICES.items():
        replay.add_argument(f"--{stage}", choices=choices, help=f"the {stage} engine")
    replay.set_defaults(handler=_replay)

    bookings = commands.add_parser("bookings", parents=[settings], help="list booked appointments")
    bookings.add_argument("--all", action="store_true", help="include past appointments")
    # Only the store is read: no engine runs, so none of their API keys is needed.
    bookings.set_defaults(handler=_bookings, engines="offline")
    bookings.set_defaults(handler=_bookings)

    calls = commands.add_parser("calls", parents=[settings], help="list recorded calls")
    calls.add_argument("--day", type=date.fromisoformat, help="only this day (YYYY-MM-DD)")
    calls.add_argument("--outcome", default="", help="completed, transfer, hung up or error")
    calls.add_argument("--limit", type=int, default=50)
    calls.set_defaults(handler=_calls, engines="offline")

    database = commands.add_parser("db", help="the appointments database")
    database_commands = database.add_subparsers(required=True, metavar="ACTION")
    upgrade = database_commands.add_parser(
        "upgrade", parents=[settings],
        help="create the schema, or migrate it to this release's version (idempotent)",
    )  # fmt: skip
    upgrade.set_defaults(handler=_db_upgrade)
    import_sqlite = database_commands.add_parser(
        "import-sqlite", parents=[settings],
        help="copy a SQLite file's bookings, outbox and call records into the PostgreSQL store",
    )  # fmt: skip
    import_sqlite.add_argument("path", type=Path, help="the SQLite file (at this release's schema)")
    import_sqlite.add_argument(
        "--dry-run", action="store_true", help="check and count, write nothing"
    )
    import_sqlite.set_defaults(handler=_db_import_sqlite, engines="offline")
    phones = database_commands.add_parser(
        "normalise-phones", parents=[settings],
        help="rewrite stored phone numbers in E.164 with [clinic] country (db upgrade runs it)",
    )  # fmt: skip
    phones.set_defaults(handler=_db_normalise_phones, engines="offline")
    calendar = commands.add_parser("calendar", help="the clinic's CalDAV calendar")
    calendar_commands = calendar.add_subparsers(required=True, metavar="ACTION")
    check = calendar_commands.add_parser(
        "check", parents=[settings],
        help="connect, sign in, list tomorrow's events, write and delete a test event",
    )  # fmt: skip
    check.set_defaults(handler=_calendar_check)
    return parser


def _overrides(args: argparse.Namespace) -> list[str]:
    """``--set`` settings, after those of ``--engines`` and ``--stt/--dialogue/--tts``."""
    engines = {}
    if getattr(args, "engines", None):
        index = 0 if args.engines == "offline" else 1
        engines = {stage: choices[index] for stage, choices in ENGINE_CHOICES.items()}
    for stage in ENGINE_CHOICES:
        if getattr(args, stage, None):
            engines[stage] = getattr(args, stage)
    return [f"engines.{stage}={engine}" for stage, engine in engines.items()] + args.set


def _serve(args: argparse.Namespace, config: Config) -> int:
    from receptionist.runtime import open_services
    from receptionist.server import freeze_startup_heap, serve_app

    configure_logging(config.logging.level)
    host = args.host or config.server.host
    port = args.port if args.port is not None else config.server.port
    if args.workers > 1:
        from receptionist.workers import run_workers

        serve_args = ["--config", str(args.config), "serve"]
        serve_args += [f"--set={setting}" for setting in _overrides(args)]
        return run_workers(args.workers, host, port, serve_args)

    async def serve() -> None:
        async with open_services(config) as services, trio.open_nursery() as nursery:
            await nursery.start(partial(serve_app, services, host, port, listen_fd=args.listen_fd))
            freeze_startup_heap()

    trio.run(serve)
    return 0


def _replay(args: argparse.Namespace, config: Config) -> int:
    from receptionist.devtools.replay import fixture_files, replay_fixture

    fixtures = fixture_files(args.fixture)
    if not fixtures:
        raise ReceptionistError(f"no fixtures (.wav, .ulaw) found at {args.fixture}")

    async def replay_all() -> None:
        for fixture in fixtures:
            print(await replay_fixture(fixture, config, args.out, fast=args.fast, now=args.now))

    trio.run(replay_all)
    return 0


def _bookings(args: argparse.Namespace, config: Config) -> int:
    from receptionist.scheduling.listing import list_bookings_lines

    for line in list_bookings_lines(config, include_past=args.all):
        print(line)
    return 0


def _calls(args: argparse.Namespace, config: Config) -> int:
    from receptionist.records.listing import list_call_lines

    for line in list_call_lines(config, day=args.day, outcome=args.outcome, limit=args.limit):
        print(line)
    return 0


def _db_upgrade(args: argparse.Namespace, config: Config) -> int:
    from receptionist.scheduling.store import AppointmentStore

    store = AppointmentStore(config)
    try:
        before, after = store.upgrade()
    finally:
        store.close()
    if before == after:
        print(f"{store.location}: schema already at version {after}")
    else:
        print(f"{store.location}: schema upgraded from version {before} to {after}")
    return _db_normalise_phones(args, config)


def _db_normalise_phones(args: argparse.Namespace, config: Config) -> int:
    from receptionist.scheduling.store import AppointmentStore

    # Numbers stored before E.164 need the clinic's country: a schema step cannot know it.
    with AppointmentStore(config) as store:
        migration = store.normalise_phones()
    country = config.clinic.country
    print(f"{store.location}: {migration.changed} phone numbers rewritten in E.164 ({country})")
    if migration.left:
        print(f"{len(migration.left)} stored numbers are no phone number, left as they were")
    return 0


def _db_import_sqlite(args: argparse.Namespace, config: Config) -> int:
    from receptionist.scheduling.sqlite_import import import_sqlite

    report = import_sqlite(args.path, config, dry_run=args.dry_run)
    for line in report.lines():
        print(line)
    print(f"dry run: nothing written to {config.scheduler.database}" if args.dry_run
          else f"imported {args.path} into {config.scheduler.database}")  # fmt: skip
    return 0


def _calendar_check(args: argparse.Namespace, config: Config) -> int:
    from receptionist.calendar.check import run_check

    settings = config.calendar
    if settings.kind == "none":
        print('calendar: none configured (config.toml [calendar] kind = "none")')
        return 1
    print(f"calendar: {settings.url} ({settings.auth} authentication)")
    steps = trio.run(run_check, settings, config.clinic.tz, config.secrets.calendar)
    for step in steps:
        print(step.line())
    ok = all(step.ok for step in steps)  # a failed step is always the last
    print("calendar: ready" if ok else "calendar: not ready, see FAIL above")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
