"""Where a webhook may go: a URL checked when registered, and its address checked again at every send.

The host is resolved once per send and the connection is made to the address that was checked
(TLS still verifies the host name), so a name that resolves to a public address at the check and
to an internal one a moment later (DNS rebinding) reaches nothing internal. Private, loopback,
link-local and other non-global ranges are refused unless ``NRM_WEBHOOK_ALLOW_PRIVATE`` is set
(a test network, a receiver on the same host), which also allows plain ``http``. An IPv6 address
that carries an IPv4 one (mapped, NAT64, 6to4, Teredo, SIIT) is judged by that IPv4 address too:
``64:ff9b::a9fe:a9fe`` reaches 169.254.169.254 through a NAT64 gateway.
"""

from __future__ import annotations

import http.client
import ipaddress
import re
import socket
import ssl
from urllib.parse import SplitResult, urlsplit

#: NAT64 (RFC 6052) and SIIT (RFC 6145): the low 32 bits are the IPv4 address reached.
_LOW_32_EMBEDS = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("::ffff:0:0:0/96"))
#: Local-use NAT64 (RFC 8215) and IPv4-compatible addresses (deprecated, RFC 4291): never a receiver.
_NEVER = (ipaddress.ip_network("64:ff9b:1::/48"), ipaddress.ip_network("::/96"))


#: One label of a DNS name (RFC 1123), after urlsplit has lowered it.
_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")
#: A last label that is a number (``127.1``, ``2130706433``, ``0x7f000001``): an IPv4 shorthand
#: that resolvers turn into an address, never a top-level domain (RFC 3696 §2).
_NUMERIC = re.compile(r"[0-9]+|0x[0-9a-f]*")


class RefusedAddress(Exception):
    """The URL or the address it resolves to may not receive webhooks."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def check_url(url: str, allow_private: bool) -> SplitResult:
    """The parts of a URL webhooks may be sent to; ``RefusedAddress`` otherwise."""
    # urlsplit silently drops tabs and newlines (WHATWG): judge the URL as it would be stored
    if not url.isascii() or any(ord(c) <= 0x20 or ord(c) == 0x7F for c in url):
        raise RefusedAddress("invalid_url", "a webhook URL has no spaces, control or non-ASCII characters")
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise RefusedAddress("invalid_url", "a webhook URL is an absolute https URL")
    try:
        parts.port  # noqa: B018 - urlsplit checks the port only when asked
    except ValueError:
        raise RefusedAddress("invalid_url", "the URL's port is not a number from 0 to 65535") from None
    if parts.scheme == "http" and not allow_private:
        raise RefusedAddress("insecure_url", "webhooks go over https only")
    if parts.username or parts.password or parts.fragment:
        raise RefusedAddress("invalid_url", "a webhook URL carries no credentials and no fragment")
    try:
        literal = ipaddress.ip_address(parts.hostname)
    except ValueError:
        return _named(parts, allow_private)
    if not allow_private and not _public(literal):
        raise RefusedAddress("private_address", "webhooks are not sent to private or reserved addresses")
    return parts


def _named(parts: SplitResult, allow_private: bool) -> SplitResult:
    """A URL whose host is a name: a real DNS name, and not one that always means this host."""
    host = str(parts.hostname).removesuffix(".")
    labels = host.split(".")
    if len(host) > 253 or not all(_LABEL.fullmatch(label) for label in labels) or _NUMERIC.fullmatch(labels[-1]):
        raise RefusedAddress("invalid_url", "the URL's host is neither a DNS name nor an IP address")
    if not allow_private and (host == "localhost" or host.endswith(".localhost")):  # RFC 6761
        raise RefusedAddress("private_address", "webhooks are not sent to private or reserved addresses")
    return parts


def _public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return _public(address.ipv4_mapped)
        if any(address in network for network in _NEVER):
            return False
        if not all(_public(embedded) for embedded in _embedded_ipv4(address)):
            return False
    return address.is_global and not address.is_multicast


def _embedded_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address leads to: NAT64/SIIT, 6to4, Teredo's server and client."""
    found = [ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)] if any(
        address in network for network in _LOW_32_EMBEDS) else []
    if address.sixtofour is not None:
        found.append(address.sixtofour)
    if address.teredo is not None:
        found.extend(address.teredo)
    return found


def resolve(parts: SplitResult, allow_private: bool) -> str:
    """The one address to connect to: every address the name has must be allowed."""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        raise RefusedAddress("dns_failure", "the host name does not resolve") from None
    addresses = [str(info[4][0]) for info in infos]
    if not allow_private and not all(_public(ipaddress.ip_address(a.split("%")[0])) for a in addresses):
        raise RefusedAddress("private_address", "the host resolves to a private or reserved address")
    return addresses[0]


class _PinnedHTTP(http.client.HTTPConnection):
    def __init__(self, host: str, address: str, port: int | None, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self.address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self.address, self.port), self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    def __init__(self, host: str, address: str, port: int | None, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self.address = address

    def connect(self) -> None:
        raw = socket.create_connection((self.address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(raw, server_hostname=self.host)  # type: ignore[attr-defined]


def post(url: str, body: bytes, headers: dict[str, str], allow_private: bool, timeout: float) -> int:
    """POST to a checked, pinned address; the status code. Redirects are answers, never followed."""
    parts = check_url(url, allow_private)
    address = resolve(parts, allow_private)
    kind = _PinnedHTTPS if parts.scheme == "https" else _PinnedHTTP
    connection = kind(str(parts.hostname), address, parts.port, timeout)
    try:
        target = parts.path or "/"
        if parts.query:
            target += f"?{parts.query}"
        connection.request("POST", target, body=body, headers=headers)
        response = connection.getresponse()
        response.read(65536)
        return response.status
    finally:
        connection.close()
