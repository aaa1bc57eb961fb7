"""Who the client is: decided once per request, from `SPROUT_TRUSTED_PROXIES`, for the rate limit, the proxy and the access log alike.

The peer of the connection is the client, unless it is a trusted proxy (an ingress
controller, a load balancer, a reverse proxy on the docker host). Then the client is the
nearest address in `X-Forwarded-For` that is not a trusted proxy, read from the right:
each proxy appends (or writes) the address it saw, so the entries further left are only
what the caller wrote itself and prove nothing. When every entry is a trusted address the
nearest one is taken, for the same reason; an entry that is not an address ends the walk,
and the nearest address before it (or the peer) is taken.

`ClientAddress` writes the answer into `scope["client"]` (and a trusted proxy's
`X-Forwarded-Proto` into `scope["scheme"]`) before anything else sees the request, so
every layer that asks "who is this" reads the same answer: the rate limit keys anonymous
callers by it, the proxy forwards it to the services as `X-Forwarded-For`, the access log
records it. `sprout serve` runs uvicorn with its own proxy-header handling off, which
would otherwise rewrite the client of every connection from 127.0.0.1 from whatever
`X-Forwarded-For` it carried, before the gateway could judge it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from starlette.types import ASGIApp, Receive, Scope, Send

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class TrustedProxies:
    """The networks whose `X-Forwarded-For` is believed, and the rule that reads it."""

    __slots__ = ("networks",)

    def __init__(self, networks: Iterable[str]) -> None:
        self.networks = tuple(ipaddress.ip_network(n, strict=False) for n in networks)

    def __bool__(self) -> bool:
        return bool(self.networks)

    def trusts(self, address: Address | None) -> bool:
        if address is None:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return any(address in net for net in self.networks)

    def client(self, peer: str, forwarded_for: str | None) -> str:
        """The client's address, given the connection's peer and its X-Forwarded-For (all lines joined)."""
        if not forwarded_for or not self.trusts(parse_address(peer)):
            return peer
        nearest = None
        for hop in reversed(forwarded_for.split(",")):
            address = parse_address(hop)
            if address is None:
                break
            if not self.trusts(address):
                return str(address)
            nearest = nearest or str(address)
        return nearest or peer


def parse_address(text: str) -> Address | None:
    """An address as proxies write it: `203.0.113.7`, `2001:db8::1`, `[2001:db8::1]:443`, `203.0.113.7:51234`."""
    text = text.strip()
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


class ClientAddress:
    """ASGI middleware, outermost: resolves the client once and writes it into the scope."""

    def __init__(self, app: ASGIApp, trusted: TrustedProxies) -> None:
        self.app = app
        self.trusted = trusted

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            client = scope.get("client")
            if client and self.trusted.trusts(parse_address(client[0])):
                forwarded: list[str] = []
                proto = None
                for k, v in scope["headers"]:
                    if k == b"x-forwarded-for":
                        forwarded.append(v.decode("latin-1"))
                    elif k == b"x-forwarded-proto":
                        proto = v.decode("latin-1").rpartition(",")[2].strip().lower()
                if forwarded:
                    scope["client"] = (self.trusted.client(client[0], ",".join(forwarded)), 0)
                if proto in ("http", "https"):
                    scope["scheme"] = proto if scope["type"] == "http" else ("wss" if proto == "https" else "ws")
        await self.app(scope, receive, send)
