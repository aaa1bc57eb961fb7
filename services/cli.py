"""`sprout`: run, migrate and operate the system.

It knows every service by name and import string and never imports a service to start it,
so `sprout up` costs one interpreter per service and nothing more. The platform's commands
(up, serve, migrate, db, events) are here; a service's own commands (the gateway's user,
client, keys, pii) live in its `cli` module, which its ServiceSpec names together with the
commands and their one-line help, and which is imported only when one of them is run.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import os
import signal
import sys
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SERVICES_DIR = Path(__file__).resolve().parent


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    app: str  # import string of the app factory
    offset: int  # port = port base (8000) + offset
    consumers: str  # import string of the service's event consumers
    # The service's own commands, (name, one-line help), and the module that configures them:
    # its `configure(command, parser)` adds the command's arguments and `func` (services/gateway/cli.py).
    commands: tuple[tuple[str, str], ...] = ()
    cli: str | None = None
    # Import string of the service's directory read model (shared/directory/), if it keeps one.
    directory: str | None = None

    @property
    def port(self) -> int:
        return port_base() + self.offset

    @property
    def migrations(self) -> Path:
        return SERVICES_DIR / self.name / "migrations"


def port_base() -> int:
    """SPROUT_PORT_BASE moves all five ports at once (tests run a second system beside yours)."""
    return int(os.environ.get("SPROUT_PORT_BASE", "8000"))


# `sprout up` serves the gateway's metrics here (port base + 90): its API port is public.
GATEWAY_METRICS_OFFSET = 90


SERVICES: dict[str, ServiceSpec] = {
    s.name: s
    for s in (
        ServiceSpec(
            "gateway", "services.gateway.app:create_app", 0, "services.gateway.events:consumers",
            commands=(
                ("keys", "the gateway's token signing keys"),
                ("client", "machine clients: partner universities and our own services"),
                ("user", "people: create the first admin of a new deployment"),
                ("pii", "encrypted personal data"),
            ),
            cli="services.gateway.cli",
        ),
        # The domain services: alike but for their names, each with its directory read model.
        *(
            ServiceSpec(
                name, f"services.{name}.app:create_app", offset, f"services.{name}.events:consumers",
                directory=f"services.{name}.db:directory",
            )
            for offset, name in enumerate(("selection", "mentoring", "courses", "tracking"), start=1)
        ),
    )
}


def migration_trees():
    from shared.app import EVENTS_TREE
    from shared.migrations import MigrationTree

    return [EVENTS_TREE, *(MigrationTree(s.name, s.migrations) for s in SERVICES.values())]


def _settings():
    from shared.settings import BaseServiceSettings

    return BaseServiceSettings()


def _database_url() -> str:
    from shared.db import resolve_database_url

    return resolve_database_url()


# ---------------------------------------------------------------- serve / migrate


def settings_class(name: str):
    """The settings class of service `name` (services/<name>/settings.py)."""
    from shared.settings import BaseServiceSettings

    module = importlib.import_module(f"services.{name}.settings")
    return next(
        v for v in vars(module).values()
        if isinstance(v, type) and issubclass(v, BaseServiceSettings) and v.service_name == name
    )


def _check_settings(name: str) -> str | None:
    """Why the service's settings refuse to load (production defaults, bad values), or None."""
    from pydantic import ValidationError

    try:
        settings_class(name)()
    except ValidationError as exc:
        return "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'settings'}: {e['msg'].removeprefix('Value error, ')}"
            for e in exc.errors()
        )
    return None


