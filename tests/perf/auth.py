"""Auth cost: µs per token verification in a service (cold and cached), and gateway throughput with auth on versus off.

Part one runs in this process: the verifier every service runs (shared/tokens.py) over
freshly signed EdDSA tokens, first seen (signature and claims checked) and seen again
(the verified-token cache), the bare Ed25519 signature check of the same tokens (what no
verifier can avoid), what signing one costs the gateway, and what the gateway's edge layer
(services/gateway/limits/edge.py) adds to a request.

Part two starts real processes on a scratch database (`sprout serve`, one uvicorn worker
each): courses, and two gateways in front of it sharing their keys through the database,
one with the rate limit (and so token verification at the gateway) on, one with it off.
Then, with 64 keep-alive connections from the generator tests/perf/gateway.py uses (wrk when
it is on PATH, else `python -m tests.perf.load` in its own process, which competes with the
servers for the cores; compare ratios from one generator only), one after the other:

  off       limits off, GET /api/courses/healthz without a token
  gateway   limits on,  GET /api/courses/healthz with a token: the gateway verifies it
            (cached after the first request) and keys the rate limit by it
  full      limits on,  GET /api/courses/whoami with a token: the service verifies it
            too and the route runs its access rule

in interleaved rounds. It fails (exit code 1) if any request got an error or a non-2xx
answer: `whoami` answers 401 without the token, so a token that did not arrive cannot pass
for a fast run. Figures (`.sprout/bench/auth.json`; throughput from the round with the
median ratio):

  verify_cold                  µs per first verification versus the bare signature check;
                               target ratio below 3
  verify_cached                µs per verification of a token already seen versus
                               verify_cold; target ratio below 0.05
  throughput_token_at_gateway  req/s of `gateway` versus `off`; target ratio above 0.7
  throughput_token_at_both     req/s of `full` versus `off`; target ratio above 0.6

The targets are regression guards, set with room below (or above) what this benchmark
has measured on the two-core development machine.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from contextlib import ExitStack
from pathlib import Path

from tests.perf.harness import (
    ROOT, Comparison, Figure, Machine, Target, add_round_options, check_round_options, exit_on_sigterm, free_port,
    from_rounds, load_generator, run_summary, scratch_database, service_process, write_figures,
)

TARGET_COLD_RATIO = 3.0
TARGET_CACHED_RATIO = 0.05
TARGET_GATEWAY_RATIO = 0.7
TARGET_FULL_RATIO = 0.6


# ---------------------------------------------------------------- part one: verification in-process


async def _verify_costs(n: int) -> dict[str, float]:
    import jwt
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from services.gateway.tokens.keys import generate_key
    from shared.tokens import StaticKeySource, TokenVerifier

    key = generate_key()
    private = Ed25519PrivateKey.from_private_bytes(key.private_raw)
    verifier = TokenVerifier(StaticKeySource({"keys": [key.public_jwk]}), issuer="sprout-gateway", audience="sprout", cache_size=n + 16)
    now = int(time.time())

    def claims(i: int) -> dict:
        return {
            "iss": "sprout-gateway", "aud": "sprout", "sub": str(uuid.uuid4()), "iat": now, "nbf": now, "exp": now + 900,
            "jti": uuid.uuid4().hex, "typ": "access", "kind": "user", "roles": ["student"], "scope": "",
            "school_id": str(uuid.uuid4()), "name": f"Student {i}",
        }

    payloads = [claims(i) for i in range(n)]
    t0 = time.perf_counter()
    tokens = [jwt.encode(p, private, algorithm="EdDSA", headers={"kid": key.kid}) for p in payloads]
    signed = time.perf_counter() - t0

    public = private.public_key()
    signed_parts = [token.encode().rsplit(b".", 1) for token in tokens]
    signatures = [base64.urlsafe_b64decode(sig + b"=" * (-len(sig) % 4)) for _, sig in signed_parts]
    t0 = time.perf_counter()
    for (message, _), signature in zip(signed_parts, signatures, strict=True):
        public.verify(signature, message)
    bare = time.perf_counter() - t0

    t0 = time.perf_counter()
    for token in tokens:
        await verifier.verify(token)
    cold = time.perf_counter() - t0

    t0 = time.perf_counter()
    for _ in range(5):
        for token in tokens:
            await verifier.verify(token)
    warm = (time.perf_counter() - t0) / 5
    return {
        "sign_us": signed / n * 1e6, "signature_us": bare / n * 1e6, "cold_us": cold / n * 1e6, "warm_us": warm / n * 1e6,
        **await _limiter_costs(verifier, tokens[0], n),
    }


async def _limiter_costs(verifier, token: str, n: int) -> dict[str, float]:
    """The gateway's edge layer alone (rate limit, cached token check, RateLimit-* headers), per request."""
    from types import SimpleNamespace

    from services.gateway.limits.edge import RateLimiter
    from services.gateway.settings import GatewaySettings

    async def app(scope, receive, send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"0")]})
        await send({"type": "http.response.body", "body": b""})

    async def send(message) -> None:
        pass

    huge = 10**9
    settings = GatewaySettings(
        env="test", rate_limit_per_minute=huge, rate_limit_burst=huge,
        rate_limit_anonymous_per_minute=huge, rate_limit_anonymous_burst=huge,
    )
    limiter = RateLimiter(app, gateway=SimpleNamespace(state=SimpleNamespace(token_verifier=verifier)), settings=settings)
    common = [(b"host", b"gateway"), (b"user-agent", b"bench"), (b"accept", b"*/*")]
    out = {}
    for label, headers in (("bare", None), ("anonymous", []), ("token", [(b"authorization", f"Bearer {token}".encode())])):
        target = app if headers is None else limiter
        t0 = time.perf_counter()
        for _ in range(n * 5):
            scope = {"type": "http", "path": "/api/courses/whoami", "headers": [*common, *(headers or [])], "client": ("10.0.0.1", 5000)}
            await target(scope, None, send)
        out[f"edge_{label}_us"] = (time.perf_counter() - t0) / (n * 5) * 1e6
    return out


