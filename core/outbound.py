"""Requests to addresses that people typed in (severity, incident and subscription webhooks).

A URL is checked when it is saved and again when it is sent: its host's addresses must all be
public (not loopback, link-local, private, multicast or reserved) unless they are in
OUTBOUND_ALLOWED_NETWORKS. At send time the adapter connects to the very address it checked, so a
name that resolves to a public address when checked and to 127.0.0.1 a moment later (DNS
rebinding) never reaches the inside; the Host header and the TLS server name (SNI, certificate
check) stay the URL's own host. Redirects are not followed (senders.py).
"""

import ipaddress
import socket
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.core.exceptions import ValidationError
from requests.adapters import HTTPAdapter

from core.errors import OUTBOUND_ADDRESS_REFUSED

DEFAULT_PORTS = {"http": 80, "https": 443}


class AddressRefused(requests.exceptions.ConnectionError):
    """The URL's host is, or resolves to, an address outbound requests may not reach."""


def address_allowed(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # an IPv6 scope (fe80::1%eth0) is not part of it
    if ip.version == 6 and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
    allowed = (ipaddress.ip_network(network) for network in settings.OUTBOUND_ALLOWED_NETWORKS)
    if any(ip.version == network.version and ip in network for network in allowed):
        return True
    # is_global is False for loopback, link-local, private, shared, reserved and unspecified ranges.
    return ip.is_global and not ip.is_multicast


def checked_addresses(host: str, port: int) -> list[str]:
    """Every address `host` resolves to, when all of them are allowed; AddressRefused otherwise.
    Raises socket.gaierror when the name does not resolve."""
    addresses = [info[4][0] for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)]
    if not addresses or not all(address_allowed(address) for address in addresses):
        raise AddressRefused(OUTBOUND_ADDRESS_REFUSED)
    return addresses


def outbound_url_check(url: str) -> None:
    """The save-time check: ValidationError(OUTBOUND_ADDRESS_REFUSED) when the URL's host is, or
    resolves to, a refused address. A name that does not resolve now is accepted: it reaches
    nothing, and it is checked again whenever something is sent."""
    if not url:
        return
    parts = urlsplit(url)
    try:
        port = parts.port or DEFAULT_PORTS.get(parts.scheme, 80)
    except ValueError:
        return  # not a URL: the field's own validation says so
    if not parts.hostname:
        return
    try:
        checked_addresses(parts.hostname, port)
    except AddressRefused as error:
        raise ValidationError(OUTBOUND_ADDRESS_REFUSED, code="address_refused") from error
    except (OSError, UnicodeError):
        return


class CheckedAddressAdapter(HTTPAdapter):
    """Resolves the host once, checks every address, and connects to the first one, keeping the
    URL's host for the Host header and for TLS (server_hostname: SNI and certificate matching).
    build_connection_pool_key_attributes is requests' documented hook for this."""

    def build_connection_pool_key_attributes(self, request, verify, cert=None):
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(request, verify, cert)
        host, scheme = host_params["host"], host_params["scheme"]
        try:
            address = checked_addresses(host, host_params["port"] or DEFAULT_PORTS.get(scheme, 80))[0]
        except socket.gaierror as error:
            raise requests.exceptions.ConnectionError(error, request=request) from error
        host_params["host"] = address
        if scheme == "https":
            pool_kwargs["server_hostname"] = host
        return host_params, pool_kwargs

    def send(self, request, *args, **kwargs):
        # The connection is to an address; the receiver still has to see the name it was sent to.
        request.headers["Host"] = urlsplit(request.url).netloc.rpartition("@")[2]
        return super().send(request, *args, **kwargs)


def outbound_session() -> requests.Session:
    """A requests session that reaches only checked addresses. It ignores HTTP(S)_PROXY from the
    environment: through a proxy, the proxy would resolve the name and the check would mean
    nothing."""
    session = requests.Session()
    session.trust_env = False
    adapter = CheckedAddressAdapter()
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


# Webhook URLs and signing secrets are credentials (a Slack hook URL is all it takes to post): they
# are written, never read back. People see the host, admins a masked URL.
MASK = "••••"


def url_host(url: str) -> str:
    """What timelines and logs name a webhook by: its host, e.g. hooks.slack.com."""
    try:
        return urlsplit(url).hostname or "webhook"
    except ValueError:
        return "webhook"


def url_masked(url: str) -> str:
    """https://hooks.slack.com/…/•••• for a stored URL; empty for none."""
    if not url:
        return ""
    try:
        parts = urlsplit(url)
        return f"{parts.scheme}://{parts.hostname}/…/{MASK}"
    except ValueError:
        return MASK
