"""Reading the deploy files for the tests: YAML documents, the Dockerfile, the settings they may name."""

from __future__ import annotations

import importlib
import json
import os
import re
import shlex
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import yaml

from services.cli import SERVICES, build_parser
from shared.service_client import ServiceTokenProvider
from shared.settings import BaseServiceSettings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = DEPLOY / "Dockerfile"
README = DEPLOY / "README.md"


def setting_names(cls: type[BaseServiceSettings]) -> set[str]:
    return {f"SPROUT_{name.upper()}" for name in cls.model_fields}


def settings_class(service: str) -> type[BaseServiceSettings]:
    """The settings class a service reads (the one `services/<name>/settings.py` defines)."""
    module = importlib.import_module(f"services.{service}.settings")
    found = [
        v for v in vars(module).values()
        if isinstance(v, type) and issubclass(v, BaseServiceSettings) and v.__module__ == module.__name__
    ]
    assert len(found) == 1, f"services/{service}/settings.py defines {len(found)} settings classes"
    return found[0]


# The settings every service shares: what a setting given to all of them may name.
SETTING_NAMES = setting_names(BaseServiceSettings)
SERVICE_SETTING_NAMES = {name: setting_names(settings_class(name)) for name in SERVICES}

# Every service but the gateway, which issues the tokens, signs in to it with a machine client of
# its own (role `service`): its directory's first load and resyncs, its consent checks.
DOMAIN_SERVICES = [name for name in SERVICES if name != "gateway"]
MACHINE_CLIENT_SETTINGS = ("SPROUT_SERVICE_CLIENT_ID", "SPROUT_SERVICE_CLIENT_SECRET")


def client_id(service: str) -> str:
    """The id deploy/README.md creates a domain service's machine client with."""
    return f"sprout-{service}"


def machine_client(monkeypatch, service: str, env: dict[str, str]) -> tuple[str, str]:
    """The (id, secret) `service` signs in to the gateway with, given exactly `env`: through
    ServiceTokenProvider.from_settings, which refuses a service without a machine client."""
    settings = settings_under(monkeypatch, settings_class(service), env)
    ServiceTokenProvider.from_settings(settings)
    return settings.service_client_id, settings.service_client_secret


def yaml_documents(path: Path) -> list[dict]:
    """Every non-empty document of a YAML file."""
    with path.open() as fh:
        return [doc for doc in yaml.safe_load_all(fh) if doc is not None]


def yaml_files() -> list[Path]:
    return sorted([*DEPLOY.rglob("*.yaml"), *DEPLOY.rglob("*.yml"), COMPOSE_FILE])


def parse_command(argv: list[str]):
    """The `sprout` command line a container runs, parsed by the real parser (SystemExit if it is wrong)."""
    return build_parser().parse_args(argv)


def read_env_file(path: Path) -> dict[str, str]:
    """A dotenv file as kustomize reads it: KEY=VALUE lines, `#` comments, blank lines."""
    out: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        assert sep, f"{path.name}: not KEY=VALUE: {line!r}"
        out[key.strip()] = value
    return out


@dataclass(frozen=True)
class Instruction:
    keyword: str
    value: str
    flags: dict[str, str]

    def exec_form(self) -> list[str]:
        """The JSON array of ENTRYPOINT/CMD/RUN in exec form."""
        parsed = json.loads(self.value)
        assert isinstance(parsed, list), f"{self.keyword} is not in exec form: {self.value}"
        return parsed


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[Instruction]

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]

    def last(self, keyword: str) -> Instruction | None:
        found = self.all(keyword)
        return found[-1] if found else None

    def env(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for instruction in self.all("ENV"):
            for token in shlex.split(instruction.value):
                key, _, value = token.partition("=")
                out[key] = value
        return out


def dockerfile_stages(path: Path = DOCKERFILE) -> list[Stage]:
    """The build stages of a Dockerfile, with global ARG defaults substituted into FROM lines."""
    text = re.sub(r"\\\n", " ", path.read_text())
    args: dict[str, str] = {}
    stages: list[Stage] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, rest = line.partition(" ")
        keyword = keyword.upper()
        flags: dict[str, str] = {}
        while rest.startswith("--"):
            flag, _, rest = rest.partition(" ")
            name, _, value = flag[2:].partition("=")
            flags[name] = value
        rest = rest.strip()
        if keyword == "ARG" and not stages:
            name, _, default = rest.partition("=")
            args[name] = default
        elif keyword == "FROM":
            base = re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: args.get(m.group(1) or m.group(2), ""), rest)
            parts = base.split()
            stages.append(Stage(parts[0], parts[2] if len(parts) == 3 and parts[1].upper() == "AS" else None, []))
        else:
            assert stages, f"{keyword} before the first FROM"
            stages[-1].instructions.append(Instruction(keyword, rest, flags))
    return stages


