"""List 500 containers as a DataFrame: CRIClient.containers_frame against the bare generated stub.

A lab of its own runs one pod with 500 created (not started) containers of
the lab's busybox image (5 with --smoke). ocilab's containers_frame calls
ListContainers and ListPodSandbox and builds a pandas DataFrame with the pod
names and exact timestamps. The peer is the raw generated stub call
``RuntimeServiceStub(channel).ListContainers(ListContainersRequest())`` on
the same gRPC channel, which returns protobuf messages and nothing more.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import base_parser, compare, print_result  # noqa: E402

from ocilab.cri import CRIClient  # noqa: E402
from ocilab.lab import Lab, LabInfo  # noqa: E402

FULL_CONTAINERS = 500
SMOKE_CONTAINERS = 5
# Each measured run repeats the listing, so that one run lasts long enough
# for the timer (a single listing of 500 containers takes milliseconds).
CALLS_PER_RUN = 20


def pod_config(lab: LabInfo) -> dict[str, Any]:
    uid = str(uuid.uuid4())
    return {
        "metadata": {"name": "bench", "namespace": "bench", "uid": uid, "attempt": 0},
        "hostname": "bench",
        "log_directory": str(Path(lab.state_dir) / "pod-logs" / "bench"),
        "linux": {"cgroup_parent": f"{lab.cgroup_parent}/pod-{uid}"},
    }


def container_config(lab: LabInfo, index: int) -> dict[str, Any]:
    name = f"c{index:04d}"
    return {
        "metadata": {"name": name, "attempt": 0},
        "image": {"image": lab.images["busybox"]},
        "command": ["sleep", "inf"],
        "labels": {"bench": "cri-list", "index": str(index)},
        "log_path": f"{name}/0.log",
    }


def main() -> int:
    args = base_parser(__doc__.splitlines()[0]).parse_args()
    runs = 1 if args.smoke else args.runs
    count = SMOKE_CONTAINERS if args.smoke else FULL_CONTAINERS
    owned = args.workdir is None
    work = Path(tempfile.mkdtemp(prefix="bench-cri-")) if owned else args.workdir
    work.mkdir(parents=True, exist_ok=True)
    lab = Lab(work / "lab")
    pod_id = None
    try:
        info = lab.up()
        with CRIClient(info.cri_endpoint, timeout=60) as cri:
            cri.pull_image(info.images["busybox"])
            sandbox = pod_config(info)
            pod_id = cri.run_pod(sandbox)
            for index in tqdm(
                range(count), desc="creating containers", unit=" container"
            ):
                cri.create_container(pod_id, container_config(info, index), sandbox)

            stub = cri.grpc_stub("RuntimeService")
            request_class = cri.pb.ListContainersRequest

            def list_ocilab() -> None:
                for _ in range(CALLS_PER_RUN):
                    frame = cri.containers_frame()
                    if len(frame) != count:
                        raise RuntimeError(
                            f"containers_frame has {len(frame)} rows, expected {count}"
                        )

            def list_stub() -> None:
                for _ in range(CALLS_PER_RUN):
                    reply = stub.ListContainers(request_class(), timeout=60)
                    if len(reply.containers) != count:
                        raise RuntimeError(
                            f"ListContainers returned {len(reply.containers)}, expected {count}"
                        )

            result = compare(
                f"CRI list {count} containers",
                list_ocilab,
                "grpc stub ListContainers",
                list_stub,
                runs=runs,
                target=1.3,
            )
            # Report seconds per listing; the ratio does not change.
            result.ocilab_median /= CALLS_PER_RUN
            result.peer_median /= CALLS_PER_RUN
            result.notes["calls"] = (
                f"{CALLS_PER_RUN} listings per run, times are per listing"
            )
            print_result(result, args.json)
    finally:
        try:
            if pod_id is not None:
                # Removing the pod removes its containers.
                with CRIClient(info.cri_endpoint, timeout=120) as cri:
                    cri.stop_pod(pod_id)
                    cri.remove_pod(pod_id)
        finally:
            lab.down()
            if owned:
                shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
