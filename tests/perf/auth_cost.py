"""Auth cost: µs per token verification in a service (cold and cached), and gateway throughput with auth on versus off.

Part one runs in this process: the verifier every service runs (shared/tokens.py) over
freshly signed EdDSA tokens, first seen (signature and claims checked) and seen again
(the verified-token cache), what signing one costs the gateway, and what the gateway's
edge layer (services/gateway/limits/edge.py) adds to a request.

Part two starts real processes on a scratch database (`sprout serve`, one uvicorn worker
each): courses, and two gateways in front of it sharing their keys through the database,
one with the rate limit (and so token verification at the gateway) on, one with it off.
Then, with wrk and 64 keep-alive connections, one after the other:

  off       limits off, GET /api/courses/healthz without a token
  gateway   limits on,  GET /api/courses/healthz with a token: the gateway verifies it
            (cached after the first request) and keys the rate limit by it
  full      limits on,  GET /api/courses/whoami with a token: the service verifies it
            too and the route runs its access rule

and prints requests/s (the median of interleaved rounds) and each as a ratio of `off`,
from the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
import uuid
from contextlib import ExitStack
from pathlib import Path

from tests.perf.harness import ROOT, free_port, scratch_database, service_process


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
        "sign_us": signed / n * 1e6, "cold_us": cold / n * 1e6, "warm_us": warm / n * 1e6,
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


def _wrk(url: str, headers: dict[str, str], connections: int, duration: float, threads: int) -> dict:
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, round(duration))}s", "--latency"]
    for name, value in headers.items():
        cmd += ["-H", f"{name}: {value}"]
    out = subprocess.run([*cmd, url], capture_output=True, text=True, timeout=duration + 60, check=True).stdout

    def find(pattern: str) -> str | None:
        m = re.search(pattern, out)
        return m.group(1) if m else None

    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", find(r"Socket errors: (.*)") or ""))
    return {
        "rps": float(find(r"Requests/sec:\s+([\d.]+)") or 0),
        "errors": errors,
        "non_2xx": int(find(r"Non-2xx or 3xx responses: (\d+)") or 0),
        "p50": find(r"50%\s+(\S+)"),
        "p99": find(r"99%\s+(\S+)"),
    }


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


def _url(started: str | tuple[str, int]) -> str:
    # tests/perf/harness.py's service_process yields the URL (and, lately, the pid with it).
    return started[0] if isinstance(started, tuple) else started


def _line(label: str, what: str, r: dict, base: float | None) -> str:
    ratio = f"  ratio {r['rps'] / base:.2f}" if base else ""
    tail = f"p50 {r['p50']}, p99 {r['p99']}"
    if r["errors"] or r["non_2xx"]:
        tail += f"  (!! {r['errors']} errors, {r['non_2xx']} non-2xx)"
    return f"  {label:<8} {what:<52} {r['rps']:>8.0f} req/s{ratio}   {tail}"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tests.perf.auth_cost", description=__doc__.splitlines()[0])
    p.add_argument("--tokens", type=int, default=2000, help="tokens in the verification benchmark (at most 100000)")
    p.add_argument("--duration", type=float, default=5.0, help="seconds of load per measurement (at most 60)")
    p.add_argument("--connections", type=int, default=64)
    p.add_argument("--rounds", type=int, default=3, help="interleaved rounds; the median of each is reported (at most 10)")
    p.add_argument("--wrk-threads", type=int, default=1)
    args = p.parse_args(argv)
    if not 0 < args.duration <= 60:
        p.error("--duration must be in (0, 60] seconds")
    if not 0 < args.rounds <= 10:
        p.error("--rounds must be in [1, 10]")
    if not 0 < args.tokens <= 100_000:
        p.error("--tokens must be in (0, 100000]")

    costs = asyncio.run(_verify_costs(args.tokens))
    print(f"token verification in a service ({args.tokens} EdDSA tokens, shared/tokens.py TokenVerifier):", flush=True)
    print(f"  cold (signature and claims)  {costs['cold_us']:8.1f} µs per verify", flush=True)
    print(f"  warm (verified-token cache)  {costs['warm_us']:8.1f} µs per verify", flush=True)
    print(f"  signing one (the gateway)    {costs['sign_us']:8.1f} µs per token", flush=True)
    print("the gateway's edge layer (rate limit, cached token check, RateLimit-* headers), per request:", flush=True)
    print(f"  anonymous (by address)       {costs['edge_anonymous_us'] - costs['edge_bare_us']:8.1f} µs", flush=True)
    print(f"  with a token (by principal)  {costs['edge_token_us'] - costs['edge_bare_us']:8.1f} µs", flush=True)

    if not shutil.which("wrk"):
        print("gateway throughput with auth on/off: skipped, wrk is not on PATH (it sends the Authorization header)")
        return 0

    print(
        f"gateway throughput, auth on versus off: {args.connections} connections, {args.duration:g} s each, "
        f"median of {args.rounds} interleaved rounds, wrk",
        flush=True,
    )
    code = 0
    with tempfile.TemporaryDirectory(prefix="sprout-bench-") as tmp, scratch_database() as database_url, ExitStack() as stack:
        on_port, off_port, courses_port = free_port(), free_port(), free_port()
        courses_url = f"http://127.0.0.1:{courses_port}"
        huge = str(10**9)
        common = {"SPROUT_DATABASE_URL": database_url, "SPROUT_COURSES_URL": courses_url, "SPROUT_CORS_ORIGINS": "[]"}
        limits_on = {
            "SPROUT_RATE_LIMIT_PER_MINUTE": huge, "SPROUT_RATE_LIMIT_BURST": huge,
            "SPROUT_RATE_LIMIT_ANONYMOUS_PER_MINUTE": huge, "SPROUT_RATE_LIMIT_ANONYMOUS_BURST": huge,
        }
        logs = {name: Path(tmp) / name for name in ("on", "off", "courses")}
        for folder in logs.values():
            folder.mkdir()
        # The limit is too high to refuse anything: what is measured is its cost, and the token check's.
        gateway_on = _url(stack.enter_context(service_process("gateway", on_port, {**common, **limits_on}, logs["on"])))
        gateway_off = _url(
            stack.enter_context(service_process("gateway", off_port, {**common, "SPROUT_RATE_LIMIT_ENABLED": "false"}, logs["off"]))
        )
        stack.enter_context(
            service_process("courses", courses_port, {"SPROUT_DATABASE_URL": database_url, "SPROUT_GATEWAY_URL": gateway_on}, logs["courses"])
        )
        token = _service_token(gateway_on, database_url)
        auth = {"Authorization": f"Bearer {token}"}
        runs = [
            ("off", f"{gateway_off}/api/courses/healthz", {}, "limits off, /api/courses/healthz, no token"),
            ("gateway", f"{gateway_on}/api/courses/healthz", auth, "limits on, /api/courses/healthz, token at gateway"),
            ("full", f"{gateway_on}/api/courses/whoami", auth, "limits on, /api/courses/whoami, token at both"),
        ]
        for _, url, headers, _ in runs:  # warm both gateways, their pools and the caches
            _wrk(url, headers, args.connections, 1, args.wrk_threads)
        # Interleaved rounds, the median of each kept: on a shared machine, load from elsewhere
        # then weighs on every kind alike instead of on whichever ran at the wrong moment.
        measured: dict[str, list[dict]] = {label: [] for label, *_ in runs}
        for _ in range(args.rounds):
            for label, url, headers, _ in runs:
                measured[label].append(_wrk(url, headers, args.connections, args.duration, args.wrk_threads))
        results = {label: sorted(rs, key=lambda r: r["rps"])[len(rs) // 2] for label, rs in measured.items()}

    base = results["off"]["rps"]
    for label, _, _, what in runs:
        r = results[label]
        print(_line(label, what, r, base if label != "off" else None), flush=True)
        if r["errors"] or r["non_2xx"]:
            code = 1
    return code


if __name__ == "__main__":
    sys.exit(main())
