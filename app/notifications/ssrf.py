"""Where a webhook may point: refusing server-side request forgery (SSRF).

In production a webhook URL must be https, and every address its host resolves to must be public: no
loopback, private (RFC 1918, unique-local), link-local, carrier-grade NAT, multicast, reserved or
unspecified address, and no cloud metadata address (169.254.169.254 and its kin are link-local anyway;
they are named so that the refusal says so). The check runs at registration and again before each delivery,
and the delivery connects to the very address that was checked (`Target.address`), so a name that
re-resolves to 127.0.0.1 between check and connect (DNS rebinding) cannot slip through. Redirects are never
followed (a 3xx is a failed attempt). In dev and test, loopback (and http) is allowed so that a newcomer can
run a receiver on the same machine; every other non-public address is refused there too.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "169.254.170.2", "fd00:ec2::254", "100.100.100.200")
)
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class UnsafeUrl(ValueError):
    """The URL may not be called; the message says why."""


@dataclass(frozen=True)
class Target:
    url: str
    scheme: str
    host: str  # as written (the Host header and the TLS server name)
    port: int
    address: str  # the checked address to connect to


def _why_not_public(address: IPAddress, allow_loopback: bool) -> str | None:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address in METADATA_ADDRESSES:
        return "a cloud metadata address"
    if address.is_unspecified:
        return "not a public address (the unspecified address reaches this host)"
    if address.is_loopback:
        return None if allow_loopback else "a loopback address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_private:
        return "a private address"
    if address.is_multicast or address.is_unspecified or address.is_reserved or not address.is_global:
        return "not a public address"
    return None


def resolve(host: str, port: int) -> list[IPAddress]:
    try:
        return [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnsafeUrl(f"{host} does not resolve ({exc}).") from exc
    return [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]


def check_url(url: str, *, production: bool, allow_loopback: bool | None = None) -> Target:
    """The URL's target if it may be called, else UnsafeUrl naming the reason."""
    allow_loopback = (not production) if allow_loopback is None else allow_loopback
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise UnsafeUrl("A webhook URL must be http(s).")
    if production and scheme != "https":
        raise UnsafeUrl("A webhook URL must be https.")
    if parts.username or parts.password:
        raise UnsafeUrl("A webhook URL may not hold credentials.")
    host = parts.hostname
    if not host:
        raise UnsafeUrl("A webhook URL needs a host.")
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError as exc:
        raise UnsafeUrl("The URL's port is not a number in range.") from exc
    addresses = resolve(host, port)
    if not addresses:
        raise UnsafeUrl(f"{host} does not resolve.")
    for address in addresses:
        why = _why_not_public(address, allow_loopback)
        if why:
            raise UnsafeUrl(f"{host} resolves to {address}, {why}: webhooks may only call public addresses.")
    return Target(url=url, scheme=scheme, host=host, port=port, address=str(addresses[0]))
