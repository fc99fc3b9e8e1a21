"""FaultInjectingRuntime: a CRI runtime on a unix socket that injects faults.

The lab's containerd 1.6 serves both runtime.v1 and runtime.v1alpha2 and
replies at once, so it cannot show a runtime that serves only one API
version, or one that keeps a call waiting for as long as a test needs. This gRPC
server, built from ocilab's generated protos, can. It implements Version,
Status, ListPodSandbox, ListContainers and ExecSync of RuntimeService, and
ImageFsInfo and ListImages of ImageService, for each version it is given.
Methods named in ``blocking`` wait ``block_seconds`` before they reply.

Run as a script, it serves in a child process that a test can kill with
SIGKILL in the middle of a call (:class:`RuntimeProcess`)::

    python tests/cri_test_server.py SOCKET VERSIONS [BLOCKING]

It prints ``serving`` once it listens, then ``call <version>/<Method>`` as
each call arrives.
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent import futures
from pathlib import Path
from types import ModuleType
from typing import Any

import grpc

from ocilab._proto.runtime.v1 import api_pb2 as v1_pb2
from ocilab._proto.runtime.v1 import api_pb2_grpc as v1_grpc
from ocilab._proto.runtime.v1alpha2 import api_pb2 as v1alpha2_pb2
from ocilab._proto.runtime.v1alpha2 import api_pb2_grpc as v1alpha2_grpc

MODULES = {"v1": (v1_pb2, v1_grpc), "v1alpha2": (v1alpha2_pb2, v1alpha2_grpc)}
RUNTIME_NAME = "fault-injecting-runtime"
POD_ID = "pod-" + "1" * 60


class FaultInjectingRuntime:
    """A CRI runtime serving the given API versions on socket_path, in this process.

    ``calls`` lists each call as "<version>/<Method>". ``on_call`` is called
    with that text as each call arrives, before any blocking.
    """

    def __init__(
        self,
        socket_path: Path | str,
        versions: tuple[str, ...] = ("v1",),
        *,
        blocking: tuple[str, ...] = (),
        block_seconds: float = 30.0,
        on_call: Callable[[str], None] | None = None,
    ) -> None:
        self.socket_path = Path(socket_path)
        self.versions = versions
        self.blocking = blocking
        self.block_seconds = block_seconds
        self.calls: list[str] = []
        self.on_call = on_call
        self.stopping = threading.Event()
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        for version in versions:
            pb, grpc_module = MODULES[version]
            grpc_module.add_RuntimeServiceServicer_to_server(
                _runtime_servicer(self, pb, grpc_module, version), self.server
            )
            grpc_module.add_ImageServiceServicer_to_server(
                _image_servicer(self, pb, grpc_module, version), self.server
            )
        self.server.add_insecure_port(f"unix://{self.socket_path}")

    def arrive(self, version: str, method: str) -> None:
        """Record a call, then block it when its method is in ``blocking``."""
        name = f"{version}/{method}"
        self.calls.append(name)
        if self.on_call is not None:
            self.on_call(name)
        if method in self.blocking:
            self.stopping.wait(self.block_seconds)

    def start(self) -> FaultInjectingRuntime:
        self.server.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self.server.stop(grace=None).wait(5)

    def __enter__(self) -> FaultInjectingRuntime:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _runtime_servicer(
    runtime: FaultInjectingRuntime,
    pb: ModuleType,
    grpc_module: ModuleType,
    version: str,
) -> Any:
    class Runtime(grpc_module.RuntimeServiceServicer):  # type: ignore[name-defined,misc]
        def Version(self, request: Any, context: Any) -> Any:
            runtime.arrive(version, "Version")
            return pb.VersionResponse(
                version="0.1.0",
                runtime_name=RUNTIME_NAME,
                runtime_version="1.0",
                runtime_api_version=version,
            )

        def Status(self, request: Any, context: Any) -> Any:
            runtime.arrive(version, "Status")
            conditions = [
                pb.RuntimeCondition(type="RuntimeReady", status=True),
                pb.RuntimeCondition(type="NetworkReady", status=True),
            ]
            return pb.StatusResponse(status=pb.RuntimeStatus(conditions=conditions))

        def ListPodSandbox(self, request: Any, context: Any) -> Any:
            runtime.arrive(version, "ListPodSandbox")
            metadata = pb.PodSandboxMetadata(
                name=f"pod-{version}", uid="uid-1", namespace="default"
            )
            pod = pb.PodSandbox(id=POD_ID, metadata=metadata, state=0)
            return pb.ListPodSandboxResponse(items=[pod])

        def ListContainers(self, request: Any, context: Any) -> Any:
            runtime.arrive(version, "ListContainers")
            return pb.ListContainersResponse()

        def ExecSync(self, request: Any, context: Any) -> Any:
            runtime.arrive(version, "ExecSync")
            return pb.ExecSyncResponse(stdout=b"done\n", exit_code=0)

    return Runtime()


def _image_servicer(
    runtime: FaultInjectingRuntime,
    pb: ModuleType,
    grpc_module: ModuleType,
    version: str,
) -> Any:
    class Images(grpc_module.ImageServiceServicer):  # type: ignore[name-defined,misc]
        def ImageFsInfo(self, request: Any, context: Any) -> Any:
            runtime.arrive(version, "ImageFsInfo")
            return pb.ImageFsInfoResponse()

        def ListImages(self, request: Any, context: Any) -> Any:
            runtime.arrive(version, "ListImages")
            image = pb.Image(id="sha256:" + "a" * 64, repo_tags=[f"fault/{version}:1"])
            return pb.ListImagesResponse(images=[image])

    return Images()


class RuntimeProcess:
    """FaultInjectingRuntime in a child process, which a test can kill with SIGKILL."""

    def __init__(
        self,
        socket_path: Path | str,
        versions: tuple[str, ...] = ("v1",),
        blocking: tuple[str, ...] = (),
    ) -> None:
        self.command = [
            sys.executable,
            __file__,
            str(socket_path),
            ",".join(versions),
            ",".join(blocking),
        ]
        self.process: subprocess.Popen[str] | None = None
        self.reader: threading.Thread | None = None
        self.lines: queue.Queue[str] = queue.Queue()

    def start(self, timeout: float = 20.0) -> RuntimeProcess:
        self.process = subprocess.Popen(
            self.command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
        )
        self.reader = threading.Thread(
            target=self._read, args=(self.process,), daemon=True
        )
        self.reader.start()
        self.wait_for("serving", timeout)
        return self

    def _read(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            self.lines.put(line.strip())

    def wait_for(self, expected: str, timeout: float = 20.0) -> None:
        """Wait until the child prints the line expected; raise TimeoutError if it does not."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                if self.lines.get(timeout=left) == expected:
                    return
            except queue.Empty:
                break
        raise TimeoutError(
            f"the runtime process did not print {expected!r} in {timeout} s"
        )

    def kill(self) -> None:
        """Kill the child with SIGKILL, as the kernel's OOM killer or `kill -9` would."""
        if self.process is None:
            return
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        if self.reader is not None:
            self.reader.join(timeout=10)
        if self.process.stdout is not None:
            self.process.stdout.close()

    def __enter__(self) -> RuntimeProcess:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.kill()


def _main(argv: list[str]) -> None:
    socket_path, versions, blocking = argv[0], argv[1], argv[2] if len(argv) > 2 else ""

    def report(name: str) -> None:
        print(f"call {name}", flush=True)

    runtime = FaultInjectingRuntime(
        socket_path,
        tuple(versions.split(",")),
        blocking=tuple(name for name in blocking.split(",") if name),
        block_seconds=600.0,
        on_call=report,
    )
    runtime.start()
    print("serving", flush=True)
    runtime.server.wait_for_termination()


if __name__ == "__main__":
    _main(sys.argv[1:])
