"""A CRI client over gRPC on a unix socket, for runtime.v1 and runtime.v1alpha2.

>>> with CRIClient() as cri:                      # the running lab, or a node socket
...     cri.version().runtime_name
'containerd'

The API version is negotiated once per endpoint and service: ``Version`` is
tried on runtime.v1, and only an UNIMPLEMENTED reply to that probe moves the
client to runtime.v1alpha2. After that, an UNIMPLEMENTED from one method means
that the runtime lacks that method, and raises CRIUnimplementedError.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import threading
import time
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import grpc
from google.protobuf.message import Message

from ..errors import (
    CRIConnectionError,
    CRIVersionError,
    EndpointError,
    InvalidRequestError,
    SocketNotFoundError,
    UnknownMethodError,
)
from ._api import CRIMethods
from ._modules import API_MODULES
from ._translate import translate_rpc_error, translating
from .configs import parse_dict
from .endpoint import DEFAULT_ENDPOINTS, Endpoint, parse_endpoint, socket_answers
from .types import RuntimeCondition, RuntimeStatus, RuntimeVersion, decode_info

__all__ = ["API_MODULES", "CRIClient", "resolve_endpoint"]

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 10.0
ENV_SOURCE = "$CONTAINER_RUNTIME_ENDPOINT"
# The largest reply a channel accepts; ListContainers on a busy node can pass
# gRPC's default of 4 MiB.
DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024 * 1024


def _check_seconds(value: object, what: str) -> float:
    """Return value as seconds, or raise ValueError unless it is finite and positive."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"invalid {what} {value!r}: give seconds as a positive number")
    if not math.isfinite(value) or value <= 0:
        raise ValueError(
            f"invalid {what} {value!r}: give a finite number of seconds above 0 "
            "(every CRI call needs a deadline)"
        )
    return float(value)


# Negotiated API version per (gRPC target, service), and the runtime's name and
# version per target (for error messages), shared by every client.
_negotiated: dict[tuple[str, str], str] = {}
_runtime_names: dict[str, str] = {}
_negotiated_lock = threading.Lock()


def resolve_endpoint(
    endpoint: str | os.PathLike[str] | None = None,
) -> tuple[Endpoint, str]:
    """Return the endpoint to use and where it came from.

    In order: the argument; $CONTAINER_RUNTIME_ENDPOINT; the running lab; the
    first default node socket (containerd, CRI-O, cri-dockerd) that accepts a
    connection. Raises SocketNotFoundError when none applies.
    """
    if endpoint is not None:
        return parse_endpoint(endpoint), "argument"
    from_env = os.environ.get("CONTAINER_RUNTIME_ENDPOINT")
    if from_env:
        try:
            return parse_endpoint(from_env), ENV_SOURCE
        except EndpointError as error:
            raise EndpointError(
                f"{ENV_SOURCE}: {error} (unset it to use the lab or a default socket)"
            ) from error
    from ..lab import running_lab  # imported here: the lab module uses this client

    lab = running_lab()
    if lab is not None:
        return parse_endpoint(lab.cri_endpoint), f"the running lab ({lab.state_dir})"
    for runtime, path in DEFAULT_ENDPOINTS:
        if socket_answers(path):
            log.info(
                "no CRI endpoint given; %s accepted a connection on %s", runtime, path
            )
            return parse_endpoint(path), f"{runtime}'s default socket"
    tried = ", ".join(path for _, path in DEFAULT_ENDPOINTS)
    raise SocketNotFoundError(
        "no CRI endpoint given, no lab is running, and no default socket accepted a connection "
        f"({tried}): start the lab with `ocilab lab up`, or pass endpoint="
        "'unix:///path/to/runtime.sock'"
    )


def _split_method(method: str) -> tuple[str, str, str]:
    """Split "runtime.v1.RuntimeService/Version" (leading slash optional)."""
    path = method.lstrip("/")
    service_name, _, method_name = path.rpartition("/")
    package, _, service = service_name.rpartition(".")
    if not (package and service and method_name):
        raise UnknownMethodError(
            f"invalid CRI method path {method!r}: expected "
            "'runtime.v1.RuntimeService/Version' (package.Service/Method)",
            method=method,
        )
    return package, service, method_name


