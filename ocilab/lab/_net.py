"""The lab's pod network: a private /16 on a Linux bridge that the lab owns."""

from __future__ import annotations

import ipaddress
import json
import logging
import subprocess

from ..errors import LabError

__all__ = [
    "choose_subnet",
    "create_bridge",
    "delete_bridge",
    "delete_veths",
    "link_exists",
]

log = logging.getLogger(__name__)

# Candidates for the pod subnet: 10.210.0.0/16 … 10.249.0.0/16. They avoid
# 10.88/16 (containerd's own default) and 10.244/16 (a common Kubernetes pod
# range) so that a lab on a real node does not collide with the node's pods.
_CANDIDATES = [
    ipaddress.IPv4Network(f"10.{second}.0.0/16")
    for second in range(210, 250)
    if second != 244
]


def _ip_json(*args: str) -> list[dict[str, object]]:
    output = subprocess.run(
        ["ip", "-j", *args], check=True, capture_output=True, text=True
    ).stdout
    return json.loads(output or "[]")


def _networks_in_use() -> list[ipaddress.IPv4Network]:
    """Return every IPv4 network that a route or an address of this host covers."""
    used: list[ipaddress.IPv4Network] = []
    for route in _ip_json("-4", "route", "show", "table", "all"):
        destination = str(route.get("dst", ""))
        if destination in ("", "default"):
            continue
        try:
            used.append(ipaddress.IPv4Network(destination, strict=False))
        except ValueError:
            continue
    for link in _ip_json("-4", "addr", "show"):
        for address in link.get("addr_info", []):  # type: ignore[union-attr]
            local = f"{address['local']}/{address['prefixlen']}"
            used.append(ipaddress.IPv4Network(local, strict=False))
    return used


def choose_subnet() -> ipaddress.IPv4Network:
    """Return the first candidate /16 that overlaps no route or address of the host.

    Callers hold the lab lock, so two labs never pick the same one.
    """
    used = _networks_in_use()
    for candidate in _CANDIDATES:
        if not any(candidate.overlaps(network) for network in used):
            return candidate
    raise LabError(
        "no free /16 for the pod network between 10.210.0.0/16 and 10.249.0.0/16; "
        "stop other labs (`ocilab lab down`) or remove routes that cover that range"
    )


def link_exists(name: str) -> bool:
    result = subprocess.run(["ip", "link", "show", "dev", name], capture_output=True)
    return result.returncode == 0


def _ip(*args: str) -> None:
    result = subprocess.run(["ip", *args], capture_output=True, text=True)
    if result.returncode != 0:
        raise LabError(f"`ip {' '.join(args)}` failed: {result.stderr.strip()}")


def create_bridge(name: str, gateway: str, prefix_length: int) -> None:
    """Create the bridge with the gateway address, or fail if the name is taken."""
    if link_exists(name):
        raise LabError(
            f"network interface {name!r} already exists; if it is left from an "
            "earlier lab, run `ocilab lab down`, otherwise remove it with "
            f"`ip link delete {name}`"
        )
    _ip("link", "add", "name", name, "type", "bridge")
    _ip("addr", "add", f"{gateway}/{prefix_length}", "dev", name)
    _ip("link", "set", "dev", name, "up")
    log.info("created bridge %s with %s/%d", name, gateway, prefix_length)


def delete_bridge(name: str) -> bool:
    """Delete the bridge if it exists; return whether it did."""
    if not link_exists(name):
        return False
    _ip("link", "delete", "dev", name)
    log.info("deleted bridge %s", name)
    return True


def delete_veths(bridge: str) -> int:
    """Delete every interface still attached to the bridge; return how many.

    The host end of a pod's veth pair normally disappears with the pod's
    network namespace; after an unclean stop it can outlive it.
    """
    if not link_exists(bridge):
        return 0
    deleted = 0
    for link in _ip_json("link", "show", "master", bridge):
        name = str(link.get("ifname", ""))
        if (
            name
            and subprocess.run(
                ["ip", "link", "delete", "dev", name], capture_output=True
            ).returncode
            == 0
        ):
            deleted += 1
    return deleted
