"""`ocilab lab up` to ready, images seeded: ocilab against containerd and docker-registry started by hand.

ocilab runs ``ocilab lab up --state-dir DIR`` with a new DIR each run, and
the lab is removed (Lab.down, untimed) after it. The peer is what a user
would do by hand with the same config files (containerd.toml, registry.yml
and the CNI conflist, copied once from a lab with its paths and port
replaced): spawn
``containerd --config ...`` and ``docker-registry serve ...``, poll every
50 ms until the CRI Status call reports every condition true and the
registry returns 200 for GET /v2/, then stop both (untimed).

The timed ocilab command also does what the peer does not. It starts a
Python interpreter and imports ocilab, checks prerequisites, and creates and
addresses the CNI bridge. It writes the config files, builds the busybox and
pause images from Debian's busybox-static and pushes them to the registry.
Last, it calls Version on containerd over both CRI API versions.
"""

from __future__ import annotations

import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import grpc
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import (  # noqa: E402
    base_parser,
    compare,
    print_result,
    run_command,
    time_call,
)

from ocilab._proto.runtime.v1 import api_pb2, api_pb2_grpc  # noqa: E402
from ocilab.lab import Lab  # noqa: E402
from ocilab.lab._prereq import free_port  # noqa: E402

OCILAB = [sys.executable, "-m", "ocilab.cli"]
ABSOLUTE_LIMIT = 3.0
POLL_SECONDS = 0.05
START_TIMEOUT = 30.0
_READY = re.compile(r"lab ready in (?P<seconds>[\d.]+) s")


