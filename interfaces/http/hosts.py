"""Which Host header values are served (ALLOWED_HOSTS); any other is 400 problem+json.

A service that answers whatever name it is called by can be reached through a name an attacker
controls (DNS rebinding: a web page of theirs talks to a service on your machine or network as
if it were theirs). So only the names the service is meant to be known by are served:

- ``ALLOWED_HOSTS`` when it is set: exact names, ``*.example.org`` for a domain's subdomains,
  ``*`` for anything;
- otherwise localhost, the host of ``PUBLIC_BASE_URL``, and the host ``students serve`` listens
  on; listening on every interface (0.0.0.0), any IP address and the machine's own names too.
  A name in DNS that the machine does not call itself is what rebinding needs, and it is refused.

Health, readiness and metrics are exempt: orchestrators and scrapers call them by pod address.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

from interfaces.http.problems import problem_response
from interfaces.http.root_path import route_path

LOCALHOST = frozenset({"localhost", "127.0.0.1", "::1"})
_WILDCARD_BINDS = frozenset({"", "0.0.0.0", "::"})


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class HostPolicy:
    names: frozenset[str] = frozenset()
    suffixes: tuple[str, ...] = ()
    any_ip: bool = False
    anything: bool = False

    @classmethod
    def of(cls, patterns: Iterable[str], *, any_ip: bool = False) -> HostPolicy:
        names: set[str] = set()
        suffixes: list[str] = []
        anything = False
        for pattern in (p.strip().lower() for p in patterns):
            if pattern == "*":
                anything = True
            elif pattern.startswith("*."):
                suffixes.append(pattern[1:])
            elif pattern:
                names.add(pattern.strip("[]"))
        return cls(frozenset(names), tuple(suffixes), any_ip, anything)

    def allows(self, name: str) -> bool:
        return (
            self.anything
            or name in self.names
            or name.endswith(self.suffixes)
            or (self.any_ip and _is_ip(name))
        )


def host_policy(
    allowed_hosts: Iterable[str], public_base_url: str | None, served_host: str | None
) -> HostPolicy:
    """The policy ALLOWED_HOSTS sets, or the default described above."""
    configured = tuple(allowed_hosts)
    if configured:
        return HostPolicy.of(configured)
    names = set(LOCALHOST)
    if public_base_url is not None and (base_host := urlsplit(public_base_url).hostname):
        names.add(base_host)
    if served_host is None:
        return HostPolicy.of(names)
    if served_host.strip("[]") in _WILDCARD_BINDS:
        names |= {socket.gethostname(), socket.getfqdn()}
        return HostPolicy.of(names, any_ip=True)
    return HostPolicy.of({*names, served_host})


# RFC 9110's Host: a name or an IPv4 address, or an IPv6 address in brackets, and maybe a port.
# Anything else (userinfo, a path, an empty label, a port of other digits) is no host at all.
_HOST = re.compile(
    r"(?:\[(?P<ipv6>[0-9A-Fa-f:.]+)\]|(?P<name>[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*)\.?)(?::(?P<port>[0-9]{1,5}))?"
)


def _name_of(host: str) -> str | None:
    """The host of a Host header value, lower case, without port, brackets or a final dot; None
    when the value is not a host."""
    match = _HOST.fullmatch(host.strip(" \t"))
    if match is None or (match["port"] is not None and int(match["port"]) > 65535):
        return None
    if match["ipv6"] is not None:
        return match["ipv6"].lower() if _is_ip(match["ipv6"]) and ":" in match["ipv6"] else None
    return str(match["name"]).lower()


class AllowedHosts:
    def __init__(self, app: ASGIApp, policy: HostPolicy, exempt_paths: Iterable[str] = ()) -> None:
        self.app = app
        self._policy = policy
        self._exempt = frozenset(exempt_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self._policy.anything or route_path(scope) in self._exempt:
            await self.app(scope, receive, send)
            return
        hosts = [value for name, value in scope["headers"] if name == b"host"]
        name = _name_of(bytes(hosts[0]).decode("latin-1")) if len(hosts) == 1 else None
        if name is not None and self._policy.allows(name):
            await self.app(scope, receive, send)
            return
        if len(hosts) != 1:
            detail = "the request has more than one Host header" if hosts else "the request names no Host"
        elif name is None:
            detail = "the Host header is not a host name or address"
        else:
            detail = "this service is not served under that name (Host)"
        response = problem_response(scope["path"], 400, "host-not-allowed", detail)
        await response(scope, receive, send)
