"""Where the bot may send a request that a user configured: `OutboundPolicy`.

A Teams Workflows webhook URL (`/kpi digest here webhook=URL`) is typed by a chat user, so it
must not turn the bot into a proxy into its own network (server-side request forgery). The
policy accepts only https URLs on the platform's own Workflows / Power Automate hosts
(`WORKFLOW_HOSTS`: Microsoft's `prod-NN.<region>.logic.azure.com` trigger URLs and their
successor `<environment>.environment.api.powerplatform.com`, and the US government clouds), no
IP literals, no user:password@, no port but 443. At send time the host is resolved again (DNS
can change) and every address must be public: loopback, private, link-local (cloud metadata at
169.254.169.254), shared, multicast and reserved addresses are refused. The connection then
goes to exactly the addresses that were checked (`pinned_connector` in bot/teams/connector.py),
so a second DNS answer cannot slip in between the check and the connection.

Each refusal says why (`OutboundRefused`), in the reply and in the delivery ledger.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

WORKFLOW_HOSTS = (".logic.azure.com", ".environment.api.powerplatform.com",
                  ".logic.azure.us", ".environment.api.powerplatform.us")

Lookup = Callable[[str, int], list[str]]  # host, port -> IP addresses


class OutboundRefused(ValueError):
    """A URL the bot will not send to; `str(error)` says why and never shows the URL."""


def system_lookup(host: str, port: int) -> list[str]:
    """The host's addresses from the system resolver."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({info[4][0] for info in infos})


def is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


@dataclass(frozen=True)
class OutboundPolicy:
    """Which hosts (exact names or `.suffix`es), schemes and addresses a user-given URL may use."""

    hosts: tuple[str, ...] = WORKFLOW_HOSTS
    schemes: tuple[str, ...] = ("https",)
    public_only: bool = True
    lookup: Lookup = system_lookup

    def check_url(self, url: str) -> str:
        """The URL, stripped, if its form is acceptable; else OutboundRefused naming why."""
        url = url.strip()
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            raise OutboundRefused("that is not a valid URL") from None
        host = (parts.hostname or "").rstrip(".").lower()
        if parts.scheme not in self.schemes:
            raise OutboundRefused(f"a Teams Workflows webhook URL must start with "
                                  f"{self.schemes[0]}://")
        if not host or not parts.path:
            raise OutboundRefused("that is not a Teams Workflows webhook URL")
        if parts.username is not None or parts.password is not None:
            raise OutboundRefused("a webhook URL with a user name or password is not accepted")
        if not any(host == allowed or (allowed.startswith(".") and host.endswith(allowed))
                   for allowed in self.hosts):
            raise OutboundRefused(
                f"{host} is not a Teams Workflows (Power Automate) host; the URL must be on "
                f"{', '.join('*' + h if h.startswith('.') else h for h in self.hosts)}")
        if self.schemes == ("https",) and port not in (None, 443):
            raise OutboundRefused("a Teams Workflows webhook URL uses the https port 443")
        return url

    def addresses(self, url: str) -> tuple[str, int, list[str]]:
        """Host, port and the checked addresses to connect to; OutboundRefused when the host
        does not resolve or resolves to any address that is not public."""
        parts = urlsplit(self.check_url(url))
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            found = self.lookup(host, port)
        except OSError:
            raise OutboundRefused(f"{host} could not be resolved") from None
        if not found:
            raise OutboundRefused(f"{host} could not be resolved")
        if self.public_only:
            private = [a for a in found if not is_public(a)]
            if private:
                raise OutboundRefused(
                    f"{host} resolves to a loopback, private, link-local or reserved address "
                    f"({private[0]}); the bot does not send there")
        return host, port, found

    def check_webhook(self, url: str) -> str:
        """The URL, stripped, if the bot may post to it now (its form and every address it
        resolves to); else OutboundRefused (a ValueError) naming why."""
        self.addresses(url)
        return url.strip()


def mask_url(url: str) -> str:
    """A secret URL as `https://host/…wxyz`: enough to recognise it, useless to call."""
    parts = urlsplit(url)
    tail = url[-4:] if len(url) > 12 else ""
    host = parts.hostname or "?"
    return f"{parts.scheme or 'https'}://{host}/…{tail}"