class _Service:
    """Callable methods of one CRI service with deadlines and error translation.

    ``client.runtime.Version(client.pb.VersionRequest())`` calls
    ``/runtime.<version>.RuntimeService/Version`` with the client's timeout.
    Keyword arguments build the request: ``client.runtime.ContainerStatus(container_id=…)``.
    The call's own deadline is ``deadline=`` (seconds), because several CRI
    requests have a field named ``timeout`` (StopContainer, ExecSync).
    """

    def __init__(self, client: CRIClient, service: str) -> None:
        self._client = client
        self._service = service

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        client, service = self._client, self._service

        def invoke(
            request: Message | dict[str, Any] | None = None,
            *,
            deadline: float | None = None,
            **fields: Any,
        ) -> Any:
            version = client._version_for(service)
            if fields:
                if request is not None:
                    raise InvalidRequestError(
                        f"{name}: pass either a request or keyword fields, not both",
                        method=name,
                    )
                request = fields
            return client.call(
                f"runtime.{version}.{service}/{name}", request, timeout=deadline
            )

        invoke.__name__ = name
        return invoke

    def __dir__(self) -> list[str]:
        version = self._client._version_for(self._service)
        descriptor = API_MODULES[version].DESCRIPTOR.services_by_name[self._service]
        return [method.name for method in descriptor.methods]