def uvicorn_options(host: str, port: int) -> dict:
    """How `sprout serve` runs uvicorn: one process, JSON logs of our own, a graceful drain."""
    return {
        "factory": True,
        "host": host,
        "port": port,
        "log_config": None,
        # The shared middleware writes the access log, with the request id.
        "access_log": False,
        # Who the client is is decided in one place, the gateway's (services/gateway/limits/
        # clients.py, SPROUT_TRUSTED_PROXIES). uvicorn's own handling would rewrite the client
        # of every connection from 127.0.0.1 from its X-Forwarded-For before the gateway saw it.
        "proxy_headers": False,
        # Kubernetes sends SIGTERM; uvicorn stops accepting, finishes in-flight requests,
        # then runs the lifespan shutdown, where the event consumers finish their batch.
        "timeout_graceful_shutdown": 10,
    }


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    spec = SERVICES[args.name]
    problem = _check_settings(args.name)
    if problem:
        print(f"sprout serve {args.name}: refusing to start: {problem}", file=sys.stderr)
        return 2
    os.environ.setdefault("SPROUT_PORT", str(args.port or spec.port))
    port = args.port or int(os.environ["SPROUT_PORT"])
    host = args.host or os.environ.get("SPROUT_HOST", "127.0.0.1")
    uvicorn.run(spec.app, **uvicorn_options(host, port))
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    from shared.migrations import migrate

    url = _database_url()
    asyncio.run(migrate(url, migration_trees()))
    print("migrations at head:", ", ".join(t.schema for t in migration_trees()))
    # Subscriptions exist from the migration on, so a consumer is owed what is published before it first runs.
    from shared.events.worker import load_consumers, register_subscriptions

    asyncio.run(register_subscriptions(url, load_consumers(s.consumers for s in SERVICES.values())))
    return 0


# ---------------------------------------------------------------- database


def cmd_db(args: argparse.Namespace) -> int:
    from shared.embedded import embedded_running, ensure_embedded, stop_embedded

    settings = _settings()
    if args.action == "start":
        print(ensure_embedded(settings.pgdata))
    elif args.action == "stop":
        print("stopped" if stop_embedded(settings.pgdata) else "not running")
    elif args.action == "status":
        print("running" if embedded_running(settings.pgdata) else "not running", settings.pgdata)
    return 0


# ---------------------------------------------------------------- events


def cmd_events(args: argparse.Namespace) -> int:
    from shared.events import admin

    url = _database_url()
    if args.action == "dead":
        rows = asyncio.run(admin.list_dead(url, consumer=args.consumer, limit=args.limit))
        if args.json:
            print(json.dumps(rows, default=str, ensure_ascii=False, indent=2))
        else:
            if not rows:
                print("no dead letters")
            for r in rows:
                print(
                    f"{r['delivery_id']:>8}  {r['consumer']:<20} {r['type']:<40} subject={r['subject']} "
                    f"held={r['held']} attempts={r['attempts']}  {r['last_error'] or ''}"[:400]
                )
        return 0
    if args.action == "replay":
        if not args.ids and not args.all:
            print("name delivery ids, or --all (with --consumer to narrow it)", file=sys.stderr)
            return 2
        n = asyncio.run(admin.replay(url, delivery_ids=args.ids or None, consumer=args.consumer))
        print(f"{n} dead deliveries queued again")
        return 0
    if args.action == "discard":
        n = asyncio.run(admin.discard(url, delivery_ids=args.ids))
        print(f"{n} dead deliveries discarded; the deliveries they held go on")
        return 0
    if args.action == "cleanup":
        n = asyncio.run(admin.cleanup(url, older_than_days=args.days))
        print(f"removed {n['deliveries']} done or discarded deliveries and {n['events']} events")
        return 0
    if args.action == "stats":
        print(json.dumps(asyncio.run(admin.stats(url)), indent=2))
        return 0
    return 2


# ---------------------------------------------------------------- directory read models


def _directory_of(name: str):
    module, _, attr = SERVICES[name].directory.partition(":")
    return getattr(importlib.import_module(module), attr)


def _as_under_sprout_up(name: str, settings: Any) -> Any:
    """Off production, what the environment leaves unset is what `sprout up` gives the service:
    the gateway at the port base, the machine client it keeps beside the embedded database."""
    changes: dict[str, Any] = {}
    if "SPROUT_GATEWAY_URL" not in os.environ:
        changes["gateway_url"] = f"http://127.0.0.1:{SERVICES['gateway'].port}"
    kept = settings.data_dir.resolve() / "clients" / f"sprout-{name}.secret"
    if not settings.service_client_id and kept.exists():
        changes.update(service_client_id=f"sprout-{name}", service_client_secret=kept.read_text().strip())
    return settings.model_copy(update=changes)