# ---------------------------------------------------------------- part two: throughput through the gateway


def _service_token(gateway: str, database_url: str) -> str:
    """A genuine token: a machine client made with `sprout client create`, signed in with client credentials."""
    env = {**os.environ, "SPROUT_DATABASE_URL": database_url}
    created = subprocess.run(
        [sys.executable, "-m", "services.cli", "client", "create", "--client-id", "bench-client", "--name", "Benchmark",
         "--role", "service", "--json"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=True,
    )
    secret = json.loads(created.stdout)["client_secret"]
    body = urllib.parse.urlencode(
        {"grant_type": "client_credentials", "client_id": "bench-client", "client_secret": secret}
    ).encode()
    request = urllib.request.Request(f"{gateway}/auth/token", data=body, headers={"Content-Type": "application/x-www-form-urlencoded"})
    with urllib.request.urlopen(request, timeout=10) as r:
        return json.loads(r.read())["access_token"]


def _line(label: str, what: str, r: dict, base: float | None) -> str:
    ratio = f"  ratio {r['rps'] / base:.2f}" if base else ""
    return f"  {label:<8} {what:<52} {r['rps']:>8.0f} req/s{ratio}   {run_summary(r)}"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tests.perf.auth", description=__doc__.splitlines()[0])
    p.add_argument("--tokens", type=int, default=2000, help="tokens in the verification benchmark (at most 100000)")
    add_round_options(p, connections=64)
    args = p.parse_args(argv)
    check_round_options(args, p)
    if not 0 < args.tokens <= 100_000:
        p.error("--tokens must be in (0, 100000]")
    exit_on_sigterm()
    started = Machine.now()
    load = load_generator(args, p)

    costs = asyncio.run(_verify_costs(args.tokens))
    print(f"token verification in a service ({args.tokens} EdDSA tokens, shared/tokens.py TokenVerifier):", flush=True)
    print(f"  cold (signature and claims)  {costs['cold_us']:8.1f} µs per verify", flush=True)
    print(f"  the bare signature check     {costs['signature_us']:8.1f} µs per token", flush=True)
    print(f"  warm (verified-token cache)  {costs['warm_us']:8.1f} µs per verify", flush=True)
    print(f"  signing one (the gateway)    {costs['sign_us']:8.1f} µs per token", flush=True)
    print("the gateway's edge layer (rate limit, cached token check, RateLimit-* headers), per request:", flush=True)
    print(f"  anonymous (by address)       {costs['edge_anonymous_us'] - costs['edge_bare_us']:8.1f} µs", flush=True)
    print(f"  with a token (by principal)  {costs['edge_token_us'] - costs['edge_bare_us']:8.1f} µs", flush=True)

    print(
        f"gateway throughput, auth on versus off: {args.connections} connections, {args.duration:g} s each, "
        f"{args.rounds} interleaved rounds",
        flush=True,
    )
    print(f"  generator: {load.description}", flush=True)
    with tempfile.TemporaryDirectory(prefix="sprout-bench-") as tmp, scratch_database() as database_url, ExitStack() as stack:
        on_port, off_port, courses_port = free_port(), free_port(), free_port()
        courses_url = f"http://127.0.0.1:{courses_port}"
        huge = str(10**9)
        common = {"SPROUT_DATABASE_URL": database_url, "SPROUT_COURSES_URL": courses_url, "SPROUT_CORS_ORIGINS": "[]"}
        limits_on = {
            "SPROUT_RATE_LIMIT_PER_MINUTE": huge, "SPROUT_RATE_LIMIT_BURST": huge,
            "SPROUT_RATE_LIMIT_ANONYMOUS_PER_MINUTE": huge, "SPROUT_RATE_LIMIT_ANONYMOUS_BURST": huge,
            # The load carries a service's token, which has a budget of its own.
            "SPROUT_RATE_LIMIT_SERVICE_PER_MINUTE": huge, "SPROUT_RATE_LIMIT_SERVICE_BURST": huge,
        }
        logs = {name: Path(tmp) / name for name in ("on", "off", "courses")}
        for folder in logs.values():
            folder.mkdir()
        # The limit is too high to refuse anything: what is measured is its cost, and the token check's.
        gateway_on, _ = stack.enter_context(service_process("gateway", on_port, {**common, **limits_on}, logs["on"]))
        gateway_off, _ = stack.enter_context(
            service_process("gateway", off_port, {**common, "SPROUT_RATE_LIMIT_ENABLED": "false"}, logs["off"])
        )
        stack.enter_context(
            service_process("courses", courses_port, {"SPROUT_DATABASE_URL": database_url, "SPROUT_GATEWAY_URL": gateway_on}, logs["courses"])
        )
        token = _service_token(gateway_on, database_url)
        auth = {"Authorization": f"Bearer {token}"}
        _check_whoami(f"{gateway_on}/api/courses/whoami", auth)
        runs = [
            ("off", f"{gateway_off}/api/courses/healthz", {}, "limits off, /api/courses/healthz, no token"),
            ("gateway", f"{gateway_on}/api/courses/healthz", auth, "limits on, /api/courses/healthz, token at gateway"),
            ("full", f"{gateway_on}/api/courses/whoami", auth, "limits on, /api/courses/whoami, token at both"),
        ]
        # Warm both gateways, their pools and the caches.
        warm = {label: load.run(url, 1, headers) for label, url, headers, _ in runs}
        # Interleaved rounds, the one with the median ratio kept: on a shared machine, load from
        # elsewhere then weighs on every kind alike instead of on whichever ran at the wrong moment.
        measured: dict[str, list[dict]] = {label: [] for label, *_ in runs}
        for i in range(args.rounds):
            for label, url, headers, _ in runs:
                measured[label].append(load.run(url, args.duration, headers))
            base = measured["off"][i]["rps"]
            print(f"  round {i + 1}:", flush=True)
            for label, _, _, what in runs:
                print(_line(label, what, measured[label][i], base if label != "off" else None), flush=True)

    # Every run is checked, the warm-up too, not only the medians shown: one bad round must
    # not hide behind two good ones.
    failed = {label: _bad([warm[label], *rs]) for label, rs in measured.items() if _bad([warm[label], *rs]) != (0, 0)}
    for label, (errors, non_2xx) in failed.items():
        why = " (with a token: did the Authorization header arrive?)" if label != "off" and non_2xx else ""
        print(f"  !! FAILED: {label}: {errors} errors, {non_2xx} non-2xx answers over all its runs{why}", flush=True)

    def throughput(name: str, label: str, target: float) -> Figure:
        rounds = list(zip(measured["off"], measured[label], strict=True))
        return from_rounds(name, "req/s", "throughput_auth_off", [(round(off["rps"]), round(on["rps"])) for off, on in rounds],
                           Target("above", target, of="ratio"), details={"p99_ms_by_round": [on["p99_ms"] for _, on in rounds]})

    figures = [
        Figure("verify_cold", round(costs["cold_us"], 1), "µs", Comparison("ed25519_verify", round(costs["signature_us"], 1)),
               Target("below", TARGET_COLD_RATIO, of="ratio"), details={"tokens": args.tokens}),
        Figure("verify_cached", round(costs["warm_us"], 2), "µs", Comparison("verify_cold", round(costs["cold_us"], 1)),
               Target("below", TARGET_CACHED_RATIO, of="ratio")),
        throughput("throughput_token_at_gateway", "gateway", TARGET_GATEWAY_RATIO),
        throughput("throughput_token_at_both", "full", TARGET_FULL_RATIO),
    ]
    write_figures("auth", figures, started=started, options=args, details={
        "generator": load.description,
        "sign_us": round(costs["sign_us"], 1),
        "edge_layer_us": {"anonymous": round(costs["edge_anonymous_us"] - costs["edge_bare_us"], 1),
                          "with_token": round(costs["edge_token_us"] - costs["edge_bare_us"], 1)},
        "failed": bool(failed),
    })
    return 1 if failed else 0


def _bad(runs: list[dict]) -> tuple[int, int]:
    return sum(r["errors"] for r in runs), sum(r["non_2xx"] for r in runs)


def _check_whoami(url: str, auth: dict[str, str]) -> None:
    """whoami refuses a request without the token and answers one with it, else non-2xx counts prove nothing."""
    statuses = {}
    for label, headers in (("without", {}), ("with", auth)):
        try:
            with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10) as r:
                statuses[label] = r.status
        except urllib.error.HTTPError as exc:
            statuses[label] = exc.code
    if statuses != {"without": 401, "with": 200}:
        raise RuntimeError(f"{url} answered {statuses['without']} without the token and {statuses['with']} with it")


if __name__ == "__main__":
    sys.exit(main())