def settings_under(monkeypatch, cls: type[BaseServiceSettings], env: dict[str, str]) -> BaseServiceSettings:
    """`cls` read from exactly `env`, as in a container that is given only that (no SPROUT_ of ours)."""
    for key in [k for k in os.environ if k.startswith("SPROUT_")]:
        monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return cls()


async def run_probe_command(argv: list[str], image_port: int, real_port: int, timeout: float = 30.0) -> int:
    """Run a container's probe command (a healthcheck) here, unchanged, with connections to
    127.0.0.1:`image_port` (the port inside the container) sent to 127.0.0.1:`real_port` instead; its exit code."""
    import asyncio
    import sys
    import tempfile
    import textwrap

    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "sitecustomize.py").write_text(textwrap.dedent(f"""\
            import socket
            _connect = socket.create_connection
            def create_connection(address, *args, **kwargs):
                if tuple(address) in (("127.0.0.1", {image_port}), ("localhost", {image_port})):
                    address = ("127.0.0.1", {real_port})
                return _connect(address, *args, **kwargs)
            socket.create_connection = create_connection
            """))
        program, *rest = argv
        executable = sys.executable if program in ("python", "python3") else program
        proc = await asyncio.create_subprocess_exec(
            executable, *rest, env={**os.environ, "PYTHONPATH": tmp},
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )
        async with asyncio.timeout(timeout):
            return await proc.wait()


# ---------------------------------------------------------------- the runbook's commands


def readme_text() -> str:
    """deploy/README.md with each shell line continued by a backslash joined to the next."""
    return re.sub(r"\\\n\s*", " ", README.read_text())


@dataclass(frozen=True)
class ClientLoop:
    """A loop of deploy/README.md that makes the domain services' machine clients."""

    services: list[str]
    runner: list[str]  # what runs `client create`: `kubectl exec ... -- sprout`, `docker compose run ...`
    args: str  # what follows `client create`, `$s` standing for the service
    body: str

    def argv(self, service: str) -> list[str]:
        """The `sprout` arguments the loop runs for `service`."""
        return ["client", "create", *shlex.split(self.args.replace("$s", service))]

    def printed(self, service: str) -> str:
        """What the loop's `client create` prints for `service` (its secret: `secret-of-<service>`),
        once the real parser has read its arguments as a `service` client with its id, in JSON."""
        args = parse_command(self.argv(service))
        assert (args.command, args.action, args.role, args.client_id, args.json) == (
            "client", "create", "service", client_id(service), True
        ), self.argv(service)
        return json.dumps({
            "client_id": args.client_id, "name": args.name, "role": args.role, "scopes": [], "partner": None,
            "client_secret": f"secret-of-{service}",
        })

    def python(self, service: str, stdin: str) -> str:
        """What the loop's `python3 -c '...'` step prints, run unchanged with `stdin` for `service`."""
        (step,) = re.findall(r"python3 -c '([^']*)'((?: [^|>\n]+)?)", self.body)
        code, args = step
        argv = shlex.split(args.replace("$s", service))
        return subprocess.run([sys.executable, "-c", code, *argv], input=stdin, capture_output=True, text=True, check=True).stdout


def client_loops() -> list[ClientLoop]:
    """The loops of deploy/README.md that make the machine clients (compose's and Kubernetes')."""
    found: list[ClientLoop] = []
    loops = r"^\s*for s in (?P<services>[a-z ]+); do\n(?P<body>(?:(?!^\s*done\b).*\n)*?)^\s*done\b"
    for loop in re.finditer(loops, readme_text(), re.M):
        command = re.search(r"\$\((?P<runner>[^)]*?) client create (?P<args>[^)]*)\)", loop["body"])
        if command:
            found.append(ClientLoop(loop["services"].split(), shlex.split(command["runner"]), command["args"], loop["body"]))
    return found


def readme_shell(line_start: str, then: str) -> str:
    """Run the one line of deploy/README.md that starts with `line_start` in bash, then `then`; its output."""
    (line,) = [s.strip() for s in readme_text().splitlines() if s.strip().startswith(line_start)]
    return subprocess.run(["bash", "-c", f"{line}\n{then}"], capture_output=True, text=True, check=True).stdout


def readme_env_file() -> dict[str, str]:
    """The `.env` deploy/README.md's generator writes, run unchanged."""
    (code,) = re.findall(r"python3 - > \.env <<'EOF'\n(.*?)\n\s*EOF\n", README.read_text(), re.S)
    out = subprocess.run([sys.executable, "-"], input=textwrap.dedent(code), capture_output=True, text=True, check=True).stdout
    return dict(line.split("=", 1) for line in out.splitlines())
