"""docker-compose.yml read without Docker: one image, the right order, only the gateway published."""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

import pytest
from sqlalchemy.engine import make_url

from services.cli import SERVICES
from pydantic import ValidationError

from shared.settings import BaseServiceSettings
from tests.deploy.files import (
    COMPOSE_FILE,
    DOMAIN_SERVICES,
    MACHINE_CLIENT_SETTINGS,
    ROOT,
    client_id,
    client_loops,
    dockerfile_stages,
    machine_client,
    parse_command,
    readme_env_file,
    readme_shell,
    setting_names,
    settings_class,
    settings_under,
    yaml_documents,
)

COMPOSE = yaml_documents(COMPOSE_FILE)[0]
ALL = COMPOSE["services"]
PORT = dockerfile_stages()[-1].env()["SPROUT_PORT"]


# The variables compose insists on (`${VAR:?why}`): the secrets an operator puts in .env.
REQUIRED = set(re.findall(r"\$\{(\w+):?\?", COMPOSE_FILE.read_text()))


def interpolate(value: str, given: dict[str, str] | None = None) -> str:
    """Compose's `${VAR}`, `${VAR:-default}` and `${VAR:?error}`, with only `given` set."""
    given = given or {}

    def substitute(m: re.Match) -> str:
        name, operator, argument = m.group(1), m.group(2) or "", m.group(3) or ""
        if name in given:
            return given[name]
        if operator.endswith("?"):
            raise KeyError(f"compose requires {name}: {argument}")
        return argument

    return re.sub(r"\$\{(\w+)(?:(:?[-?])([^}]*))?\}", substitute, value)


def container_env(name: str) -> dict[str, str]:
    """A Sprout container's environment as compose gives it, with a placeholder for each secret."""
    given = {var: f"placeholder-{var.lower()}" for var in REQUIRED}
    return {k: interpolate(str(v), given) for k, v in ALL[name]["environment"].items()}


# The one-shots before the services, and the settings class their command reads.
ONE_SHOTS = {"migrate": BaseServiceSettings, "signing-key": settings_class("gateway")}


def settings_of(name: str) -> type[BaseServiceSettings]:
    return ONE_SHOTS[name] if name in ONE_SHOTS else settings_class(name)


def sprout_services() -> dict[str, dict]:
    """The services that run the Sprout image (the five and the one-shots)."""
    return {name: svc for name, svc in ALL.items() if svc.get("build")}


def app_services() -> dict[str, dict]:
    return {name: svc for name, svc in sprout_services().items() if svc["command"][0] == "serve"}


def test_each_sprout_service_runs_under_its_own_name():
    apps = app_services()
    assert set(apps) == set(SERVICES)
    for name, svc in apps.items():
        args = parse_command(svc["command"])
        # The compose name is the host name the others use to reach it.
        assert (args.command, args.name) == ("serve", name)


def test_every_sprout_container_is_the_one_image_from_the_one_dockerfile():
    sprout = sprout_services()
    assert set(sprout) == {*SERVICES, *ONE_SHOTS}
    assert len({svc["image"] for svc in sprout.values()}) == 1
    builds = [svc["build"] for svc in sprout.values()]
    assert all(b == builds[0] for b in builds)
    assert (ROOT / builds[0]["context"] / builds[0]["dockerfile"]).is_file()


def test_the_migration_is_a_one_shot_after_the_database():
    migrate = ALL["migrate"]
    assert parse_command(migrate["command"]).command == "migrate"
    assert migrate["restart"] == "no"
    assert migrate["depends_on"] == {"db": {"condition": "service_healthy"}}


