"""Typed Python methods for every RuntimeService and ImageService call.

CRIClient inherits these. Each method builds the request, calls the runtime
through the client's deadline and error translation, and returns the reply
message or a plain Python value. A method that the negotiated API package
lacks (most of the newer ones in runtime.v1alpha2) raises
CRIUnimplementedError before anything is sent.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from google.protobuf.message import Message

from ..errors import (
    CRICallError,
    CRITimeout,
    CRIUnimplementedError,
    InvalidRequestError,
)
from ._modules import API_MODULES

if TYPE_CHECKING:
    from .client import _Service

__all__ = ["CRIMethods", "ExecResult", "CONTAINER_STATES", "POD_STATES"]

log = logging.getLogger(__name__)

# Readable names of the state enums, as crictl prints them.
CONTAINER_STATES = {0: "Created", 1: "Running", 2: "Exited", 3: "Unknown"}
POD_STATES = {0: "Ready", 1: "NotReady"}

Config = Message | dict[str, Any]


@dataclass(frozen=True)
class ExecResult:
    """The outcome of ExecSync: exit code and captured output."""

    exit_code: int
    stdout: bytes
    stderr: bytes

    @property
    def text(self) -> str:
        """Standard output decoded as UTF-8 (invalid bytes replaced)."""
        return self.stdout.decode(errors="replace")


def _state_number(
    state: str | int | None, names: dict[int, str], what: str
) -> int | None:
    if state is None or isinstance(state, int):
        return state
    # Accept crictl's words ("running") and the enum names ("CONTAINER_RUNNING").
    requested = state.strip().lower().replace("_", "")
    for prefix in ("container", "sandbox"):
        requested = requested.removeprefix(prefix)
    for number, name in names.items():
        if name.lower() == requested:
            return number
    valid = ", ".join(name.lower() for name in names.values())
    raise ValueError(f"invalid {what} state {state!r}: use one of {valid}")


def _matches(pattern: str | None, value: str) -> bool:
    if pattern is None:
        return True
    try:
        return re.search(pattern, value) is not None
    except re.error as error:
        raise InvalidRequestError(
            f"invalid regular expression {pattern!r}: {error}; escape special "
            "characters with a backslash, or use re.escape() for a literal name"
        ) from error


def _newest(items: list[Any], latest: bool, last: int | None) -> list[Any]:
    if last is not None and (
        isinstance(last, bool) or not isinstance(last, int) or last < 1
    ):
        raise ValueError(
            f"invalid last {last!r}: give a whole number of items, 1 or more"
        )
    if not latest and not last:
        return items
    ordered = sorted(items, key=lambda item: item.created_at, reverse=True)
    return ordered[:1] if latest else ordered[:last]


class CRIMethods:
    """The CRI's RuntimeService and ImageService calls as Python methods."""

    runtime: _Service
    images: _Service

    def _version_for(self, service: str) -> str:  # provided by CRIClient
        raise NotImplementedError

    def _has_method(self, service: str, name: str) -> bool:
        version = self._version_for(service)
        descriptor = API_MODULES[version].DESCRIPTOR.services_by_name[service]
        return name in descriptor.methods_by_name

    def _require(self, service: str, name: str) -> None:
        if not self._has_method(service, name):
            version = self._version_for(service)
            chosen = (
                "the API version this client was forced to use"
                if getattr(self, "forced_api_version", None)
                else "the API this runtime speaks"
            )
            raise CRIUnimplementedError(
                f"{service}/{name} is not part of runtime.{version}, {chosen}; it "
                "needs runtime.v1 (drop api_version=, or use a newer runtime)",
                method=f"runtime.{version}.{service}/{name}",
                code="UNIMPLEMENTED",
            )

    def _ignore_not_found(self, call: Any, what: str, **fields: Any) -> bool:
        """Run a stop or remove call; return False when the object was already gone.

        The CRI requires stop and remove to be idempotent, yet containerd 1.6
        replies NOT_FOUND to stopping a pod or container that does not exist.
        """
        try:
            call(**fields)
        except CRICallError as error:
            if error.code != "NOT_FOUND":
                raise
            log.info("%s not found; nothing to do", what)
            return False
        return True

    # -- pods ---------------------------------------------------------------

    def run_pod(self, config: Config, *, runtime_handler: str = "") -> str:
        """Create and start a pod sandbox; return its id."""
        reply = self.runtime.RunPodSandbox(
            config=_as_dict(config), runtime_handler=runtime_handler
        )
        return str(reply.pod_sandbox_id)

    def stop_pod(self, pod_id: str) -> bool:
        """Stop a pod and its containers; return False when the pod does not exist."""
        return self._ignore_not_found(
            self.runtime.StopPodSandbox, f"pod {pod_id}", pod_sandbox_id=pod_id
        )

    def remove_pod(self, pod_id: str) -> bool:
        """Remove a stopped pod; return False when the pod does not exist."""
        # PodSandboxStatus resolves an id prefix as every call does, so an
        # ambiguous prefix is an error here rather than "not found".
        exists = self._ignore_not_found(
            self.runtime.PodSandboxStatus, f"pod {pod_id}", pod_sandbox_id=pod_id
        )
        self.runtime.RemovePodSandbox(pod_sandbox_id=pod_id)
        if not exists:
            log.info("pod %s not found; nothing to remove", pod_id)
        return exists

    def pod_status(self, pod_id: str, *, verbose: bool = False) -> Any:
        """Return PodSandboxStatusResponse (status, and info when verbose)."""
        return self.runtime.PodSandboxStatus(pod_sandbox_id=pod_id, verbose=verbose)

    def pod_info(self, pod_id: str) -> dict[str, Any]:
        """Return the runtime's verbose info about a pod, decoded from JSON.

        containerd puts the sandbox's OCI runtime spec under "runtimeSpec" and
        the CNI result under "cniResult".
        """
        return _decode_verbose(self.pod_status(pod_id, verbose=True).info)

    def list_pods(
        self,
        *,
        pod_id: str | None = None,
        state: str | int | None = None,
        label_selector: dict[str, str] | None = None,
        name: str | None = None,
        namespace: str | None = None,
        latest: bool = False,
        last: int | None = None,
    ) -> list[Any]:
        """List pod sandboxes, filtered as crictl pods filters them.

        pod_id, state and label_selector are sent to the runtime; name and
        namespace are regular expressions matched here against the metadata.
        """
        state_number = _state_number(state, POD_STATES, "pod")
        request_filter: dict[str, Any] = {}
        if pod_id:
            request_filter["id"] = pod_id
        if state_number is not None:
            request_filter["state"] = {"state": state_number}
        if label_selector:
            request_filter["label_selector"] = dict(label_selector)
        items = list(self.runtime.ListPodSandbox(filter=request_filter).items)
        items = [
            pod
            for pod in items
            if _matches(name, pod.metadata.name)
            and _matches(namespace, pod.metadata.namespace)
        ]
        return _newest(items, latest, last)

    def pods_frame(self, **filters: Any) -> Any:
        """Return list_pods(**filters) as a DataFrame."""
        from .frames import pods_frame

        return pods_frame(self.list_pods(**filters))

    # -- containers -------------------------------------------------------

    def create_container(
        self, pod_id: str, config: Config, sandbox_config: Config
    ) -> str:
        """Create a container in a pod; return its id."""
        reply = self.runtime.CreateContainer(
            pod_sandbox_id=pod_id,
            config=_as_dict(config),
            sandbox_config=_as_dict(sandbox_config),
        )
        return str(reply.container_id)

    def start_container(self, container_id: str) -> None:
        """Start a created container."""
        self.runtime.StartContainer(container_id=container_id)

    def stop_container(self, container_id: str, *, grace_period: int = 10) -> bool:
        """Stop a container: SIGTERM, then SIGKILL after grace_period seconds.

        Returns False when the container does not exist. The call's deadline
        is raised to cover the grace period.
        """
        deadline = max(self.timeout, grace_period + 10)  # type: ignore[attr-defined]
        return self._ignore_not_found(
            self.runtime.StopContainer,
            f"container {container_id}",
            container_id=container_id,
            timeout=grace_period,
            deadline=deadline,
        )

    def remove_container(self, container_id: str) -> bool:
        """Remove a container (running ones are killed); False when it did not exist."""
        exists = self._ignore_not_found(
            self.runtime.ContainerStatus,
            f"container {container_id}",
            container_id=container_id,
        )
        self.runtime.RemoveContainer(container_id=container_id)
        if not exists:
            log.info("container %s not found; nothing to remove", container_id)
        return exists

    def container_status(self, container_id: str, *, verbose: bool = False) -> Any:
        """Return ContainerStatusResponse (status, and info when verbose)."""
        return self.runtime.ContainerStatus(container_id=container_id, verbose=verbose)

    def container_info(self, container_id: str) -> dict[str, Any]:
        """Return the runtime's verbose info about a container, decoded from JSON."""
        return _decode_verbose(self.container_status(container_id, verbose=True).info)

    def container_runtime_spec(self, container_id: str) -> dict[str, Any]:
        """Return the OCI runtime spec (config.json) the runtime gave runc for a container.

        Raises CRICallError when the runtime's verbose info has no "runtimeSpec"
        (containerd has it; other runtimes may not).
        """
        info = self.container_info(container_id)
        spec = info.get("runtimeSpec")
        if not isinstance(spec, dict):
            raise CRICallError(
                f"the runtime's verbose info for container {container_id} has no "
                f"runtimeSpec (keys: {', '.join(sorted(info)) or 'none'})",
                method="ContainerStatus",
            )
        return spec

    def list_containers(
        self,
        *,
        container_id: str | None = None,
        pod_id: str | None = None,
        state: str | int | None = None,
        label_selector: dict[str, str] | None = None,
        name: str | None = None,
        namespace: str | None = None,
        image: str | None = None,
        latest: bool = False,
        last: int | None = None,
    ) -> list[Any]:
        """List containers, filtered as crictl ps filters them.

        container_id, pod_id, state and label_selector are sent to the runtime.
        name (container name) and namespace (its pod's namespace) are regular
        expressions, and image matches the image reference or image id; these
        are applied here.
        """
        state_number = _state_number(state, CONTAINER_STATES, "container")
        request_filter: dict[str, Any] = {}
        if container_id:
            request_filter["id"] = container_id
        if pod_id:
            request_filter["pod_sandbox_id"] = pod_id
        if state_number is not None:
            request_filter["state"] = {"state": state_number}
        if label_selector:
            request_filter["label_selector"] = dict(label_selector)
        items = list(self.runtime.ListContainers(filter=request_filter).containers)
        if namespace is not None:
            namespaces = {pod.id: pod.metadata.namespace for pod in self.list_pods()}
            items = [
                c
                for c in items
                if _matches(namespace, namespaces.get(c.pod_sandbox_id, ""))
            ]
        items = [
            c
            for c in items
            if _matches(name, c.metadata.name)
            and (image is None or _image_matches(image, c))
        ]
        return _newest(items, latest, last)

    def containers_frame(self, **filters: Any) -> Any:
        """Return list_containers(**filters) as a DataFrame, with pod name and namespace."""
        from .frames import containers_frame

        return containers_frame(self.list_containers(**filters), self.list_pods())

    def update_container_resources(
        self,
        container_id: str,
        linux: dict[str, Any] | None = None,
        *,
        annotations: dict[str, str] | None = None,
    ) -> None:
        """Change a running container's resources (LinuxContainerResources fields)."""
        fields: dict[str, Any] = {"container_id": container_id}
        if linux is not None:
            fields["linux"] = linux
        if annotations:
            fields["annotations"] = annotations
        self.runtime.UpdateContainerResources(**fields)

    def reopen_container_log(self, container_id: str) -> None:
        """Ask the runtime to reopen a container's log file (after the kubelet rotates it)."""
        self.runtime.ReopenContainerLog(container_id=container_id)

    def exec_sync(
        self, container_id: str, cmd: list[str], *, timeout: int = 10
    ) -> ExecResult:
        """Run a command in a container and wait for it.

        timeout (seconds) bounds the command inside the container; the call's
        deadline is set a few seconds longer so that the runtime reports it.
        """
        try:
            reply = self.runtime.ExecSync(
                container_id=container_id,
                cmd=list(cmd),
                timeout=timeout,
                deadline=max(self.timeout, timeout + 5),  # type: ignore[attr-defined]
            )
        except CRITimeout as error:
            # containerd reports the command's own timeout as DEADLINE_EXCEEDED
            # too ("timeout 1s exceeded"); name the limit that ran out.
            if "exceeded" in (error.details or "") and "timeout" in (
                error.details or ""
            ):
                raise CRITimeout(
                    f"the command {list(cmd)!r} did not finish within its timeout of "
                    f"{timeout} s inside container {container_id}; raise timeout= "
                    f"(the runtime said: {error.details})",
                    endpoint=error.endpoint,
                    method=error.method,
                    code=error.code,
                    details=error.details,
                ) from error
            raise
        return ExecResult(
            int(reply.exit_code), bytes(reply.stdout), bytes(reply.stderr)
        )

    def exec_url(
        self,
        container_id: str,
        cmd: list[str],
        *,
        tty: bool = False,
        stdin: bool = False,
    ) -> str:
        """Return the streaming URL for an interactive exec (Exec)."""
        reply = self.runtime.Exec(
            container_id=container_id,
            cmd=list(cmd),
            tty=tty,
            stdin=stdin,
            stdout=True,
            stderr=not tty,
        )
        return str(reply.url)

    def attach_url(
        self, container_id: str, *, tty: bool = False, stdin: bool = False
    ) -> str:
        """Return the streaming URL for attaching to a container (Attach)."""
        reply = self.runtime.Attach(
            container_id=container_id, tty=tty, stdin=stdin, stdout=True, stderr=not tty
        )
        return str(reply.url)

    def port_forward_url(self, pod_id: str, ports: Iterable[int]) -> str:
        """Return the streaming URL for forwarding ports into a pod (PortForward)."""
        return str(
            self.runtime.PortForward(pod_sandbox_id=pod_id, port=list(ports)).url
        )

    def checkpoint_container(
        self, container_id: str, location: str, *, timeout: int = 60
    ) -> None:
        """Checkpoint a container to location (CRIU; v1 only, few runtimes have it)."""
        self._require("RuntimeService", "CheckpointContainer")
        self.runtime.CheckpointContainer(
            container_id=container_id, location=location, timeout=timeout
        )

    # -- images -----------------------------------------------------------

    def list_images(self, image: str | None = None) -> list[Any]:
        """List images; image keeps those whose tag, digest or id matches it.

        The filter is sent to the runtime and applied here again, because
        containerd 1.6 ignores ListImages filters.
        """
        request_filter = {"image": {"image": image}} if image else {}
        images = list(self.images.ListImages(filter=request_filter).images)
        if image:
            images = [item for item in images if _image_named(image, item)]
        return images

    def images_frame(self, image: str | None = None) -> Any:
        """Return list_images(image) as a DataFrame."""
        from .frames import images_frame

        return images_frame(self.list_images(image))

    def image_status(self, image: str, *, verbose: bool = False) -> Any:
        """Return ImageStatusResponse; its image field is empty when the image is absent."""
        return self.images.ImageStatus(image={"image": image}, verbose=verbose)

    def image_config(self, image: str) -> dict[str, Any]:
        """Return the image's OCI image config, from the runtime's verbose info ("imageSpec")."""
        info = _decode_verbose(self.image_status(image, verbose=True).info)
        spec = info.get("imageSpec")
        if not isinstance(spec, dict):
            raise CRICallError(
                f"the runtime's verbose info for image {image} has no imageSpec "
                "(is the image pulled?)",
                method="ImageStatus",
            )
        return spec

    def pull_image(
        self,
        image: str,
        *,
        username: str | None = None,
        password: str | None = None,
        auth: str | None = None,
        registry_token: str | None = None,
        identity_token: str | None = None,
        sandbox_config: Config | None = None,
        timeout: float = 300.0,
    ) -> str:
        """Pull an image, with registry credentials or a token when given; return its image ref."""
        credentials = {
            key: value
            for key, value in (
                ("username", username),
                ("password", password),
                ("auth", auth),
                ("registry_token", registry_token),
                ("identity_token", identity_token),
            )
            if value
        }
        fields: dict[str, Any] = {"image": {"image": image}}
        if credentials:
            fields["auth"] = credentials
        if sandbox_config is not None:
            fields["sandbox_config"] = _as_dict(sandbox_config)
        reply = self.images.PullImage(**fields, deadline=timeout)
        return str(reply.image_ref)

    def remove_image(self, image: str) -> bool:
        """Remove an image; return False when it was not present."""
        present = bool(self.image_status(image).image.id)
        self.images.RemoveImage(image={"image": image})
        if not present:
            log.info("image %s not found; nothing to remove", image)
        return present

    def image_fs_info(self) -> Any:
        """Return ImageFsInfoResponse: where image layers live and how much they use."""
        return self.images.ImageFsInfo()

    # -- runtime ----------------------------------------------------------

    def runtime_config(self) -> Any:
        """Return RuntimeConfigResponse (cgroup driver); v1 only, containerd 1.7+."""
        self._require("RuntimeService", "RuntimeConfig")
        return self.runtime.RuntimeConfig()

    def update_runtime_config(self, pod_cidr: str) -> None:
        """Tell the runtime the node's pod CIDR (the kubelet does this once)."""
        self.runtime.UpdateRuntimeConfig(
            runtime_config={"network_config": {"pod_cidr": pod_cidr}}
        )

    # -- stats and metrics ------------------------------------------------

    def container_stats(self, container_id: str) -> Any:
        """Return one container's ContainerStats."""
        return self.runtime.ContainerStats(container_id=container_id).stats

    def list_container_stats(
        self,
        *,
        container_id: str | None = None,
        pod_id: str | None = None,
        label_selector: dict[str, str] | None = None,
    ) -> list[Any]:
        """Return ContainerStats of every container that matches the filter."""
        request_filter: dict[str, Any] = {}
        if container_id:
            request_filter["id"] = container_id
        if pod_id:
            request_filter["pod_sandbox_id"] = pod_id
        if label_selector:
            request_filter["label_selector"] = dict(label_selector)
        return list(self.runtime.ListContainerStats(filter=request_filter).stats)

    def pod_stats(self, pod_id: str) -> Any:
        """Return one pod's PodSandboxStats (not in runtime.v1alpha2)."""
        self._require("RuntimeService", "PodSandboxStats")
        return self.runtime.PodSandboxStats(pod_sandbox_id=pod_id).stats

    def list_pod_stats(
        self, *, pod_id: str | None = None, label_selector: dict[str, str] | None = None
    ) -> list[Any]:
        """Return PodSandboxStats of every pod that matches the filter."""
        self._require("RuntimeService", "ListPodSandboxStats")
        request_filter: dict[str, Any] = {}
        if pod_id:
            request_filter["id"] = pod_id
        if label_selector:
            request_filter["label_selector"] = dict(label_selector)
        return list(self.runtime.ListPodSandboxStats(filter=request_filter).stats)

    def list_metric_descriptors(self) -> list[Any]:
        """Return the runtime's pod metric descriptors (v1 only, newer runtimes)."""
        self._require("RuntimeService", "ListMetricDescriptors")
        return list(self.runtime.ListMetricDescriptors().descriptors)

    def list_pod_metrics(self) -> list[Any]:
        """Return every pod's metrics (ListPodSandboxMetrics; v1 only, newer runtimes)."""
        self._require("RuntimeService", "ListPodSandboxMetrics")
        return list(self.runtime.ListPodSandboxMetrics().pod_metrics)

    # -- events -----------------------------------------------------------

    def container_events(self, *, timeout: float = 10.0) -> Iterator[Any]:
        """Yield ContainerEventResponse messages until timeout seconds have passed.

        The stream ends quietly at the timeout; other errors (including
        UNIMPLEMENTED from runtimes older than containerd 1.7) are raised.
        """
        self._require("RuntimeService", "GetContainerEvents")
        stream = self.runtime.GetContainerEvents(deadline=timeout)
        try:
            yield from stream
        except CRITimeout:
            return

    # -- newer pod-level calls (runtime.v1 only) ----------------------------

    def update_pod_resources(
        self,
        pod_id: str,
        *,
        overhead: dict[str, Any] | None = None,
        resources: dict[str, Any] | None = None,
    ) -> None:
        """Change a pod's overhead and resources (UpdatePodSandboxResources)."""
        self._require("RuntimeService", "UpdatePodSandboxResources")
        fields: dict[str, Any] = {"pod_sandbox_id": pod_id}
        if overhead is not None:
            fields["overhead"] = overhead
        if resources is not None:
            fields["resources"] = resources
        self.runtime.UpdatePodSandboxResources(**fields)

    def checkpoint_pod(
        self,
        pod_id: str,
        output_path: str,
        *,
        container_ids: Iterable[str] = (),
        options: dict[str, str] | None = None,
    ) -> None:
        """Checkpoint a whole pod (CheckpointPod; v1 only, very new runtimes)."""
        self._require("RuntimeService", "CheckpointPod")
        self.runtime.CheckpointPod(
            pod_sandbox_id=pod_id,
            output_path=output_path,
            container_ids=list(container_ids),
            options=options or {},
        )

    def restore_pod(
        self,
        checkpoint_path: str,
        *,
        config: Config | None = None,
        runtime_handler: str = "",
        options: dict[str, str] | None = None,
    ) -> Any:
        """Restore a pod from a checkpoint; return RestorePodResponse (v1 only)."""
        self._require("RuntimeService", "RestorePod")
        fields: dict[str, Any] = {
            "checkpoint_path": checkpoint_path,
            "runtime_handler": runtime_handler,
            "options": options or {},
        }
        if config is not None:
            fields["config"] = _as_dict(config)
        return self.runtime.RestorePod(**fields)

    def stream_pods(self, **request: Any) -> Iterator[Any]:
        """Yield pods through StreamPodSandboxes (v1 only; paged listing for large nodes)."""
        self._require("RuntimeService", "StreamPodSandboxes")
        yield from self.runtime.StreamPodSandboxes(**request)

    def stream_containers(self, **request: Any) -> Iterator[Any]:
        """Yield containers through StreamContainers (v1 only)."""
        self._require("RuntimeService", "StreamContainers")
        yield from self.runtime.StreamContainers(**request)

    def stream_container_stats(self, **request: Any) -> Iterator[Any]:
        """Yield container stats through StreamContainerStats (v1 only)."""
        self._require("RuntimeService", "StreamContainerStats")
        yield from self.runtime.StreamContainerStats(**request)

    def stream_pod_stats(self, **request: Any) -> Iterator[Any]:
        """Yield pod stats through StreamPodSandboxStats (v1 only)."""
        self._require("RuntimeService", "StreamPodSandboxStats")
        yield from self.runtime.StreamPodSandboxStats(**request)

    def stream_pod_metrics(self, **request: Any) -> Iterator[Any]:
        """Yield pod metrics through StreamPodSandboxMetrics (v1 only)."""
        self._require("RuntimeService", "StreamPodSandboxMetrics")
        yield from self.runtime.StreamPodSandboxMetrics(**request)

    def stream_images(self, **request: Any) -> Iterator[Any]:
        """Yield images through StreamImages (v1 only)."""
        self._require("ImageService", "StreamImages")
        yield from self.images.StreamImages(**request)