def cmd_directory(args: argparse.Namespace) -> int:
    """`sprout directory resync|status SERVICE`, run where the service's settings are (its
    database, its machine client)."""
    from shared.db import create_engine, resolve_database_url
    from shared.directory.sync import ResyncError, resync

    settings = settings_class(args.name)()
    directory = _directory_of(args.name)
    if settings.env.value != "production":
        settings = _as_under_sprout_up(args.name, settings)

    async def run() -> dict[str, Any]:
        engine = create_engine(resolve_database_url(settings), pool_size=1, max_overflow=1)
        try:
            if args.action == "resync":
                return (await resync(engine, directory, settings, page_size=args.page_size)).as_dict()
            async with engine.connect() as conn:
                return await directory.status(conn)
        finally:
            await engine.dispose()

    try:
        result = asyncio.run(run())
    except ResyncError as exc:
        print(f"sprout directory resync {args.name}: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(result, default=str, ensure_ascii=False, indent=2))
    elif args.action == "resync":
        loaded = ", ".join(f"{n} {kind}" for kind, n in result["loaded"].items())
        removed = sum(result["removed"].values())
        print(f"{args.name}: directory loaded from the gateway in {result['seconds']} s ({result['pages']} pages): {loaded}; "
              f"{removed} records the gateway no longer has removed")
    else:
        print(json.dumps(result, default=str, ensure_ascii=False, indent=2))
    return 0


# ---------------------------------------------------------------- up


async def _wait_ready(port: int, proc: asyncio.subprocess.Process, deadline: float) -> str | None:
    """None when /readyz answers 200; else why not."""
    import httpx

    async with httpx.AsyncClient(timeout=2.0) as client:
        last = "no answer"
        while time.monotonic() < deadline:
            if proc.returncode is not None:
                return f"exited with code {proc.returncode}"
            try:
                r = await client.get(f"http://127.0.0.1:{port}/readyz")
                if r.status_code == 200:
                    return None
                last = f"/readyz answered {r.status_code}: {r.text[:300]}"
            except httpx.HTTPError as exc:
                last = f"/readyz unreachable ({type(exc).__name__})"
            await asyncio.sleep(0.2)
        return f"not ready after the timeout; last: {last}"


async def _pump(name: str, stream: asyncio.StreamReader, log_file: Path, tail: deque, echo: bool) -> None:
    with log_file.open("ab") as fh:
        while line := await stream.readline():
            fh.write(line)
            fh.flush()
            text = line.decode(errors="replace").rstrip()
            tail.append(text)
            if echo:
                print(f"{name:<10}| {text}", flush=True)


async def _stop_all(procs: dict[str, asyncio.subprocess.Process], grace: float = 15.0) -> None:
    for p in procs.values():
        if p.returncode is None:
            try:
                p.send_signal(signal.SIGTERM)
            except ProcessLookupError:
                pass
    try:
        await asyncio.wait_for(asyncio.gather(*(p.wait() for p in procs.values())), grace)
    except TimeoutError:
        for p in procs.values():
            if p.returncode is None:
                p.kill()
        await asyncio.gather(*(p.wait() for p in procs.values()))


async def _up(args: argparse.Namespace) -> int:
    from shared.embedded import embedded_running, ensure_embedded, stop_embedded
    from shared.migrations import migrate

    settings = _settings()
    names = args.only or list(SERVICES)
    started_db = False
    if settings.database_url:
        url = settings.database_url
        print("database: using SPROUT_DATABASE_URL", flush=True)
    else:
        was_running = embedded_running(settings.pgdata)
        url = await asyncio.to_thread(ensure_embedded, settings.pgdata)
        started_db = not was_running
        print(f"database: embedded PostgreSQL in {settings.pgdata}" + (" (already running)" if was_running else ""), flush=True)

    procs: dict[str, asyncio.subprocess.Process] = {}
    pumps: list[asyncio.Task] = []
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    code = 0
    try:
        await migrate(url, migration_trees())
        print("migrations: at head", flush=True)

        log_dir = settings.data_dir.resolve() / "logs"
        log_dir.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "SPROUT_DATABASE_URL": url, "PYTHONUNBUFFERED": "1"}
        # Every service learns where the others listen, whatever the port base.
        env.update({f"SPROUT_{s.name.upper()}_URL": f"http://127.0.0.1:{s.port}" for s in SERVICES.values()})
        clients = await _development_clients(url, settings)
        tails: dict[str, deque] = {}
        for name in names:
            spec = SERVICES[name]
            # One metrics port: the gateway's (the others serve /metrics on their own ports).
            own_env = {k: v for k, v in env.items() if k != "SPROUT_METRICS_PORT"}
            if name in clients:
                own_env["SPROUT_SERVICE_CLIENT_ID"], own_env["SPROUT_SERVICE_CLIENT_SECRET"] = clients[name]
            if name == "gateway":
                own_env["SPROUT_METRICS_PORT"] = str(port_base() + GATEWAY_METRICS_OFFSET)
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "services.cli", "serve", name, "--port", str(spec.port),
                env=own_env,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                # Own session: a terminal's Ctrl-C reaches `sprout up` only, which stops
                # the services in order instead of all at once.
                start_new_session=True,
            )
            procs[name] = proc
            tails[name] = deque(maxlen=40)
            pumps.append(asyncio.create_task(_pump(name, proc.stdout, log_dir / f"{name}.log", tails[name], args.logs)))

        deadline = time.monotonic() + args.timeout
        results = await asyncio.gather(*(_wait_ready(SERVICES[n].port, procs[n], deadline) for n in names))
        failed = {n: why for n, why in zip(names, results) if why}
        if failed:
            for n, why in failed.items():
                print(f"\n{n} failed to start: {why}", file=sys.stderr)
                print("\n".join(f"  {line}" for line in list(tails[n])[-15:]), file=sys.stderr)
            code = 1
        else:
            print("\nSprout is up:", flush=True)
            for n in names:
                print(f"  {n:<10} http://127.0.0.1:{SERVICES[n].port}", flush=True)
            if "gateway" in names:
                print(f"  API docs   http://127.0.0.1:{SERVICES['gateway'].port}/docs", flush=True)
                metrics = port_base() + GATEWAY_METRICS_OFFSET
                print(f"  metrics    http://127.0.0.1:{metrics}/metrics (gateway; the others at /metrics)", flush=True)
            print(f"logs in {log_dir}; Ctrl-C stops everything.", flush=True)
            waiters = [asyncio.create_task(p.wait()) for p in procs.values()]
            stopper = asyncio.create_task(stop.wait())
            done, _ = await asyncio.wait([stopper, *waiters], return_when=asyncio.FIRST_COMPLETED)
            if stopper not in done:
                dead = [n for n, p in procs.items() if p.returncode is not None]
                print(f"\n{', '.join(dead)} stopped unexpectedly; stopping the rest.", file=sys.stderr)
                code = 1
            stopper.cancel()
    finally:
        print("stopping services...", flush=True)
        await _stop_all(procs)
        for t in pumps:
            t.cancel()
        if started_db and not args.keep_db:
            await asyncio.to_thread(stop_embedded, settings.pgdata)
            print("database stopped", flush=True)
        print("stopped", flush=True)
    return code