class HandStartedLab:
    """containerd and docker-registry started from fixed config files, as a user would."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.processes: list[subprocess.Popen[bytes]] = []

    def write_configs(self, work: Path) -> None:
        """Copy a real lab's config files here, with this folder's paths and a new registry port."""
        lab = Lab(work / "config-source")
        info = lab.up()
        try:
            source = Path(info.state_dir)
            self.port = free_port()
            self.socket = self.folder / "cri.sock"
            replacements = [
                (str(source), str(self.folder)),
                (f"127.0.0.1:{info.registry_port}", f"127.0.0.1:{self.port}"),
            ]
            conflist = next((source / "cni" / "net.d").glob("*.conflist"))
            files = {
                source / "containerd.toml": self.folder / "containerd.toml",
                source / "registry.yml": self.folder / "registry.yml",
                conflist: self.folder / "cni" / "net.d" / conflist.name,
            }
            for original, copy in files.items():
                text = original.read_text()
                for old, new in replacements:
                    text = text.replace(old, new)
                copy.parent.mkdir(parents=True, exist_ok=True)
                copy.write_text(text)
        finally:
            lab.down()

    def clear_state(self) -> None:
        """Remove what a previous start wrote, so every start begins empty like a new lab."""
        for name in ("containerd", "registry", "cni/ipam", "runc", "logs"):
            shutil.rmtree(self.folder / name, ignore_errors=True)
        (self.folder / "logs").mkdir()

    def start(self) -> None:
        for name, argv in (
            (
                "containerd",
                ["containerd", "--config", str(self.folder / "containerd.toml")],
            ),
            (
                "registry",
                ["docker-registry", "serve", str(self.folder / "registry.yml")],
            ),
        ):
            with (self.folder / "logs" / f"{name}.log").open("ab") as log:
                self.processes.append(
                    subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
                )
        deadline = time.monotonic() + START_TIMEOUT
        cri_ready = registry_ready = False
        while not (cri_ready and registry_ready):
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"containerd or the registry in {self.folder} was not ready "
                    f"within {START_TIMEOUT:.0f} s; see {self.folder / 'logs'}"
                )
            cri_ready = cri_ready or _cri_ready(self.socket)
            registry_ready = registry_ready or _registry_ready(self.port)
            if not (cri_ready and registry_ready):
                time.sleep(POLL_SECONDS)

    def stop(self) -> None:
        for process in self.processes:
            process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.processes.clear()


def _cri_ready(socket: Path) -> bool:
    # A channel that found no socket waits out gRPC's reconnect backoff
    # (1 s at first), so each poll opens a new channel once the socket exists.
    if not socket.is_socket():
        return False
    try:
        with grpc.insecure_channel(f"unix://{socket}") as channel:
            stub = api_pb2_grpc.RuntimeServiceStub(channel)
            status = stub.Status(api_pb2.StatusRequest(), timeout=2).status
    except grpc.RpcError:
        return False
    return bool(status.conditions) and all(c.status for c in status.conditions)


def _registry_ready(port: int) -> bool:
    try:
        response = httpx.get(f"http://127.0.0.1:{port}/v2/", timeout=2, verify=False)
        return response.status_code == 200
    except httpx.HTTPError:
        return False


def main() -> int:
    args = base_parser(__doc__.splitlines()[0]).parse_args()
    runs = 1 if args.smoke else args.runs
    owned = args.workdir is None
    work = Path(tempfile.mkdtemp(prefix="bench-up-")) if owned else args.workdir
    work.mkdir(parents=True, exist_ok=True)
    peer = HandStartedLab(work / "peer")
    labs: list[Path] = []
    host_dirs = [Path("/run/containerd"), Path("/var/lib/cni")]
    existing = {folder for folder in host_dirs if folder.exists()}
    try:
        peer.write_configs(work)

        start_seconds: list[float] = []

        def up_ocilab() -> None:
            state_dir = work / f"lab-{len(labs)}"
            labs.append(state_dir)
            completed = run_command(
                [*OCILAB, "lab", "up", "--state-dir", str(state_dir), "--json"]
            )
            # `lab up` ends its progress with "lab ready in 0.3 s: ...", the time of
            # Lab.up's start phase (folders, bridge, processes, images), which
            # excludes the lab lock and the prerequisite checks before it.
            ready = _READY.search(completed.stderr.decode())
            if ready is not None:
                start_seconds.append(float(ready["seconds"]))

        def up_peer() -> None:
            peer.start()

        def stop_both() -> None:
            peer.stop()
            peer.clear_state()
            for state_dir in labs:
                if state_dir.exists():
                    Lab(state_dir).down()

        result = compare(
            "lab up to ready",
            up_ocilab,
            "containerd + docker-registry by hand",
            up_peer,
            runs=runs,
            warmup=0 if args.smoke else 1,
            target=1.5,
            before_each=stop_both,
        )
        stop_both()
        imports = statistics.median(
            time_call(lambda: run_command([sys.executable, "-c", "import ocilab.cli"]))
            for _ in range(3)
        )
        result.notes["of which Python start and imports"] = (
            f"{imports:.2f} s (median of 3 runs of `python -c 'import ocilab.cli'`)"
        )
        if start_seconds:
            result.notes["of which Lab.up's own start"] = (
                f"{statistics.median(start_seconds):.2f} s (median of the "
                "'lab ready in' times that `lab up` prints)"
            )
        result.notes["the rest"] = (
            "prerequisite checks, Python's exit, and any wait for the machine-wide "
            "lab lock while another lab on this machine starts or stops"
        )
        within = result.ocilab_median < ABSOLUTE_LIMIT
        result.notes["absolute"] = (
            f"ocilab {result.ocilab_median:.2f} s, limit {ABSOLUTE_LIMIT:.0f} s "
            f"({'met' if within else 'MISSED'})"
        )
        result.notes["ocilab also"] = (
            "starts Python and imports ocilab, checks prerequisites, creates the CNI "
            "bridge, writes the configs, builds and pushes the busybox and pause images, "
            "and calls Version on CRI v1 and v1alpha2"
        )
        print_result(result, args.json)
    finally:
        try:
            peer.stop()
            for state_dir in labs:
                if state_dir.exists():
                    Lab(state_dir).down()
        finally:
            if owned:
                shutil.rmtree(work, ignore_errors=True)
            # The peer's containerd may create these; remove them only if
            # they did not exist before and are empty.
            for folder in host_dirs:
                if folder not in existing:
                    try:
                        folder.rmdir()
                    except OSError:
                        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
