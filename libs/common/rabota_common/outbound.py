"""Where outbound requests may go (issue 14, What to build 3): Bitrix24 REST endpoints over https to public
addresses only, unless the operator admits a host in B24_ALLOWED_HOSTS (on-premise portals, the sandbox)."""

from __future__ import annotations

import ipaddress
import socket
from typing import Any
from urllib.parse import urlsplit

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

_CGNAT = ipaddress.ip_network("100.64.0.0/10")


class AddressRefused(OSError):
    """A resolved address is not public: no connection is made."""


def allowed_entries(raw: str) -> set[str]:
    """`host` or `host:port` entries, lowercased."""
    return {e.strip().lower() for e in raw.split(",") if e.strip()}


def is_public(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if isinstance(ip, ipaddress.IPv6Address) and ip.sixtofour is not None:
        ip = ip.sixtofour
    if isinstance(ip, ipaddress.IPv4Address) and ip in _CGNAT:
        return False
    return not (ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_multicast or ip.is_reserved
                or ip.is_unspecified or not ip.is_global)


def host_allowed(host: str, port: int, entries: set[str]) -> bool:
    host = host.lower().strip("[]")
    return f"{host}:{port}" in entries or f"[{host}]:{port}" in entries or (
        host in entries and port in (80, 443))


def endpoint_problem(endpoint: str, entries: set[str]) -> str | None:
    """Why a Bitrix24 REST endpoint is refused, or None when it may be called."""
    try:
        parts = urlsplit(endpoint)
        port = parts.port
    except ValueError:
        return "malformed URL"
    host = (parts.hostname or "").lower()
    if not host or parts.username is not None or parts.password is not None or "@" in parts.netloc:
        return "no host, or credentials in the URL"
    if parts.query or parts.fragment:
        return "query or fragment in the endpoint"
    default = {"https": 443, "http": 80}.get(parts.scheme)
    if default is None:
        return "scheme is not https"
    port = port or default
    if host_allowed(host, port, entries):
        return None if parts.path.endswith("/rest/") else "path is not a REST base (/rest/)"
    if parts.scheme != "https" or port != 443:
        return "only https on port 443"
    if parts.path != "/rest/":
        return "path is not the REST base /rest/"
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return None  # a name: its addresses are checked when the connection is made
    return None if is_public(host) else "address is not public"


class PublicOnlyResolver(AbstractResolver):
    """Resolves, then refuses any non-public address unless the host is admitted: checked when the connection
    is made, with the addresses the connection uses, so DNS rebinding cannot slip past it."""

    def __init__(self, entries: set[str]) -> None:
        self._entries = entries
        self._inner = DefaultResolver()

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        if host_allowed(host, port, self._entries):
            return results
        bad = [r["host"] for r in results if not is_public(r["host"])]
        if bad or not results:
            raise AddressRefused(f"{host} resolves to a non-public address")
        return results

    async def close(self) -> None:
        await self._inner.close()


def literal_ip(host: str) -> Any:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None
