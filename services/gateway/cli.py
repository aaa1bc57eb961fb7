"""The gateway's own `sprout` commands: signing keys, machine clients, people, personal data.

services/cli.py names them in the gateway's ServiceSpec and imports this module only when one
of them is run: `configure` gives each command its arguments and its function. What a command
needs beyond argparse it imports when it runs, so `sprout keys --help` stays quick.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable

from shared.db import resolve_database_url
from shared.problems import ProblemError, detail


# ---------------------------------------------------------------- signing keys and machine clients


def _problem_text(exc: ProblemError) -> str:
    return detail(exc.code, "en", **exc.params)


def cmd_keys(args: argparse.Namespace) -> int:
    from services.gateway.settings import GatewaySettings
    from services.gateway.tokens import admin
    from shared import clock

    url = resolve_database_url()
    if args.action == "list":
        now = clock.now()
        for k in asyncio.run(admin.list_keys(url)):
            print(
                f"{k.kid}  {k.status(now):<8} {k.origin:<9} active from {k.activated_at:%Y-%m-%d %H:%M:%S}"
                + (f"  retired {k.retired_at:%Y-%m-%d %H:%M:%S}" if k.retired_at else "")
                + (f"  published until {k.published_until:%Y-%m-%d %H:%M:%S}" if k.published_until else "")
            )
        return 0
    settings = GatewaySettings()
    if args.action == "ensure":
        key, made = asyncio.run(admin.ensure_key(url, settings))
        print(f"{'made' if made else 'found'} signing key {key.kid} ({key.origin})")
        return 0
    delay = 0.0 if args.now else (args.delay if args.delay is not None else settings.signing_key_activation_delay)
    new, retired = asyncio.run(admin.rotate_key(url, settings, delay=delay))
    print(f"new signing key {new.kid}: published now, signs from {new.activated_at:%Y-%m-%d %H:%M:%S%z}")
    for k in retired:
        print(f"  {k.kid} retires then; published until {k.published_until:%Y-%m-%d %H:%M:%S%z}")
    return 0


def cmd_client(args: argparse.Namespace) -> int:
    from services.gateway.tokens import admin

    try:
        created = asyncio.run(
            admin.create_client(
                resolve_database_url(), client_id=args.client_id, name=args.name, role=args.role,
                scopes=args.scope or [], partner=args.partner,
            )
        )
    except ProblemError as exc:
        print(_problem_text(exc), file=sys.stderr)
        return 1
    except ValueError as exc:  # pydantic's ValidationError: a malformed id, name or scope
        print(exc, file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(created, ensure_ascii=False))
    else:
        print(f"client {created['client_id']} ({created['role']}) created; its secret, shown this once:")
        print(created["client_secret"])
    return 0


# ---------------------------------------------------------------- users and personal data


def _read_password(args: argparse.Namespace) -> str | None:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if args.no_password:
        return None
    import getpass

    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise SystemExit("the passwords differ")
    return first


def cmd_user(args: argparse.Namespace) -> int:
    from services.gateway.identity import admin
    from services.gateway.settings import GatewaySettings

    password = _read_password(args)
    try:
        user = asyncio.run(
            admin.create_user(
                resolve_database_url(), GatewaySettings(), username=args.username, roles=args.role,
                password=password, display_name=args.display_name, school=args.school,
                partner=args.partner,
            )
        )
    except ProblemError as exc:
        print(_problem_text(exc), file=sys.stderr)
        # 3: the user exists already, so a provisioning script can tell "done before" from a failure.
        return 3 if exc.code == "username_taken" else 1
    print(f"user {user.username} ({', '.join(user.roles)}) created: {user.id}")
    return 0


def cmd_pii(args: argparse.Namespace) -> int:
    from services.gateway.identity import admin
    from services.gateway.settings import GatewaySettings

    done = asyncio.run(admin.rotate_personal_data(resolve_database_url(), GatewaySettings()))
    print(f"re-encrypted with the newest key: {done['users']} users, {done['signing_keys']} signing keys")
    return 0


# ---------------------------------------------------------------- the commands' arguments


def _keys(keys: argparse.ArgumentParser) -> None:
    ks = keys.add_subparsers(dest="action", required=True)
    ks.add_parser("ensure", help="make a signing key if none is active (idempotent: run it at every deployment)")
    rot = ks.add_parser("rotate", help="a new signing key: published now, signing after a delay; the old one retires then")
    rot.add_argument("--delay", type=float, help="seconds before the new key signs (default SPROUT_SIGNING_KEY_ACTIVATION_DELAY)")
    rot.add_argument("--now", action="store_true", help="sign with it at once (when the old key is compromised)")
    ks.add_parser("list", help="every key, with its status")
    keys.set_defaults(func=cmd_keys)


def _client(client: argparse.ArgumentParser) -> None:
    cs = client.add_subparsers(dest="action", required=True)
    cc = cs.add_parser("create", help="create a machine client and print its secret (once)")
    cc.add_argument("--client-id", required=True)
    cc.add_argument("--name", required=True)
    cc.add_argument("--role", required=True, choices=["partner", "service"])
    cc.add_argument("--scope", action="append", help="a scope it may ask for; repeat for several")
    cc.add_argument("--partner", help="the partner university's name (role partner)")
    cc.add_argument("--json", action="store_true")
    client.set_defaults(func=cmd_client)


def _user(user: argparse.ArgumentParser) -> None:
    us = user.add_subparsers(dest="action", required=True)
    uc = us.add_parser("create", help="create a user (exit code 3 if the username is taken)")
    uc.add_argument("--username", required=True)
    uc.add_argument("--role", action="append", required=True, help="a role (admin, staff, ...); repeat for several")
    uc.add_argument("--display-name")
    uc.add_argument("--school", help="the school's name (coordinators and students)")
    uc.add_argument("--partner", help="the partner university's name (people with role partner)")
    pw = uc.add_mutually_exclusive_group()
    pw.add_argument("--password-stdin", action="store_true", help="read the password from the first line of stdin")
    pw.add_argument("--no-password", action="store_true", help="no password yet: the user cannot log in")
    user.set_defaults(func=cmd_user)


def _pii(pii: argparse.ArgumentParser) -> None:
    ps = pii.add_subparsers(dest="action", required=True)
    ps.add_parser("rotate", help="re-encrypt everything under the newest key of SPROUT_PII_KEYS")
    pii.set_defaults(func=cmd_pii)


COMMANDS: dict[str, Callable[[argparse.ArgumentParser], None]] = {"keys": _keys, "client": _client, "user": _user, "pii": _pii}


def configure(command: str, parser: argparse.ArgumentParser) -> None:
    """Give `parser` the arguments of the gateway's command `command`, and the function that runs it."""
    COMMANDS[command](parser)