class CRIClient(CRIMethods):
    """A connection to one CRI runtime (and optionally a separate image service).

    Parameters:
    - endpoint: ``unix:///path`` or ``/path``; None picks one (see resolve_endpoint).
    - image_endpoint: where ImageService lives, when it differs from endpoint.
    - timeout: deadline in seconds for every call that does not set its own.
    - api_version: "v1" or "v1alpha2" to skip negotiation; None negotiates.
    """

    def __init__(
        self,
        endpoint: str | os.PathLike[str] | None = None,
        *,
        image_endpoint: str | os.PathLike[str] | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        api_version: str | None = None,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
    ) -> None:
        if api_version is not None and api_version not in API_MODULES:
            raise ValueError(
                f"invalid api_version {api_version!r}: use 'v1', 'v1alpha2' or None"
            )
        self.endpoint, self.endpoint_source = resolve_endpoint(endpoint)
        self.endpoint.check_socket()
        self.image_endpoint = (
            parse_endpoint(image_endpoint) if image_endpoint else self.endpoint
        )
        self.image_endpoint.check_socket()
        self.timeout = _check_seconds(timeout, "timeout")
        self.max_message_bytes = max_message_bytes
        self.forced_api_version = api_version
        self._channels: dict[str, grpc.Channel] = {}
        log.info("CRI endpoint %s (from %s)", self.endpoint.uri, self.endpoint_source)

    # -- plumbing ---------------------------------------------------------

    def _channel(self, endpoint: Endpoint) -> grpc.Channel:
        channel = self._channels.get(endpoint.target)
        if channel is None:
            options = [
                ("grpc.default_authority", "localhost"),
                ("grpc.max_receive_message_length", self.max_message_bytes),
                # Channels share connections through a process-wide pool by
                # default, so a new channel would inherit the reconnect backoff
                # of one dropped by _drop_connection.
                ("grpc.use_local_subchannel_pool", 1),
            ]
            channel = grpc.insecure_channel(endpoint.target, options=options)
            self._channels[endpoint.target] = channel
        return channel

    def _endpoint_for(self, service: str) -> Endpoint:
        return self.image_endpoint if service == "ImageService" else self.endpoint

    def close(self) -> None:
        """Close every channel; a later call opens a new one."""
        for channel in self._channels.values():
            channel.close()
        self._channels.clear()

    def __enter__(self) -> CRIClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"CRIClient({self.endpoint.uri!r}, api_version={self.forced_api_version!r})"
        )

    # -- version negotiation ----------------------------------------------

    def _version_for(self, service: str) -> str:
        if self.forced_api_version:
            return self.forced_api_version
        endpoint = self._endpoint_for(service)
        key = (endpoint.target, service)
        with _negotiated_lock:
            known = _negotiated.get(key)
        if known:
            return known
        version = self._negotiate(service, endpoint)
        with _negotiated_lock:
            _negotiated[key] = version
        log.info("CRI %s at %s speaks runtime.%s", service, endpoint.uri, version)
        return version

    def _negotiate(self, service: str, endpoint: Endpoint) -> str:
        # RuntimeService is probed with Version and ImageService with
        # ImageFsInfo: both exist in every version of both services.
        probe = "Version" if service == "RuntimeService" else "ImageFsInfo"
        answers: list[str] = []
        for version, module in API_MODULES.items():
            method = f"/runtime.{version}.{service}/{probe}"
            request_class = getattr(module, f"{probe}Request")
            response_class = getattr(module, f"{probe}Response")
            call = self._channel(endpoint).unary_unary(
                method,
                request_serializer=request_class.SerializeToString,
                response_deserializer=response_class.FromString,
            )
            try:
                response = call(request_class(), timeout=self.timeout)
            except grpc.RpcError as error:
                code = error.code()  # type: ignore[attr-defined]
                details = error.details() or ""  # type: ignore[attr-defined]
                # "unknown method" means the service exists and lacks only
                # this method (grpc-go's wording), so the version is right.
                if (
                    code is grpc.StatusCode.UNIMPLEMENTED
                    and "unknown method" not in details
                ):
                    answers.append(f"{method}: UNIMPLEMENTED ({details})")
                    continue
                if code is grpc.StatusCode.UNIMPLEMENTED:
                    return version
                translated = translate_rpc_error(
                    error, endpoint, method, source=self._source_for(endpoint)
                )
                if isinstance(translated, CRIConnectionError):
                    self._drop_connection(endpoint)
                raise translated from error
            if probe == "Version":
                self._remember_runtime(response)
            return version
        raise CRIVersionError(
            f"{endpoint.uri} serves neither runtime.v1.{service} nor "
            f"runtime.v1alpha2.{service}: " + "; ".join(answers) + ". Is this a CRI "
            "runtime socket (containerd with its CRI plugin enabled, CRI-O, cri-dockerd)?",
            endpoint=endpoint.uri,
            method=f"{service}/{probe}",
            code="UNIMPLEMENTED",
        )

    @property
    def api_version(self) -> str:
        """The RuntimeService API version in use: "v1" or "v1alpha2"."""
        return self._version_for("RuntimeService")

    @property
    def image_api_version(self) -> str:
        """The ImageService API version in use, negotiated on its own endpoint."""
        return self._version_for("ImageService")

    @property
    def pb(self) -> ModuleType:
        """The generated message module (api_pb2) of the RuntimeService version in use."""
        return API_MODULES[self.api_version]

    @property
    def runtime(self) -> _Service:
        """RuntimeService methods, called with deadlines and translated errors."""
        return _Service(self, "RuntimeService")

    @property
    def images(self) -> _Service:
        """ImageService methods, called with deadlines and translated errors."""
        return _Service(self, "ImageService")

    def grpc_stub(self, service: str = "RuntimeService") -> Any:
        """Return the generated gRPC stub itself, for calls without ocilab's wrapping.

        Calls through it need their own ``timeout=`` and raise grpc.RpcError.
        """
        version = self._version_for(service)
        from .._proto.runtime.v1 import api_pb2_grpc as v1_grpc
        from .._proto.runtime.v1alpha2 import api_pb2_grpc as v1alpha2_grpc

        module = v1_grpc if version == "v1" else v1alpha2_grpc
        stub_class = getattr(module, f"{service}Stub")
        return stub_class(self._channel(self._endpoint_for(service)))

    # -- raw calls --------------------------------------------------------

    def call(
        self,
        method: str,
        request: Message | dict[str, Any] | None = None,
        *,
        timeout: float | None = None,
    ) -> Any:
        """Call a CRI method by its full path and return the decoded response.

        ``method`` is "runtime.v1.RuntimeService/Version", with or without the
        leading slash. ``request`` is the request message, a dict in protobuf
        JSON form, or None for an empty request. Server-streaming methods
        return an iterator of responses. Raises UnknownMethodError for a path
        that names no CRI method, and CRIError subclasses for failed calls.
        """
        package, service, name = _split_method(method)
        version = package.removeprefix("runtime.")
        module = API_MODULES.get(version) if package.startswith("runtime.") else None
        descriptor = module.DESCRIPTOR.services_by_name.get(service) if module else None
        method_descriptor = descriptor.methods_by_name.get(name) if descriptor else None
        if method_descriptor is None:
            raise UnknownMethodError(
                f"unknown CRI method {method!r}: known packages are runtime.v1 and "
                "runtime.v1alpha2 with services RuntimeService and ImageService "
                "(for example 'runtime.v1.RuntimeService/Version')",
                method=method,
            )
        request_class = getattr(module, method_descriptor.input_type.name)
        response_class = getattr(module, method_descriptor.output_type.name)
        message = self._build_request(request, request_class, method)
        path = f"/{package}.{service}/{name}"
        endpoint = self._endpoint_for(service)
        deadline = (
            self.timeout if timeout is None else _check_seconds(timeout, "deadline")
        )
        channel = self._channel(endpoint)
        serializers = {
            "request_serializer": request_class.SerializeToString,
            "response_deserializer": response_class.FromString,
        }
        started = time.monotonic()
        if method_descriptor.server_streaming:
            stream = channel.unary_stream(path, **serializers)(
                message, timeout=deadline
            )
            return self._translated_stream(stream, endpoint, path)
        with self._translating(endpoint, path, version):
            response = channel.unary_unary(path, **serializers)(
                message, timeout=deadline
            )
        log.info(
            "%s on %s: OK in %.3f s", path, endpoint.uri, time.monotonic() - started
        )
        return response

    @staticmethod
    def _build_request(
        request: Message | dict[str, Any] | None, request_class: Any, method: str
    ) -> Message:
        """Return the request message, or raise InvalidRequestError naming the fix."""
        type_name = request_class.DESCRIPTOR.full_name
        fields = ", ".join(field.name for field in request_class.DESCRIPTOR.fields)
        if request is None:
            return request_class()
        if isinstance(request, dict):
            # configs.parse_dict checks every field first, so errors name the
            # field path, and it reads env values as text although runtime.v1
            # declares KeyValue.value as bytes (base64 in protobuf JSON).
            try:
                return parse_dict(request, request_class)
            except InvalidRequestError as error:
                raise InvalidRequestError(
                    f"invalid request for {method}: {error}. {type_name} has the "
                    f"fields: {fields or '(none)'}",
                    method=method,
                ) from error
        if isinstance(request, Message):
            if request.DESCRIPTOR.full_name != type_name:
                raise InvalidRequestError(
                    f"{method} takes {type_name}, not {request.DESCRIPTOR.full_name}",
                    method=method,
                )
            return request
        raise InvalidRequestError(
            f"invalid request for {method}: expected a {type_name} message, a dict "
            f"or None, not {type(request).__name__} {request!r:.80}",
            method=method,
        )

    def _translated_stream(
        self, stream: Any, endpoint: Endpoint, path: str
    ) -> Iterator[Any]:
        with self._translating(endpoint, path, path.split(".")[1]):
            yield from stream

    @contextlib.contextmanager
    def _translating(
        self, endpoint: Endpoint, path: str, version: str
    ) -> Iterator[None]:
        """Translate gRPC errors, and drop the connection when the runtime is unreachable."""
        try:
            with translating(
                endpoint,
                path,
                runtime=self._runtime_label(version),
                source=self._source_for(endpoint),
                max_message_bytes=self.max_message_bytes,
            ):
                yield
        except CRIConnectionError:
            self._drop_connection(endpoint)
            raise

    def _drop_connection(self, endpoint: Endpoint) -> None:
        """Forget the channel and negotiated API versions of an unreachable endpoint.

        After a failed connection, gRPC waits before the next attempt: 1 s,
        growing 1.6 times per failure up to 120 s, per gRPC's connection-backoff
        document. Meanwhile it fails calls at once, so a runtime that came back
        would stay unreachable through the old channel.
        The next call opens a new channel that connects at once, and
        negotiates again, because a restarted runtime may serve another API
        version. The old channel is not closed: calls of other threads on it
        keep running.
        """
        self._channels.pop(endpoint.target, None)
        with _negotiated_lock:
            for key in [key for key in _negotiated if key[0] == endpoint.target]:
                del _negotiated[key]

    def _source_for(self, endpoint: Endpoint) -> str:
        return self.endpoint_source if endpoint == self.endpoint else "argument"

    def _remember_runtime(self, reply: Any) -> None:
        with _negotiated_lock:
            _runtime_names[self.endpoint.target] = (
                f"{reply.runtime_name} {reply.runtime_version}"
            )

    def _runtime_label(self, version: str) -> str:
        with _negotiated_lock:
            name = _runtime_names.get(self.endpoint.target, self.endpoint.uri)
        return f"{name}, API runtime.{version}"

    # -- typed conveniences -------------------------------------------------

    def version(self) -> RuntimeVersion:
        """Call Version and return the runtime's name, version and API version."""
        response = self.runtime.Version(version=self.api_version)
        self._remember_runtime(response)
        return RuntimeVersion(
            version=response.version,
            runtime_name=response.runtime_name,
            runtime_version=response.runtime_version,
            runtime_api_version=response.runtime_api_version,
            api_package=f"runtime.{self.api_version}",
            endpoint=self.endpoint.uri,
        )

    def status(self, verbose: bool = True) -> RuntimeStatus:
        """Call Status; verbose info values are decoded from their JSON strings."""
        response = self.runtime.Status(verbose=verbose)
        conditions = [
            RuntimeCondition(c.type, c.status, c.reason, c.message)
            for c in response.status.conditions
        ]
        return RuntimeStatus(
            conditions=conditions, info=decode_info(dict(response.info))
        )
