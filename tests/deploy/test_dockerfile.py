"""deploy/Dockerfile and .dockerignore, read without a Docker engine: one image that runs any service."""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
import tomllib
from pathlib import Path

from services.cli import SERVICES
from tests.deploy.files import K8S, ROOT, dockerfile_stages, parse_command, read_env_file, run_probe_command
from tests.servers import serve

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def runtime():
    return dockerfile_stages()[-1]


def test_it_is_a_multi_stage_build_on_python_slim():
    stages = dockerfile_stages()
    assert len(stages) >= 2, "build the virtualenv in one stage, copy it into a clean one"
    for stage in stages:
        assert re.fullmatch(r"python:3\.1[1-9]-slim(-\w+)?", stage.base), stage.base
    copied = [i for i in runtime().all("COPY") if "from" in i.flags]
    assert copied and all(i.flags["from"] in {s.name for s in stages[:-1]} for i in copied)


def test_the_entrypoint_is_the_sprout_command_and_the_default_is_the_gateway():
    assert runtime().last("ENTRYPOINT").exec_form() == ["sprout"]
    assert "sprout" in PYPROJECT["project"]["scripts"]
    cmd = runtime().last("CMD").exec_form()
    args = parse_command(cmd)
    assert (args.command, args.name) == ("serve", "gateway")
    assert args.name in SERVICES


def test_it_runs_as_a_numeric_non_root_user():
    user = runtime().last("USER")
    assert user is not None
    uid = user.value.split(":")[0]
    # Numeric, or Kubernetes cannot check runAsNonRoot against the image.
    assert uid.isdigit() and int(uid) != 0


def test_it_listens_on_all_interfaces_on_the_port_the_manifests_use():
    env = runtime().env()
    assert env["SPROUT_HOST"] == "0.0.0.0"
    assert env["SPROUT_PORT"] == read_env_file(K8S / "app" / "sprout.env")["SPROUT_PORT"]
    assert runtime().last("EXPOSE").value == env["SPROUT_PORT"]
    # Without a database URL a production container must refuse to start, not embed a database.
    assert env["SPROUT_ENV"] == "production"


def pip_installs() -> list[list[str]]:
    """Every `pip install` the build runs, as argument lists (RUN lines split at `&&`)."""
    found = []
    for stage in dockerfile_stages():
        for run in stage.all("RUN"):
            for command in run.value.split("&&"):
                argv = shlex.split(command)
                if len(argv) > 1 and Path(argv[0]).name in ("pip", "pip3") and argv[1] == "install":
                    found.append(argv[2:])
    return found


def test_it_installs_the_pinned_project_without_the_test_extra():
    installs = pip_installs()
    assert installs
    for args in installs:
        assert "-c" in args and args[args.index("-c") + 1] == "constraints.txt", args
        assert not {"-e", "--editable"} & set(args), args
        targets = [a for a in args if not a.startswith("-") and a != "constraints.txt"]
        # The project itself, as a regular package; an extra ("[test]") would bring the test tools.
        assert targets == ["."], args


def test_every_copied_path_exists_and_reaches_the_build_context():
    ignore = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()]
    ignore = [line for line in ignore if line and not line.startswith("#")]
    assert ignore[0] == "*", ".dockerignore allows by name: it starts by excluding everything"
    allowed = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    for stage in dockerfile_stages():
        for copy in stage.all("COPY"):
            if "from" in copy.flags:
                continue
            *sources, _dest = copy.value.split()
            for source in sources:
                assert (ROOT / source).exists(), f"COPY {source}: no such path"
                assert source.split("/")[0] in allowed, f"COPY {source}: excluded by .dockerignore"


def test_the_installed_package_carries_every_file_the_services_need():
    # The image installs the project as a regular package, not from the source tree: a folder
    # without __init__.py, or a data file no package-data pattern names, would be missing there
    # (the migrations are the files this has bitten elsewhere).
    patterns = PYPROJECT["tool"]["setuptools"]["package-data"]["*"]
    for top in ("shared", "services"):
        for path in (ROOT / top).rglob("*"):
            if "__pycache__" in path.parts or path.is_dir():
                continue
            rel = path.relative_to(ROOT)
            for parent in rel.parents[:-1]:
                assert (ROOT / parent / "__init__.py").exists(), f"{parent} is not a package, so {rel} is not installed"
            # Markdown is documentation for readers of the repository, not read at run time.
            if path.suffix not in (".py", ".pyc", ".md"):
                assert any(fnmatch.fnmatch(path.name, p) for p in patterns), f"{rel} matches no package-data pattern"


async def test_the_healthcheck_passes_while_the_process_answers_even_if_the_database_is_away():
    """The image's HEALTHCHECK, run unchanged against a real server on the image's port: it follows
    liveness (`/healthz`), not readiness, so Docker does not restart a container whose database blinked."""
    health = runtime().last("HEALTHCHECK")
    assert health is not None
    flags, _, command = health.value.partition("CMD ")
    argv = json.loads(command)
    port = int(runtime().env()["SPROUT_PORT"])
    for healthz, readyz, passes in ((200, 503, True), (503, 200, False)):
        async with serve(probe_app(healthz=healthz, readyz=readyz)) as url:
            code = await run_probe_command(argv, port, int(url.rsplit(":", 1)[1]))
        assert (code == 0) is passes, (healthz, readyz, code)


def probe_app(*, healthz: int, readyz: int):
    """A server whose probes answer the given statuses."""
    from fastapi import FastAPI
    from starlette.responses import Response

    app = FastAPI()
    app.add_api_route("/healthz", lambda: Response(status_code=healthz))
    app.add_api_route("/readyz", lambda: Response(status_code=readyz))
    return app
