"""Configuration files of the lab: containerd's config.toml, the CNI conflist, the registry's config.yml.

Every path that containerd 1.6 lets us relocate points into the lab's state
directory: root, state, sockets, runc's root, CNI config, host-local IPAM data,
network namespace mounts, and the "opt" plugin's folder (which would otherwise
be /opt/containerd). What stays outside is cleaned by ``_cleanup``:
shim sockets under /run/containerd/s and libcni's cache under /var/lib/cni.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

__all__ = ["LabPaths", "cni_conflist", "containerd_toml", "registry_yaml"]

CNI_BIN_DIR = "/usr/lib/cni"
RUNC_BINARY = "/usr/sbin/runc"


@dataclass(frozen=True)
class LabPaths:
    """Every file and folder of a lab, below its state directory."""

    state_dir: Path

    @property
    def marker(self) -> Path:
        """The file that marks the folder as a lab's, so `down` may delete it."""
        return self.state_dir / ".ocilab-lab"

    @property
    def containerd_config(self) -> Path:
        return self.state_dir / "containerd.toml"

    @property
    def containerd_root(self) -> Path:
        return self.state_dir / "containerd" / "root"

    @property
    def containerd_state(self) -> Path:
        return self.state_dir / "containerd" / "state"

    @property
    def socket(self) -> Path:
        # Short on purpose: unix socket paths are limited to 107 bytes.
        return self.state_dir / "cri.sock"

    @property
    def ttrpc_socket(self) -> Path:
        return self.state_dir / "cri.sock.ttrpc"

    @property
    def runc_root(self) -> Path:
        return self.state_dir / "runc"

    @property
    def cni_conf_dir(self) -> Path:
        return self.state_dir / "cni" / "net.d"

    @property
    def ipam_dir(self) -> Path:
        return self.state_dir / "cni" / "ipam"

    @property
    def opt_dir(self) -> Path:
        return self.state_dir / "containerd" / "opt"

    @property
    def registry_config(self) -> Path:
        return self.state_dir / "registry.yml"

    @property
    def registry_root(self) -> Path:
        return self.state_dir / "registry"

    @property
    def logs(self) -> Path:
        return self.state_dir / "logs"

    @property
    def pod_logs(self) -> Path:
        return self.state_dir / "pod-logs"

    def log(self, name: str) -> Path:
        return self.logs / f"{name}.log"


def _toml_string(value: str) -> str:
    # JSON string escapes are a subset of TOML basic-string escapes.
    return json.dumps(value)


def containerd_toml(paths: LabPaths, *, sandbox_image: str, registry_host: str) -> str:
    """Return containerd's config.toml (config version 2, containerd 1.6)."""
    q = _toml_string
    cri = '[plugins."io.containerd.grpc.v1.cri"'
    runc = f"{cri}.containerd.runtimes.runc"
    return f"""\
# Written by `ocilab lab up`; removed by `ocilab lab down`.
version = 2
root = {q(str(paths.containerd_root))}
state = {q(str(paths.containerd_state))}
# Snapshotters that cannot work here only log errors at start.
disabled_plugins = [
  "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.zfs",
  "io.containerd.tracing.processor.v1.otlp",
]

[grpc]
  address = {q(str(paths.socket))}

[ttrpc]
  address = {q(str(paths.ttrpc_socket))}

[plugins."io.containerd.internal.v1.opt"]
  path = {q(str(paths.opt_dir))}

{cri}]
  sandbox_image = {q(sandbox_image)}
  # Some machines reject a negative oom_score_adj even for root; without this
  # RunPodSandbox fails inside runc.
  restrict_oom_score_adj = true
  # Keep pod network namespaces under the state dir, not /var/run/netns.
  netns_mounts_under_state_dir = true
  disable_tcp_service = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false

{cri}.containerd]
  snapshotter = "overlayfs"
  default_runtime_name = "runc"

{runc}]
  runtime_type = "io.containerd.runc.v2"

{runc}.options]
  BinaryName = {q(RUNC_BINARY)}
  Root = {q(str(paths.runc_root))}
  SystemdCgroup = false

{cri}.cni]
  bin_dir = {q(CNI_BIN_DIR)}
  conf_dir = {q(str(paths.cni_conf_dir))}
  max_conf_num = 1

{cri}.registry.mirrors.{q(registry_host)}]
  endpoint = [{q("http://" + registry_host)}]
"""


def cni_conflist(
    paths: LabPaths, *, name: str, bridge: str, subnet: str, gateway: str
) -> str:
    """Return the CNI network: a bridge with host-local IPAM, no NAT and no default route.

    The bridge plugin runs with isGateway false, so it changes no host
    sysctl (ip_forward) and adds no iptables rules. The lab gives the bridge
    its gateway address itself, which lets the host reach pods on the subnet.
    """
    network = {
        "cniVersion": "1.0.0",
        "name": name,
        "plugins": [
            {
                "type": "bridge",
                "bridge": bridge,
                "isGateway": False,
                "ipMasq": False,
                "hairpinMode": True,
                "ipam": {
                    "type": "host-local",
                    "dataDir": str(paths.ipam_dir),
                    "ranges": [[{"subnet": subnet, "gateway": gateway}]],
                },
            }
        ],
    }
    return json.dumps(network, indent=2) + "\n"


def registry_yaml(paths: LabPaths, *, port: int) -> str:
    """Return the config of CNCF distribution 2.8 (Debian's docker-registry)."""
    root = json.dumps(str(paths.registry_root))
    return f"""\
# Written by `ocilab lab up`; removed by `ocilab lab down`.
version: 0.1
log:
  level: info
  formatter: text
storage:
  filesystem:
    rootdirectory: {root}
  delete:
    enabled: true
  cache:
    blobdescriptor: inmemory
http:
  addr: 127.0.0.1:{port}
  headers:
    X-Content-Type-Options: [nosniff]
health:
  storagedriver:
    enabled: false
"""