def _as_dict(config: Config) -> Any:
    """Return a config as a request dict, with env values as text.

    A message from another API package must not be sent as is, so it becomes
    a dict that the client encodes for the negotiated package. MessageToDict
    writes bytes fields as base64; runtime.v1 declares env values as bytes,
    and request dicts carry them as text, so they are decoded back here.
    """
    if not isinstance(config, Message):
        return config
    from google.protobuf import json_format

    data = json_format.MessageToDict(config, preserving_proto_field_name=True)
    if "envs" in data:
        data["envs"] = [
            {"key": env.key, "value": _text(env.value)}
            for env in config.envs  # type: ignore[attr-defined]
        ]
    return data


def _text(value: str | bytes) -> str:
    return (
        value.decode("utf-8", errors="replace") if isinstance(value, bytes) else value
    )


def _image_matches(image: str, container: Any) -> bool:
    """Return True when image names the container's image: same reference, or id (prefix)."""
    if image in (container.image.image, container.image_ref):
        return True
    bare = image.removeprefix("sha256:")
    image_id = container.image_ref.removeprefix("sha256:")
    is_hex = len(bare) >= 4 and all(c in "0123456789abcdef" for c in bare)
    return is_hex and image_id.startswith(bare)


def _image_named(name: str, image: Any) -> bool:
    """Return True when name is one of the image's tags or digests, or its id (or a prefix)."""
    if name in image.repo_tags or name in image.repo_digests:
        return True
    bare = name.removeprefix("sha256:")
    return len(bare) >= 4 and image.id.removeprefix("sha256:").startswith(bare)


def _decode_verbose(info: Any) -> dict[str, Any]:
    """Decode a verbose info map; containerd nests everything under "info"."""
    decoded: dict[str, Any] = {}
    for key, value in dict(info).items():
        try:
            decoded[key] = json.loads(value)
        except ValueError:
            decoded[key] = value
    nested = decoded.get("info")
    if isinstance(nested, dict) and len(decoded) == 1:
        return nested
    return decoded
