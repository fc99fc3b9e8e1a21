"""API version negotiation against fake runtimes that serve only one CRI version.

The lab's containerd 1.6 serves both runtime.v1 and runtime.v1alpha2, so it
cannot show a runtime that lacks one of them (CRI-O 1.26 dropped v1alpha2,
runtimes before 2021 had no v1). These fakes, gRPC servers on temporary unix
sockets built from the project's protos, can.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent import futures
from pathlib import Path
from types import ModuleType
from urllib.parse import quote

import grpc
import pytest

from ocilab._proto.runtime.v1 import api_pb2 as v1_pb2
from ocilab._proto.runtime.v1 import api_pb2_grpc as v1_grpc
from ocilab._proto.runtime.v1alpha2 import api_pb2 as v1alpha2_pb2
from ocilab._proto.runtime.v1alpha2 import api_pb2_grpc as v1alpha2_grpc
from ocilab.cri import CRIClient
from ocilab.errors import CRIUnimplementedError, CRIVersionError

MODULES = {"v1": (v1_pb2, v1_grpc), "v1alpha2": (v1alpha2_pb2, v1alpha2_grpc)}


class FakeRuntimeServer:
    """A gRPC server that registers RuntimeService and ImageService of chosen versions."""

    def __init__(
        self,
        socket_path: Path,
        versions: tuple[str, ...],
        bind_target: str | None = None,
    ) -> None:
        self.socket_path = socket_path
        self.calls: list[str] = []
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        for version in versions:
            pb, grpc_module = MODULES[version]
            grpc_module.add_RuntimeServiceServicer_to_server(
                self._runtime(pb, grpc_module, version), self.server
            )
            grpc_module.add_ImageServiceServicer_to_server(
                self._images(pb, grpc_module, version), self.server
            )
        self.server.add_insecure_port(bind_target or f"unix://{socket_path}")

    def _runtime(self, pb: ModuleType, grpc_module: ModuleType, version: str) -> object:
        calls = self.calls

        class Runtime(grpc_module.RuntimeServiceServicer):  # type: ignore[name-defined,misc]
            def Version(self, request: object, context: object) -> object:
                calls.append(f"{version}/Version")
                return pb.VersionResponse(
                    version="0.1.0",
                    runtime_name="fake-runtime",
                    runtime_version="9.9",
                    runtime_api_version=version,
                )

        return Runtime()

    def _images(self, pb: ModuleType, grpc_module: ModuleType, version: str) -> object:
        calls = self.calls

        class Images(grpc_module.ImageServiceServicer):  # type: ignore[name-defined,misc]
            def ImageFsInfo(self, request: object, context: object) -> object:
                calls.append(f"{version}/ImageFsInfo")
                return pb.ImageFsInfoResponse()

            def ListImages(self, request: object, context: object) -> object:
                calls.append(f"{version}/ListImages")
                image = pb.Image(
                    id=f"sha256:{'a' * 64}",
                    repo_tags=[f"fake/{version}:latest"],
                    size=42,
                )
                return pb.ListImagesResponse(images=[image])

        return Images()

    def __enter__(self) -> FakeRuntimeServer:
        self.server.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.server.stop(grace=None)


@pytest.fixture
def fake_socket(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path / "fake.sock"


@pytest.mark.parametrize("version", ["v1", "v1alpha2"])
def test_fake_single_version_runtime_negotiated(
    fake_socket: Path, version: str
) -> None:
    with (
        FakeRuntimeServer(fake_socket, (version,)),
        CRIClient(f"unix://{fake_socket}") as cri,
    ):
        reply = cri.version()
        images = cri.images.ListImages().images
        assert cri.api_version == version
        assert cri.image_api_version == version
        assert reply.api_package == f"runtime.{version}"
        assert reply.runtime_name == "fake-runtime"
        assert [image.repo_tags[0] for image in images] == [f"fake/{version}:latest"]


def test_fake_no_cri_service_names_both(fake_socket: Path) -> None:
    with FakeRuntimeServer(fake_socket, ()), CRIClient(f"unix://{fake_socket}") as cri:
        with pytest.raises(CRIVersionError) as caught:
            cri.version()
    message = str(caught.value)
    assert "runtime.v1.RuntimeService" in message
    assert "runtime.v1alpha2.RuntimeService" in message
    assert caught.value.code == "UNIMPLEMENTED"


def test_fake_negotiation_cached_per_endpoint(fake_socket: Path) -> None:
    with FakeRuntimeServer(fake_socket, ("v1alpha2",)) as server:
        for _ in range(3):
            with CRIClient(f"unix://{fake_socket}") as cri:
                cri.version()
        probes = [call for call in server.calls if call.endswith("Version")]
    # One probe served by v1alpha2 during negotiation, then one real call per client.
    assert probes == ["v1alpha2/Version"] * 4


def test_fake_forced_version_not_served(fake_socket: Path) -> None:
    with (
        FakeRuntimeServer(fake_socket, ("v1",)),
        CRIClient(f"unix://{fake_socket}", api_version="v1alpha2") as cri,
    ):
        with pytest.raises(
            CRIUnimplementedError, match="not supported by this runtime"
        ):
            cri.version()


def test_fake_image_service_negotiated_separately(tmp_path: Path) -> None:
    runtime_socket = tmp_path / "runtime.sock"
    image_socket = tmp_path / "images.sock"
    with (
        FakeRuntimeServer(runtime_socket, ("v1",)),
        FakeRuntimeServer(image_socket, ("v1alpha2",)),
    ):
        with CRIClient(
            f"unix://{runtime_socket}", image_endpoint=f"unix://{image_socket}"
        ) as cri:
            assert cri.api_version == "v1"
            assert cri.image_api_version == "v1alpha2"
            assert cri.images.ListImages().images[0].repo_tags == [
                "fake/v1alpha2:latest"
            ]


def test_fake_unimplemented_method_keeps_version(fake_socket: Path) -> None:
    with (
        FakeRuntimeServer(fake_socket, ("v1",)),
        CRIClient(f"unix://{fake_socket}") as cri,
    ):
        assert cri.api_version == "v1"
        with pytest.raises(
            CRIUnimplementedError, match="ListContainers is not supported"
        ):
            cri.runtime.ListContainers()
        assert cri.api_version == "v1"
        assert cri.version().runtime_name == "fake-runtime"


def test_fake_socket_path_with_uri_characters(tmp_path: Path) -> None:
    folder = tmp_path / "a b%41?#"
    folder.mkdir()
    socket_path = folder / "c%2F?.sock"
    decoy = tmp_path / "a bA"  # where an unencoded "%41" would lead
    decoy.mkdir()
    target = "unix://" + quote(str(socket_path), safe="/")
    with (
        FakeRuntimeServer(socket_path, ("v1",), bind_target=target),
        CRIClient(socket_path) as cri,
    ):
        assert cri.version().runtime_name == "fake-runtime"
    assert list(decoy.iterdir()) == []