async def _development_clients(url: str, settings: Any) -> dict[str, tuple[str, str]]:
    """Each service but the gateway signs in to it with a machine client of its own (its directory's
    first load, consent checks); `sprout up` makes them, unless the environment names one."""
    if os.environ.get("SPROUT_SERVICE_CLIENT_ID"):
        return {}
    from services.gateway.tokens.admin import ensure_development_clients

    names = [n for n in SERVICES if n != "gateway"]
    return await ensure_development_clients(url, names, settings.data_dir.resolve() / "clients")


def cmd_up(args: argparse.Namespace) -> int:
    return asyncio.run(_up(args))


# ---------------------------------------------------------------- entry point


class CommandParser(argparse.ArgumentParser):
    """A command's parser; a service's command (`cli`, the module configuring it) gets its
    arguments from that module the first time it is parsed or its help is shown."""

    def __init__(self, *args: Any, cli: str | None = None, command: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._cli, self._command = cli, command

    def _configure(self) -> None:
        if self._cli is not None:
            module, self._cli = self._cli, None
            importlib.import_module(module).configure(self._command, self)

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> Any:
        self._configure()
        return super().parse_known_args(args, namespace)

    def format_help(self) -> str:
        self._configure()
        return super().format_help()


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="sprout", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True, parser_class=CommandParser)

    up = sub.add_parser("up", help="start the database, migrate, run all five services until Ctrl-C")
    up.add_argument("--only", nargs="+", choices=list(SERVICES), help="start only these services")
    up.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for every service to be ready")
    up.add_argument("--logs", action=argparse.BooleanOptionalAction, default=True, help="echo service logs")
    up.add_argument("--keep-db", action="store_true", help="leave the embedded database running on exit")
    up.set_defaults(func=cmd_up)

    serve = sub.add_parser("serve", help="run one service in the foreground")
    serve.add_argument("name", choices=list(SERVICES))
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.set_defaults(func=cmd_serve)

    mig = sub.add_parser("migrate", help="apply every schema's migrations (safe to run twice, or twice at once)")
    mig.set_defaults(func=cmd_migrate)

    db = sub.add_parser("db", help="the embedded development database")
    db.add_argument("action", choices=["start", "stop", "status"])
    db.set_defaults(func=cmd_db)

    ev = sub.add_parser("events", help="the shared event table: dead letters, replay, discard, cleanup")
    evs = ev.add_subparsers(dest="action", required=True)
    dead = evs.add_parser("dead", help="list dead-lettered deliveries and how many each holds back")
    dead.add_argument("--consumer")
    dead.add_argument("--limit", type=int, default=100)
    dead.add_argument("--json", action="store_true")
    rep = evs.add_parser("replay", help="queue dead deliveries again")
    rep.add_argument("ids", nargs="*", type=int, help="delivery ids (from `sprout events dead`)")
    rep.add_argument("--consumer")
    rep.add_argument("--all", action="store_true", help="every dead delivery (of --consumer, if given)")
    dis = evs.add_parser("discard", help="give up on dead deliveries for good, so the ones they hold go on")
    dis.add_argument("ids", nargs="+", type=int, help="delivery ids (from `sprout events dead`)")
    cl = evs.add_parser("cleanup", help="delete done and discarded deliveries and fully delivered events older than N days")
    cl.add_argument("--days", type=int, default=None)
    evs.add_parser("stats", help="pending, held, done, dead and discarded counts per consumer")
    ev.set_defaults(func=cmd_events)

    dr = sub.add_parser("directory", help="a domain service's read model of the gateway's directory")
    drs = dr.add_subparsers(dest="action", required=True)
    with_directory = [n for n, spec in SERVICES.items() if spec.directory]
    res = drs.add_parser("resync", help="load the gateway's whole directory into SERVICE's read model (safe while it runs)")
    res.add_argument("name", metavar="SERVICE", choices=with_directory)
    res.add_argument("--page-size", type=int, default=None, help="records per request to the gateway (1-200)")
    res.add_argument("--json", action="store_true")
    st = drs.add_parser("status", help="what SERVICE's read model holds, and when it was last resynced")
    st.add_argument("name", metavar="SERVICE", choices=with_directory)
    st.add_argument("--json", action="store_true")
    dr.set_defaults(func=cmd_directory)

    _add_service_commands(sub)
    return p


def _add_service_commands(sub: Any) -> None:
    """Each service's own commands (after the platform's), with the help its spec gives; their
    module is not imported here."""
    for spec in SERVICES.values():
        for command, help_text in spec.commands:
            if command in sub.choices:
                raise ValueError(f"sprout {command}: {spec.name} names a command that exists already")
            sub.add_parser(command, help=help_text, cli=spec.cli, command=command)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