def test_the_signing_key_is_made_after_the_migration_with_the_gateways_settings():
    one_shot = ALL["signing-key"]
    args = parse_command(one_shot["command"])
    assert (args.command, args.action) == ("keys", "ensure")
    assert one_shot["restart"] == "no"
    assert one_shot["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
    assert one_shot["environment"] == ALL["gateway"]["environment"]


@pytest.mark.parametrize("name", list(SERVICES))
def test_each_service_waits_for_the_database_and_the_one_shots(name):
    expected = {
        "db": {"condition": "service_healthy"},
        "migrate": {"condition": "service_completed_successfully"},
    }
    if name == "gateway":
        # In production the gateway will not start without a signing key an operator made.
        expected["signing-key"] = {"condition": "service_completed_successfully"}
    assert ALL[name]["depends_on"] == expected


def test_every_dependency_exists():
    for name, svc in ALL.items():
        for target in svc.get("depends_on", {}):
            assert target in ALL and target != name, f"{name} depends on {target}"


def test_only_the_gateway_is_published():
    published = {name for name, svc in ALL.items() if svc.get("ports") and "observability" not in svc.get("profiles", [])}
    assert published == {"gateway"}
    (mapping,) = ALL["gateway"]["ports"]
    assert interpolate(mapping).rsplit(":", 1)[1] == PORT


def test_the_services_and_the_database_have_healthchecks():
    for name in ("db", *SERVICES):
        test = ALL[name]["healthcheck"]["test"]
        assert test and test[0] in ("CMD", "CMD-SHELL"), name


@pytest.mark.parametrize("name", list(SERVICES))
async def test_each_service_is_healthy_only_once_it_is_ready(name):
    """Its healthcheck, run unchanged against a real server on the container's port: the others
    start once it passes, so it must follow readiness (database reachable, migrations at head)."""
    from tests.deploy.test_dockerfile import probe_app
    from tests.deploy.files import run_probe_command
    from tests.servers import serve

    kind, *argv = ALL[name]["healthcheck"]["test"]
    assert kind == "CMD"
    for healthz, readyz, passes in ((200, 200, True), (200, 503, False)):
        async with serve(probe_app(healthz=healthz, readyz=readyz)) as url:
            code = await run_probe_command(argv, int(PORT), int(url.rsplit(":", 1)[1]))
        assert (code == 0) is passes, (healthz, readyz, code)


@pytest.mark.parametrize("name", [*SERVICES, *ONE_SHOTS])
def test_each_sprout_container_is_configured_for_production(name):
    env = container_env(name)
    assert env["SPROUT_ENV"] == "production"
    known = setting_names(settings_of(name))
    assert set(env) <= known, set(env) - known
    url = make_url(env["SPROUT_DATABASE_URL"])
    db = ALL["db"]["environment"]
    assert url.host == "db" and "db" in ALL
    assert (url.username, url.password, url.database) == tuple(
        interpolate(db[k]) for k in ("POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB")
    )
    for other in SERVICES:
        target = urlsplit(env[f"SPROUT_{other.upper()}_URL"])
        assert (target.hostname, str(target.port)) == (other, PORT)


@pytest.mark.parametrize("name", [*SERVICES, *ONE_SHOTS])
def test_each_sprout_container_has_every_setting_production_demands(name, monkeypatch):
    # The settings refuse development defaults in production: a setting newly required there
    # fails here until docker-compose.yml supplies it.
    cls = settings_of(name)
    env = container_env(name)
    settings_under(monkeypatch, cls, env)
    without_database = {k: v for k, v in env.items() if k != "SPROUT_DATABASE_URL"}
    with pytest.raises(ValidationError, match="SPROUT_DATABASE_URL"):
        settings_under(monkeypatch, cls, without_database)


def client_variables(service: str) -> dict[str, str]:
    """The .env variables a domain service's machine client comes from, by the setting they fill."""
    return {
        "SPROUT_SERVICE_CLIENT_ID": f"SPROUT_{service.upper()}_CLIENT_ID",
        "SPROUT_SERVICE_CLIENT_SECRET": f"SPROUT_{service.upper()}_CLIENT_SECRET",
    }


@pytest.mark.parametrize("name", DOMAIN_SERVICES)
def test_each_domain_service_signs_in_with_its_own_machine_client_from_env(name, monkeypatch):
    raw = ALL[name]["environment"]
    for setting, variable in client_variables(name).items():
        # Only ever `${VAR:?why}`: from .env, never a value written here, never a default.
        m = re.fullmatch(r"\$\{(\w+):\?([^}]*)\}", raw[setting])
        assert m, f"{name}: {setting} is {raw[setting]!r}"
        assert m.group(1) == variable and "deploy/README.md" in m.group(2)
        # Compose refuses to run without it, naming it.
        with pytest.raises(KeyError, match=variable):
            interpolate(raw[setting])
    env = container_env(name)
    assert machine_client(monkeypatch, name, env) == tuple(
        f"placeholder-{variable.lower()}" for variable in client_variables(name).values()
    )


def test_only_its_own_service_reads_a_machine_client():
    for name, svc in sprout_services().items():
        env = svc["environment"]
        named = set(re.findall(r"\$\{(\w+)", " ".join(str(v) for v in env.values())))
        clients = {v for v in named if re.fullmatch(r"SPROUT_[A-Z]+_CLIENT_(ID|SECRET)", v)}
        if name in DOMAIN_SERVICES:
            assert clients == set(client_variables(name).values()), name
        else:
            # The gateway issues tokens and needs no client; the one-shots neither.
            assert not clients and not set(env) & set(MACHINE_CLIENT_SETTINGS), name


def test_the_first_deployments_env_file_and_client_loop_give_compose_every_variable_it_requires(monkeypatch):
    """deploy/README.md's steps, run unchanged where Docker is not needed: the .env generator,
    the stand-ins for the runs that make the clients, and the loop that adds each client's secret."""
    env_file = readme_env_file()
    pending = dict(pair.split("=", 1) for pair in readme_shell("pending=$(", 'printf %s "$pending"').split())
    # While the clients are made, compose can load the file: .env and the stand-ins hold everything.
    assert REQUIRED <= set(env_file) | set(pending), REQUIRED - set(env_file) - set(pending)
    (loop,) = [loop for loop in client_loops() if "compose" in loop.runner]
    assert loop.services == DOMAIN_SERVICES
    # `docker compose run ... SERVICE` then the `sprout` arguments: the gateway's own container.
    assert loop.runner[-1] == "gateway" and ALL["gateway"]["command"][:2] == ["serve", "gateway"]
    for name in DOMAIN_SERVICES:
        for line in loop.python(name, loop.printed(name)).splitlines():
            key, _, value = line.partition("=")
            assert key not in env_file, f"the loop would add {key} to .env twice"
            env_file[key] = value
    # Once the loop has run, .env alone satisfies compose, and each service has its own client.
    assert REQUIRED <= set(env_file), REQUIRED - set(env_file)
    for name in DOMAIN_SERVICES:
        env = {k: interpolate(str(v), env_file) for k, v in ALL[name]["environment"].items()}
        assert machine_client(monkeypatch, name, env) == (client_id(name), f"secret-of-{name}")


def test_the_database_is_postgresql_18_with_its_data_on_a_volume():
    db = ALL["db"]
    assert db["image"].split(":")[0] == "postgres" and db["image"].split(":")[1].startswith("18")
    # From 18 on the image keeps its data in /var/lib/postgresql/18/docker; a volume on the old
    # /var/lib/postgresql/data stops it from starting.
    volume, target = db["volumes"][0].split(":")[:2]
    assert target == "/var/lib/postgresql" and volume in COMPOSE["volumes"]


def test_the_collector_is_optional_and_reads_the_shipped_configuration():
    collector = ALL["otel-collector"]
    assert collector["profiles"] == ["observability"]
    source, target = collector["volumes"][0].split(":")[:2]
    assert (ROOT / source).resolve() == (ROOT / "deploy" / "otel-collector.yaml")
    assert f"--config={target}" in collector["command"]
    # Off unless asked for: the services export only when SPROUT_OTLP_ENDPOINT is given.
    for name in SERVICES:
        assert interpolate(ALL[name]["environment"]["SPROUT_OTLP_ENDPOINT"]) == ""


async def test_behind_a_reverse_proxy_on_the_host_each_caller_has_a_bucket_and_a_forger_has_one(database_url, monkeypatch):
    """With the gateway's settings exactly as compose gives them: the host's end of the compose
    network (where a reverse proxy on the host arrives from) is believed; nobody else is."""
    from services.gateway.app import create_app
    from tests.conftest import running_app
    from tests.limits.support import statuses_from
    from tests.tokens.support import gateway_settings

    shipped = settings_under(monkeypatch, settings_class("gateway"), container_env("gateway"))
    monkeypatch.undo()
    network = ipaddress.ip_network(COMPOSE["networks"]["default"]["ipam"]["config"][0]["subnet"])
    host_end = COMPOSE["networks"]["default"]["ipam"]["config"][0]["gateway"]
    assert ipaddress.ip_address(host_end) in network
    app = create_app(gateway_settings(
        database_url, trusted_proxies=shipped.trusted_proxies,
        rate_limit_anonymous_per_minute=1, rate_limit_anonymous_burst=3,
    ))
    async with running_app(app):
        assert await statuses_from(app, host_end, ["198.51.100.1"] * 4) == [200, 200, 200, 429]
        assert await statuses_from(app, host_end, ["192.0.2.9, 198.51.100.2"] * 3) == [200, 200, 200]
        forged = [f"198.51.100.{10 + i}" for i in range(4)]
        # A caller from outside (published port: its own address), or another container.
        assert await statuses_from(app, "203.0.113.50", forged) == [200, 200, 200, 429]
        assert await statuses_from(app, str(network[5]), forged) == [200, 200, 200, 429]


def test_the_gateway_is_published_on_ipv4_only():
    # docker relays IPv6 to an IPv4 container through the host's end of the network, which the
    # gateway trusts: an IPv6 caller could then write its own X-Forwarded-For.
    (mapping,) = ALL["gateway"]["ports"]
    host_ip = interpolate(mapping).split(":")[0]
    assert ipaddress.ip_address(host_ip).version == 4


def test_the_gateways_metrics_port_is_not_published(monkeypatch):
    env = container_env("gateway")
    metrics = int(env["SPROUT_METRICS_PORT"])
    (mapping,) = ALL["gateway"]["ports"]
    assert interpolate(str(mapping)).rsplit(":", 1)[-1] == "8000" != str(metrics)
    assert all("SPROUT_METRICS_PORT" not in container_env(name) for name in app_services() if name != "gateway")
