"""deploy/k8s without a cluster: every manifest against the Kubernetes schemas, and how they fit together."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from kubernetes_validate import utils as k8s_schema
from sqlalchemy.engine import make_url

from pydantic import ValidationError

from services.cli import SERVICES, uvicorn_options
from shared.settings import BaseServiceSettings
from tests.deploy.files import (
    DEPLOY,
    DOMAIN_SERVICES,
    K8S,
    MACHINE_CLIENT_SETTINGS,
    ROOT,
    SERVICE_SETTING_NAMES,
    SETTING_NAMES,
    client_id,
    client_loops,
    dockerfile_stages,
    machine_client,
    parse_command,
    read_env_file,
    settings_class,
    settings_under,
    yaml_documents,
    yaml_files,
)

KUSTOMIZATIONS = {name: K8S / name for name in ("app", "migrate", "observability")}
SECRET_TEMPLATE = K8S / "secret.example.yaml"
# The machine clients' Secrets: their shape only, for a secret manager; the first deployment makes
# them with `sprout client create` (deploy/README.md).
CLIENTS_TEMPLATE = K8S / "clients.example.yaml"
TEMPLATES = (SECRET_TEMPLATE, CLIENTS_TEMPLATE)
# The oldest Kubernetes still in providers' support when this was written, and the newest schema shipped.
KUBERNETES_VERSIONS = ("1.29", k8s_schema.latest_version())
CONFIG_NAME = "sprout-config"
IMAGE = "sprout"  # the placeholder the kustomizations' `images:` rewrite


def kustomization(name: str) -> dict:
    return yaml_documents(KUSTOMIZATIONS[name] / "kustomization.yaml")[0]


def listed_files(folder: Path) -> set[str]:
    """The files of a folder that its kustomization reads: resources and generator inputs."""
    k = yaml_documents(folder / "kustomization.yaml")[0]
    names = {r for r in k.get("resources", []) if (folder / r).is_file()}
    for generator in (*k.get("configMapGenerator", []), *k.get("secretGenerator", [])):
        names.update(generator.get("envs", []))
        names.update(f.partition("=")[2] or f for f in generator.get("files", []))
    return names


def resources(folder: Path) -> list[dict]:
    """The manifests a kustomization lists, following `resources:` into other kustomizations."""
    k = yaml_documents(folder / "kustomization.yaml")[0]
    out: list[dict] = []
    for r in k["resources"]:
        path = (folder / r).resolve()
        out.extend(resources(path) if path.is_dir() else yaml_documents(path))
    return out


def manifest_files() -> list[Path]:
    """Every Kubernetes object file under deploy/k8s (not the kustomizations, not the collector's config)."""
    return sorted(
        p for p in K8S.rglob("*.yaml")
        if p.name != "kustomization.yaml" and all({"apiVersion", "kind"} <= set(d) for d in yaml_documents(p))
    )


APP = resources(KUSTOMIZATIONS["app"])
OBSERVABILITY = resources(KUSTOMIZATIONS["observability"])
MIGRATE = resources(KUSTOMIZATIONS["migrate"])
CONFIG = read_env_file(KUSTOMIZATIONS["app"] / "sprout.env")
SECRETS = {d["metadata"]["name"]: d for path in TEMPLATES for d in yaml_documents(path)}
DATABASE_SECRET = "sprout-database"
CLIENT_KEYS = {"SPROUT_SERVICE_CLIENT_ID": "client-id", "SPROUT_SERVICE_CLIENT_SECRET": "client-secret"}


def client_secret_name(service: str) -> str:
    """Each domain service's own Secret, holding its machine client and nothing of another's."""
    return f"sprout-{service}"


def of_kind(docs: list[dict], kind: str) -> dict[str, dict]:
    found = [d for d in docs if d["kind"] == kind]
    by_name = {d["metadata"]["name"]: d for d in found}
    assert len(by_name) == len(found), f"two {kind}s share a name"
    return by_name


def selects(selector: dict, labels: dict) -> bool:
    assert set(selector) <= {"matchLabels"}, "only matchLabels selectors are used here"
    return all(labels.get(k) == v for k, v in selector.get("matchLabels", {}).items())


def pod_labels(deployment: dict) -> dict:
    return deployment["spec"]["template"]["metadata"]["labels"]


def container(workload: dict) -> dict:
    containers = workload["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


DEPLOYMENTS = of_kind(APP, "Deployment")
SERVICES_K8S = of_kind(APP, "Service")
JOB = of_kind(MIGRATE, "Job")["sprout-migrate"]
# The Job's steps: the migration (an init container, so it runs first), then the signing key.
(MIGRATE_STEP,) = JOB["spec"]["template"]["spec"]["initContainers"]
SIGNING_KEY_STEP = container(JOB)


def all_containers() -> list[dict]:
    return [*(container(d) for d in DEPLOYMENTS.values()), MIGRATE_STEP, SIGNING_KEY_STEP]


# ---------------------------------------------------------------- every file


@pytest.mark.parametrize("path", yaml_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_yaml_file_parses(path):
    assert yaml_documents(path), f"{path} holds no document"


@pytest.mark.parametrize("path", manifest_files(), ids=lambda p: str(p.relative_to(K8S)))
def test_every_manifest_matches_the_kubernetes_schema(path):
    for doc in yaml_documents(path):
        for version in KUBERNETES_VERSIONS:
            # strict: an unknown field (a typo) is an error, not silently ignored by the API server.
            k8s_schema.validate(doc, version, strict=True)


def test_the_schema_check_rejects_a_misspelt_field():
    broken = copy.deepcopy(DEPLOYMENTS["courses"])
    container(broken)["readinessProbe"]["httpGet"]["paht"] = "/readyz"
    with pytest.raises(k8s_schema.ValidationError):
        k8s_schema.validate(broken, KUBERNETES_VERSIONS[-1], strict=True)


def test_each_kustomization_lists_every_file_in_its_folder():
    for name, folder in KUSTOMIZATIONS.items():
        present = {p.name for p in folder.iterdir() if p.is_file()} - {"kustomization.yaml"}
        assert listed_files(folder) == present, f"deploy/k8s/{name}"
    # Beside the three kustomizations there are only the Secret templates, which none may apply.
    assert {p.name for p in K8S.iterdir()} == {*KUSTOMIZATIONS, *(p.name for p in TEMPLATES)}
    for folder in KUSTOMIZATIONS.values():
        for template in TEMPLATES:
            assert template.name not in str(kustomization(folder.name).get("resources"))


def test_the_collector_configuration_is_the_one_compose_mounts():
    assert (K8S / "observability" / "otel-collector.yaml").read_bytes() == (DEPLOY / "otel-collector.yaml").read_bytes()


# ---------------------------------------------------------------- one Deployment per service


def test_every_service_has_a_deployment_a_service_a_budget_and_an_autoscaler():
    for kind in ("Deployment", "Service", "PodDisruptionBudget", "HorizontalPodAutoscaler"):
        assert set(of_kind(APP, kind)) == set(SERVICES), kind


@pytest.mark.parametrize("name", list(SERVICES))
def test_each_deployment_runs_its_own_service(name):
    c = container(DEPLOYMENTS[name])
    assert c["image"] == IMAGE
    assert "command" not in c, "the image's ENTRYPOINT is `sprout`; containers give only its arguments"
    args = parse_command(c["args"])
    assert (args.command, args.name) == ("serve", name)


@pytest.mark.parametrize("name", list(SERVICES))
def test_each_deployment_probes_the_right_paths_on_its_port(name):
    c = container(DEPLOYMENTS[name])
    port = c["ports"][0]
    assert str(port["containerPort"]) == CONFIG["SPROUT_PORT"]
    probes = {
        "startupProbe": "/healthz",
        "livenessProbe": "/healthz",
        "readinessProbe": "/readyz",
    }
    for probe, path in probes.items():
        get = c[probe]["httpGet"]
        assert get["path"] == path, probe
        assert get["port"] in (port["name"], port["containerPort"]), probe


@pytest.mark.parametrize("name", list(SERVICES))
def test_each_deployment_is_locked_down_and_sized(name):
    pod = DEPLOYMENTS[name]["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    assert pod["automountServiceAccountToken"] is False
    assert pod["enableServiceLinks"] is False
    c = container(DEPLOYMENTS[name])
    sc = c["securityContext"]
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"]["drop"] == ["ALL"]
    # A read-only root still needs a writable /tmp.
    tmp = [m for m in c["volumeMounts"] if m["mountPath"] == "/tmp"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert tmp and "emptyDir" in volumes[tmp[0]["name"]]
    for bound in ("requests", "limits"):
        assert {"cpu", "memory"} <= set(c["resources"][bound]), bound


def _uvicorn_graceful_seconds() -> int:
    """How long `sprout serve` lets uvicorn drain requests, from the options it really passes."""
    return uvicorn_options("0.0.0.0", 8000)["timeout_graceful_shutdown"]


@pytest.mark.parametrize("name", list(SERVICES))
def test_each_deployment_gives_graceful_shutdown_time_to_finish(name):
    pod = DEPLOYMENTS[name]["spec"]["template"]["spec"]
    pre_stop = container(DEPLOYMENTS[name])["lifecycle"]["preStop"]["exec"]["command"]
    assert pre_stop[0] == "sleep"
    # Kubernetes kills the pod when the grace period ends, preStop included.
    assert pod["terminationGracePeriodSeconds"] > int(pre_stop[1]) + _uvicorn_graceful_seconds()


@pytest.mark.parametrize("name", list(SERVICES))
def test_each_deployment_reads_the_config_and_its_own_database_role(name):
    c = container(DEPLOYMENTS[name])
    assert [e["configMapRef"]["name"] for e in c["envFrom"]] == [CONFIG_NAME]
    env = {e["name"]: e for e in c["env"]}
    ref = env["SPROUT_DATABASE_URL"]["valueFrom"]["secretKeyRef"]
    assert ref["name"] == DATABASE_SECRET
    assert ref["key"] == name, "each service connects with its own role"


def secret_refs(c: dict) -> dict[str, tuple[str, str]]:
    """Environment variable → (Secret, key) of a container."""
    return {
        e["name"]: (e["valueFrom"]["secretKeyRef"]["name"], e["valueFrom"]["secretKeyRef"]["key"])
        for e in c.get("env", [])
        if "secretKeyRef" in e.get("valueFrom", {})
    }


def test_the_secret_templates_have_every_key_the_workloads_read_and_no_real_value():
    refs = {ref for c in all_containers() for ref in secret_refs(c).values()}
    template = {(name, key) for name, secret in SECRETS.items() for key in secret["stringData"]}
    assert refs == template
    for name, secret in SECRETS.items():
        assert secret["metadata"]["namespace"] == kustomization("app")["namespace"]
        for key, value in secret["stringData"].items():
            if key == CLIENT_KEYS["SPROUT_SERVICE_CLIENT_ID"]:
                continue  # a client's id is no secret: test_the_clients_template_holds_each_domain_services_client
            assert "CHANGE_ME" in value, f"{name}/{key} looks like a real value"
    for key, url in SECRETS[DATABASE_SECRET]["stringData"].items():
        # The role names of deploy/sql/roles.sql.
        assert make_url(url).username == ("sprout_migrator" if key == "migrate" else f"sprout_{key}")


def test_the_clients_template_holds_each_domain_services_client_and_the_applied_template_none():
    clients = {d["metadata"]["name"]: d["stringData"] for d in yaml_documents(CLIENTS_TEMPLATE)}
    assert clients == {
        client_secret_name(name): {"client-id": client_id(name), "client-secret": "CHANGE_ME"} for name in DOMAIN_SERVICES
    }
    # The template an operator copies and applies (deploy/README.md) must not make a client's
    # Secret with a stand-in secret: the first deployment would then skip making the real one.
    for secret in yaml_documents(SECRET_TEMPLATE):
        assert not set(secret["stringData"]) & set(CLIENT_KEYS.values()), secret["metadata"]["name"]


def machine_client_sources(c: dict) -> dict[str, tuple]:
    """Where a container's machine-client settings come from: ("secret", name, key) or ("inline", value)."""
    out: dict[str, tuple] = {}
    for e in c.get("env", []):
        if e["name"] in MACHINE_CLIENT_SETTINGS:
            ref = e.get("valueFrom", {}).get("secretKeyRef")
            out[e["name"]] = ("secret", ref["name"], ref["key"]) if ref else ("inline", e.get("value"))
    return out


@pytest.mark.parametrize("name", DOMAIN_SERVICES)
def test_each_domain_service_signs_in_with_its_own_machine_client_from_its_own_secret(name, monkeypatch):
    c = container(DEPLOYMENTS[name])
    assert machine_client_sources(c) == {
        var: ("secret", client_secret_name(name), key) for var, key in CLIENT_KEYS.items()
    }, "from the service's own Secret, never an inline value"
    # Given what the pod is given, the service has a machine client to sign in with: its own.
    assert machine_client(monkeypatch, name, pod_env(c)) == (client_id(name), "CHANGE_ME")


def test_an_inline_machine_client_is_told_from_one_read_from_a_secret():
    broken = copy.deepcopy(container(DEPLOYMENTS["courses"]))
    for e in broken["env"]:
        if e["name"] == "SPROUT_SERVICE_CLIENT_SECRET":
            e.pop("valueFrom")
            e["value"] = "s3cret"
    assert machine_client_sources(broken)["SPROUT_SERVICE_CLIENT_SECRET"] == ("inline", "s3cret")


def test_only_its_own_service_reads_a_machine_client():
    # Least privilege: the gateway issues tokens and needs no client; the Job's steps neither.
    containers = [
        (d["metadata"]["name"], container(d))
        for docs in (APP, OBSERVABILITY) for d in of_kind(docs, "Deployment").values()
    ]
    containers += [("migrate", MIGRATE_STEP), ("signing-key", SIGNING_KEY_STEP)]
    clients = {client_secret_name(name): name for name in DOMAIN_SERVICES}
    for owner, c in containers:
        read = {secret for secret, _ in secret_refs(c).values() if secret in clients}
        assert read == ({client_secret_name(owner)} if owner in DOMAIN_SERVICES else set()), owner
        if owner not in DOMAIN_SERVICES:
            assert not machine_client_sources(c), owner
    # Nor is a machine client ever part of the configuration every pod reads.
    shared = set(CONFIG)
    for generator in kustomization("observability")["configMapGenerator"]:
        shared.update(lit.partition("=")[0] for lit in generator.get("literals", []))
    assert not shared & set(MACHINE_CLIENT_SETTINGS)


def test_the_first_deployment_makes_each_client_into_the_secret_its_service_reads(monkeypatch):
    """deploy/README.md's loop, its parts run unchanged: `sprout client create` in the gateway's
    pod, its JSON turned into the Secret the domain service's Deployment reads."""
    (loop,) = [loop for loop in client_loops() if loop.runner[0] == "kubectl"]
    assert loop.runner == ["kubectl", "-n", kustomization("app")["namespace"], "exec", "deploy/gateway", "--", "sprout"]
    assert loop.services == DOMAIN_SERVICES
    (secret_name,) = re.findall(r"create secret generic (\S+) --from-env-file=/dev/stdin", loop.body)
    for name in DOMAIN_SERVICES:
        secret = dict(line.split("=", 1) for line in loop.python(name, loop.printed(name)).splitlines())
        assert secret_name.replace("$s", name) == client_secret_name(name)
        assert set(secret) == set(CLIENT_KEYS.values())
        env = pod_env(container(DEPLOYMENTS[name]))
        env.update({var: secret[key] for var, key in CLIENT_KEYS.items()})
        assert machine_client(monkeypatch, name, env) == (client_id(name), f"secret-of-{name}")


def test_every_setting_the_manifests_set_is_a_real_setting():
    shared = set(CONFIG)
    for generator in kustomization("observability")["configMapGenerator"]:
        shared.update(lit.partition("=")[0] for lit in generator.get("literals", []))
    assert shared <= SETTING_NAMES, shared - SETTING_NAMES
    for name, deployment in DEPLOYMENTS.items():
        names = {e["name"] for e in container(deployment).get("env", [])}
        assert names <= SERVICE_SETTING_NAMES[name], names - SERVICE_SETTING_NAMES[name]
    migrate = {e["name"] for e in MIGRATE_STEP["env"]}
    assert migrate <= SETTING_NAMES, migrate - SETTING_NAMES
    signing_key = {e["name"] for e in SIGNING_KEY_STEP["env"]}
    assert signing_key <= SERVICE_SETTING_NAMES["gateway"], signing_key - SERVICE_SETTING_NAMES["gateway"]


def pod_env(c: dict) -> dict[str, str]:
    """What a container's environment holds: the ConfigMap, plain values, the Secret template's values."""
    env = dict(CONFIG) if c.get("envFrom") else {}
    for e in c.get("env", []):
        if "value" in e:
            env[e["name"]] = e["value"]
    for var, (secret, key) in secret_refs(c).items():
        env[var] = SECRETS[secret]["stringData"][key]
    return env


@pytest.mark.parametrize("name", [*SERVICES, "migrate", "signing-key"])
def test_each_container_has_every_setting_production_demands(name, monkeypatch):
    # The settings refuse development defaults in production: a setting newly required there
    # fails here until the manifests (and the Secret template) supply it.
    c, cls = {
        "migrate": (MIGRATE_STEP, BaseServiceSettings),
        "signing-key": (SIGNING_KEY_STEP, settings_class("gateway")),
    }.get(name) or (container(DEPLOYMENTS[name]), settings_class(name))
    env = pod_env(c)
    assert env["SPROUT_ENV"] == "production"
    settings_under(monkeypatch, cls, env)
    with pytest.raises(ValidationError, match="SPROUT_DATABASE_URL"):
        settings_under(monkeypatch, cls, {k: v for k, v in env.items() if k != "SPROUT_DATABASE_URL"})


def test_the_service_urls_name_the_kubernetes_services():
    for name in SERVICES:
        url = urlsplit(CONFIG[f"SPROUT_{name.upper()}_URL"])
        assert url.hostname == name and SERVICES_K8S[name]["metadata"]["name"] == name
        ports = [p["port"] for p in SERVICES_K8S[name]["spec"]["ports"]]
        assert (url.port or 80) in ports


# ---------------------------------------------------------------- how the parts fit


def test_each_service_selects_the_pods_of_its_deployment_and_their_port():
    for name, svc in SERVICES_K8S.items():
        selected = [d for d in DEPLOYMENTS.values() if selects({"matchLabels": svc["spec"]["selector"]}, pod_labels(d))]
        assert [d["metadata"]["name"] for d in selected] == [name]
        port_names = {p["name"] for p in container(selected[0])["ports"]}
        for port in svc["spec"]["ports"]:
            assert port["targetPort"] in port_names


def test_each_autoscaler_scales_a_deployment_that_leaves_it_the_replica_count():
    for name, hpa in of_kind(APP, "HorizontalPodAutoscaler").items():
        assert hpa["apiVersion"] == "autoscaling/v2"
        target = hpa["spec"]["scaleTargetRef"]
        assert (target["kind"], target["name"]) == ("Deployment", name) and name in DEPLOYMENTS
        assert "replicas" not in DEPLOYMENTS[name]["spec"], "a fixed count would reset the autoscaler on every apply"
        metrics = [m["resource"]["name"] for m in hpa["spec"]["metrics"] if m["type"] == "Resource"]
        assert "cpu" in metrics
        assert "cpu" in container(DEPLOYMENTS[name])["resources"]["requests"], "CPU utilisation needs a CPU request"
        # With one replica, the disruption budget would block every node drain.
        assert 2 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]


def test_each_disruption_budget_covers_exactly_its_deployment():
    for name, pdb in of_kind(APP, "PodDisruptionBudget").items():
        covered = [d for d, dep in DEPLOYMENTS.items() if selects(pdb["spec"]["selector"], pod_labels(dep))]
        assert covered == [name]
        assert "maxUnavailable" in pdb["spec"] or "minAvailable" in pdb["spec"]


def test_the_ingress_reaches_the_gateway_only():
    ingresses = of_kind(APP, "Ingress")
    assert ingresses
    gateway_ports = {p["name"] for p in SERVICES_K8S["gateway"]["spec"]["ports"]}
    for ingress in ingresses.values():
        for rule in ingress["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                backend = path["backend"]["service"]
                assert backend["name"] == "gateway"
                assert backend["port"]["name"] in gateway_ports


def _ingress_peers(policies: dict[str, dict], labels: dict) -> list[dict]:
    peers: list[dict] = []
    for policy in policies.values():
        if selects(policy["spec"]["podSelector"], labels):
            for rule in policy["spec"].get("ingress", []):
                assert rule.get("from"), f"{policy['metadata']['name']}: a rule without `from` admits everyone"
                peers.extend(rule["from"])
    return peers


def test_network_policies_let_only_sprout_pods_reach_the_services():
    policies = of_kind(APP, "NetworkPolicy")
    deny_all = [
        p for p in policies.values()
        if p["spec"]["podSelector"] == {} and p["spec"]["policyTypes"] == ["Ingress"] and not p["spec"].get("ingress")
    ]
    assert deny_all, "nothing is denied by default"
    for name, deployment in DEPLOYMENTS.items():
        # Every service may be reached by its fellows, so each must carry the label the policies admit.
        peers = _ingress_peers(policies, pod_labels(deployment))
        sprout_peers = [p for p in peers if set(p) == {"podSelector"}]
        assert any(selects(p["podSelector"], pod_labels(d)) for p in sprout_peers for d in DEPLOYMENTS.values())
        for peer in sprout_peers:
            for other in DEPLOYMENTS.values():
                assert selects(peer["podSelector"], pod_labels(other)), "a service is cut off from another"
        outside = [p for p in peers if set(p) != {"podSelector"}]
        if name == "gateway":
            assert outside and all(set(p) == {"namespaceSelector"} for p in outside), "the ingress controller"
        else:
            assert outside == [], f"{name} is reachable from outside Sprout"


# ---------------------------------------------------------------- the migration Job


def test_the_job_migrates_as_the_migrator_then_makes_the_signing_key_as_the_gateway():
    assert parse_command(MIGRATE_STEP["args"]).command == "migrate"
    assert secret_refs(MIGRATE_STEP)["SPROUT_DATABASE_URL"] == (DATABASE_SECRET, "migrate")
    keys = parse_command(SIGNING_KEY_STEP["args"])
    assert (keys.command, keys.action) == ("keys", "ensure")
    # The same database role and personal-data keys as the gateway that will use the key.
    assert secret_refs(SIGNING_KEY_STEP) == secret_refs(container(DEPLOYMENTS["gateway"]))
    pod = JOB["spec"]["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    assert pod["securityContext"]["runAsNonRoot"] is True
    for c in (MIGRATE_STEP, SIGNING_KEY_STEP):
        assert c["image"] == IMAGE
        assert {e["name"]: e.get("value") for e in c["env"]}["SPROUT_ENV"] == "production"
        assert c["securityContext"]["readOnlyRootFilesystem"] is True
        assert c["securityContext"]["capabilities"]["drop"] == ["ALL"]


def test_the_app_and_the_migration_use_the_same_image():
    images = [[i for i in kustomization(name)["images"] if i["name"] == IMAGE] for name in ("app", "migrate")]
    assert all(len(i) == 1 for i in images)
    assert images[0] == images[1], "the migration must be the release's, or the schema and the code disagree"


def test_the_image_user_is_the_pods_user():
    user = dockerfile_stages()[-1].last("USER").value.split(":")[0]
    for workload in [*DEPLOYMENTS.values(), JOB]:
        assert str(workload["spec"]["template"]["spec"]["securityContext"]["runAsUser"]) == user


# ---------------------------------------------------------------- observability overlay


def test_the_observability_overlay_points_every_service_at_its_collector():
    generators = {g["name"]: g for g in kustomization("observability")["configMapGenerator"]}
    assert generators[CONFIG_NAME]["behavior"] == "merge"
    literals = dict(lit.partition("=")[::2] for lit in generators[CONFIG_NAME]["literals"])
    endpoint = urlsplit(literals["SPROUT_OTLP_ENDPOINT"])
    collector = of_kind(OBSERVABILITY, "Service")[endpoint.hostname]
    assert endpoint.port in [p["port"] for p in collector["spec"]["ports"]]
    config = yaml_documents(DEPLOY / "otel-collector.yaml")[0]
    http = config["receivers"]["otlp"]["protocols"]["http"]["endpoint"]
    assert http.endswith(f":{endpoint.port}")
    deployment = of_kind(OBSERVABILITY, "Deployment")[endpoint.hostname]
    volumes = deployment["spec"]["template"]["spec"]["volumes"]
    assert any(v.get("configMap", {}).get("name") in generators for v in volumes)
    # The overlay carries the whole application.
    assert set(SERVICES) <= set(of_kind(OBSERVABILITY, "Deployment"))


def test_the_collector_pipelines_use_only_declared_components():
    config = yaml_documents(DEPLOY / "otel-collector.yaml")[0]
    for name, pipeline in config["service"]["pipelines"].items():
        for section in ("receivers", "processors", "exporters"):
            for component in pipeline.get(section, []):
                assert component in config[section], f"pipeline {name}: {section} {component} is not declared"
    for extension in config["service"].get("extensions", []):
        assert extension in config["extensions"]


# ---------------------------------------------------------------- callers' addresses behind the ingress


# The ingress controller's pod, in the pod networks clusters usually have: kubeadm with flannel
# and kind, Calico's default, k3s, EKS in a default VPC, and a dual-stack kind cluster.
INGRESS_POD_ADDRESSES = ("10.244.1.17", "192.168.12.9", "10.42.0.8", "172.31.20.4", "fd00:10:244::5")


async def test_behind_the_ingress_each_caller_has_a_bucket_and_a_forger_from_outside_has_one(database_url, monkeypatch):
    """With the gateway's settings exactly as the manifests give them: anonymous callers are
    limited per real address, not all together as the ingress controller's one address."""
    from services.gateway.app import create_app
    from tests.conftest import running_app
    from tests.limits.support import statuses_from
    from tests.tokens.support import gateway_settings

    shipped = settings_under(monkeypatch, settings_class("gateway"), pod_env(container(DEPLOYMENTS["gateway"])))
    monkeypatch.undo()
    app = create_app(gateway_settings(
        database_url, trusted_proxies=shipped.trusted_proxies,
        rate_limit_anonymous_per_minute=1, rate_limit_anonymous_burst=3,
    ))
    async with running_app(app):
        for i, pod in enumerate(INGRESS_POD_ADDRESSES):
            # ingress-nginx writes the address it saw; a caller's own entry sits to its left.
            first, second = f"198.51.100.{2 * i + 1}", f"198.51.100.{2 * i + 2}"
            assert await statuses_from(app, pod, [first] * 4) == [200, 200, 200, 429], pod
            assert await statuses_from(app, pod, [f"192.0.2.9, {second}"] * 3) == [200, 200, 200], pod
        # Reaching the gateway some other way, a caller's X-Forwarded-For is believed about nothing.
        forged = [f"198.51.100.{100 + i}" for i in range(4)]
        assert await statuses_from(app, "203.0.113.50", forged) == [200, 200, 200, 429]


def test_prometheus_scrapes_the_gateway_on_its_metrics_port_which_no_service_or_ingress_exposes(monkeypatch):
    gateway = DEPLOYMENTS["gateway"]
    shipped = settings_under(monkeypatch, settings_class("gateway"), pod_env(container(gateway)))
    annotations = gateway["spec"]["template"]["metadata"]["annotations"]
    ports = {p["name"]: p["containerPort"] for p in container(gateway)["ports"]}
    assert shipped.metrics_port == ports["metrics"] == int(annotations["prometheus.io/port"])
    assert shipped.metrics_port != shipped.listen_port
    # The Service (and so the Ingress) carries the API port only.
    assert [p["targetPort"] for p in SERVICES_K8S["gateway"]["spec"]["ports"]] == ["http"]
    # The other services serve /metrics on their API port, which only Sprout pods reach.
    for name in SERVICES:
        if name != "gateway":
            assert settings_under(monkeypatch, settings_class(name), pod_env(container(DEPLOYMENTS[name]))).metrics_port is None
