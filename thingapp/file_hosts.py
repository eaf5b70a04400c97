"""Where the app fetches files from and posts them to: Thingiverse's hosts, and nowhere else.

A file's `direct_url`, every redirect on the way to its bytes, and the storage form's `action`
come from API answers: input. Each is checked before a connection is made: its origin is one the
operator configured (the site and API), or its host matches the allow-list (THINGAPP_FILE_HOSTS:
Thingiverse's CDN and storage by default) over https and resolves to public addresses only. So an
answer can't point the app at itself, another port on the machine, the cloud's metadata address
or the private network.

Left open, and said so: DNS could answer differently between the check and httpx's own
connection (rebinding); the allow-list of names keeps that to Thingiverse's own domains.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable
from urllib.parse import urlsplit

# Thingiverse's CDN, its own subdomains, and the S3 storage its upload tickets name.
DEFAULT_FILE_HOSTS = ("cdn.thingiverse.com", "*.thingiverse.com", "s3.amazonaws.com",
                      "*.s3.amazonaws.com")


class FileHostRefused(Exception):
    """A file address is not one the app may contact; `str(exc)` is the user's sentence."""


def valid_pattern(pattern: str) -> bool:
    """A host name, or `*.` / `.` and a domain: no scheme, port or path."""
    name = pattern.removeprefix("*.").removeprefix(".")
    return bool(name) and all(
        part and all(c.isalnum() or c == "-" for c in part) for part in name.split("."))


def _matches(host: str, pattern: str) -> bool:
    pattern = pattern.lower()
    if pattern.startswith(("*.", ".")):
        suffix = pattern[pattern.index("."):]
        return host.endswith(suffix) and len(host) > len(suffix)
    return host == pattern


def _origin(scheme: str, host: str, port: int | None) -> tuple[str, str, int]:
    return scheme, host, port or (443 if scheme == "https" else 80)


class FileHosts:
    def __init__(self, configured_urls: Iterable[str], patterns: Iterable[str]) -> None:
        self.configured = set()
        for url in configured_urls:
            parts = urlsplit(url)
            self.configured.add(_origin(parts.scheme, (parts.hostname or "").lower(),
                                        parts.port))
        self.patterns = tuple(patterns)

    async def check(self, url: str) -> None:
        """Return when the app may contact `url`; raise FileHostRefused before any connection
        otherwise."""
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        try:
            port = parts.port
        except ValueError:
            port = -1
        if parts.scheme not in ("http", "https") or not host or port == -1:
            raise FileHostRefused("Thingiverse named a file address this app can't use, so it "
                                  "was not contacted.")
        if _origin(parts.scheme, host, port) in self.configured:
            return  # the operator's own Thingiverse (or the sandbox): trusted as configured
        if not any(_matches(host, pattern) for pattern in self.patterns):
            raise FileHostRefused(f"Thingiverse named a file on {host}, which is not one of "
                                  "Thingiverse's file hosts, so it was not contacted.")
        if parts.scheme != "https":
            raise FileHostRefused(f"Thingiverse named a file on {host} without https, so it was "
                                  "not contacted.")
        for address in await _addresses(host, port or 443):
            if not address.is_global or address.is_multicast:
                raise FileHostRefused(f"{host} points into a private network, so it was not "
                                      "contacted.")


async def _addresses(host: str, port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        found = await asyncio.get_running_loop().getaddrinfo(host, port,
                                                             type=socket.SOCK_STREAM)
    except OSError as exc:
        raise FileHostRefused(f"{host} could not be found, so the file was not fetched.") from exc
    return [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in found]
