"""`sprout`: the platform's commands and each service's own, found through the ServiceSpecs without importing a service."""

from __future__ import annotations

import dataclasses
import importlib
import subprocess
import sys
import textwrap

import pytest

from services import cli
from services.cli import SERVICES, build_parser
from tests.conftest import ROOT


def test_help_lists_every_command_with_its_one_line_help():
    text = build_parser().format_help()
    for command in ("up", "serve", "migrate", "db", "events"):
        assert command in text
    for spec in SERVICES.values():
        for command, help_text in spec.commands:
            assert command in text and help_text.split()[0] in text, command


@pytest.mark.parametrize("argv", [["up"], ["serve", "gateway"], ["migrate"], ["events", "stats"], ["db", "status"]])
def test_the_platforms_commands_never_import_a_services_own(argv):
    """In a fresh interpreter: parsing a platform command (and printing the help) imports no service CLI."""
    probe = textwrap.dedent(f"""\
        import sys
        from services import cli
        parser = cli.build_parser()
        parser.format_help()
        parser.parse_args({argv!r})
        loaded = sorted(m for m in sys.modules if m.startswith("services.") and m != "services.cli")
        print(loaded)
        """)
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]", done.stdout


def test_a_services_command_is_parsed_by_its_own_module():
    args = build_parser().parse_args(["keys", "rotate", "--delay", "30"])
    assert (args.command, args.action, args.delay) == ("keys", "rotate", 30.0)
    assert args.func.__module__ == "services.gateway.cli"


@pytest.mark.parametrize("spec", [s for s in SERVICES.values() if s.cli], ids=lambda s: s.name)
def test_each_spec_names_exactly_the_commands_its_module_configures(spec):
    module = importlib.import_module(spec.cli)
    assert [command for command, _ in spec.commands] and {c for c, _ in spec.commands} == set(module.COMMANDS)


def test_a_service_cannot_take_a_command_another_owns(monkeypatch):
    clash = dataclasses.replace(SERVICES["courses"], commands=(("events", "courses' own events"),), cli="services.courses.cli")
    monkeypatch.setitem(cli.SERVICES, "courses", clash)
    with pytest.raises(ValueError, match="sprout events"):
        build_parser()
