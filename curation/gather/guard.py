"""The SSRF guard: nothing is fetched from a private, loopback, link-local or multicast address.

The check is made on the address actually connected to. The guarded network backend resolves
the host name itself, checks every address it resolves to, and connects to an address that
passed; it does so for every new connection, so every redirect hop is checked too. Checking a
URL's host and then letting the HTTP library resolve the name again would leave a gap (a name
that resolves to a public address for the check and to a private one for the connection).

`CURATION_ALLOWED_NETWORKS` (comma-separated CIDRs) lets chosen private networks through: tests
and a fake server on loopback, or an intranet image store.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import select
import socket
import ssl
from dataclasses import dataclass
from typing import Iterable

import httpcore
import httpx

ALLOWED_ENV = "CURATION_ALLOWED_NETWORKS"

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# (ipaddress property, what to call an address that has it), in the order they are tested.
NOT_PUBLIC = (
    ("is_loopback", "loopback"),
    ("is_link_local", "link-local"),
    ("is_multicast", "multicast"),
    ("is_unspecified", "unspecified"),
    ("is_private", "private"),
    ("is_reserved", "reserved"),
)


class Refused(Exception):
    """A connection the guard refused: the host resolves only to addresses outside what is allowed."""


class GuardConfigError(ValueError):
    """`CURATION_ALLOWED_NETWORKS` holds something that is not a network, with a sentence that says so."""


def parse_networks(text: str) -> tuple[Network, ...]:
    networks = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        try:
            networks.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise GuardConfigError(
                f"{ALLOWED_ENV} holds '{part}', which is not a network: write CIDRs such as 127.0.0.1/32, "
                "separated by commas.") from None
    return tuple(networks)


@dataclass(frozen=True)
class Guard:
    allowed: tuple[Network, ...] = ()

    @classmethod
    def from_env(cls) -> Guard:
        return cls(parse_networks(os.environ.get(ALLOWED_ENV, "")))

    def why_refused(self, address: str) -> str | None:
        """What kind of non-public address `address` is, or None when it may be fetched from."""
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
            ip = ip.ipv4_mapped
        if any(ip in network for network in self.allowed):
            return None
        for prop, name in NOT_PUBLIC:
            if getattr(ip, prop):
                return name
        return None if ip.is_global else "not public"

    def pick(self, host: str, addresses: Iterable[str]) -> str:
        """The first address allowed, or `Refused` naming every address and why."""
        refused = []
        for address in addresses:
            why = self.why_refused(address)
            if why is None:
                return address
            refused.append((address, why))
        allowed = ", ".join(map(str, self.allowed)) or "none"
        if [address for address, _ in refused] == [host]:
            subject = f"{host} is a {refused[0][1]} address"
        else:
            subject = f"{host} resolves to " + ", ".join(f"{address} ({why})" for address, why in refused)
        raise Refused(f"{subject}, outside the allowed networks ({allowed}).")

    async def resolve(self, host: str, port: int) -> str:
        """The address to connect to for `host`, resolved here and checked."""
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise httpcore.ConnectError(f"The host name {host} cannot be resolved ({exc.strerror}).") from None
        return self.pick(host, dict.fromkeys(info[4][0] for info in infos))


class CheckedStream(httpcore.AsyncNetworkStream):
    """A connection to an address the guard checked.

    httpcore asks each idle connection, for every request it queues, whether its socket is
    readable; anyio answers through an attribute table that makes a getpeername system call each
    time, which cost about a seventh of the downloader's CPU. Here the raw socket is kept.
    """

    def __init__(self, inner: httpcore.AsyncNetworkStream, sock: socket.socket):
        self.inner, self.sock = inner, sock

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self.inner.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self.inner.write(buffer, timeout)

    async def aclose(self) -> None:
        await self.inner.aclose()

    async def start_tls(self, ssl_context, server_hostname=None, timeout=None) -> CheckedStream:
        return CheckedStream(await self.inner.start_tls(ssl_context, server_hostname, timeout), self.sock)

    def get_extra_info(self, info: str):
        if info == "socket":
            return self.sock
        if info == "is_readable":
            poll = select.poll()
            poll.register(self.sock, select.POLLIN)
            return bool(poll.poll(0))
        return self.inner.get_extra_info(info)


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend, connecting only to addresses the guard checked."""

    def __init__(self, guard: Guard):
        self.guard = guard
        self.inner = httpcore.AnyIOBackend()

    async def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        address = await self.guard.resolve(host, port)
        stream = await self.inner.connect_tcp(address, port, timeout=timeout, local_address=local_address,
                                              socket_options=socket_options)
        return CheckedStream(stream, stream.get_extra_info("socket"))

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport over a connection pool whose connections go through the guard.

    httpx does not take a network backend, so the pool it builds is replaced by one that has ours;
    `trust_env=False` because a proxy from the environment would connect on our behalf, unchecked.
    TLS still verifies the host name: httpcore passes the URL's host as the server name.
    """

    def __init__(self, guard: Guard, max_connections: int, ssl_context: ssl.SSLContext):
        super().__init__(verify=ssl_context, trust_env=False)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context,
            max_connections=max_connections,
            max_keepalive_connections=max_connections,
            keepalive_expiry=30.0,
            network_backend=GuardedBackend(guard),
        )
