"""The one place where gRPC errors become ocilab errors.

Every CRI call goes through :func:`translating`, which maps the gRPC status
code to the most specific :class:`~ocilab.errors.CRIError` subclass and keeps
the original ``grpc.RpcError`` as ``__cause__``. For UNAVAILABLE it looks at
the socket itself, to tell apart a missing socket, a permission problem and a
runtime that does not respond.
"""

from __future__ import annotations

import contextlib
import grp
import os
import stat
from collections.abc import Iterator

import grpc

from ..errors import (
    CRICallError,
    CRIError,
    CRITimeout,
    CRIUnimplementedError,
    RuntimeUnavailableError,
    SocketNotFoundError,
    SocketPermissionError,
)
from .endpoint import Endpoint, non_directory_parent, socket_answers

__all__ = ["CODE_TO_ERROR", "translate_rpc_error", "translating"]

CODE_TO_ERROR: dict[grpc.StatusCode, type[CRIError]] = {
    grpc.StatusCode.OK: CRICallError,
    grpc.StatusCode.CANCELLED: CRICallError,
    grpc.StatusCode.UNKNOWN: CRICallError,
    grpc.StatusCode.INVALID_ARGUMENT: CRICallError,
    grpc.StatusCode.DEADLINE_EXCEEDED: CRITimeout,
    grpc.StatusCode.NOT_FOUND: CRICallError,
    grpc.StatusCode.ALREADY_EXISTS: CRICallError,
    # The runtime's own verdict on the request, not the socket's file mode.
    grpc.StatusCode.PERMISSION_DENIED: CRICallError,
    grpc.StatusCode.RESOURCE_EXHAUSTED: CRICallError,
    grpc.StatusCode.FAILED_PRECONDITION: CRICallError,
    grpc.StatusCode.ABORTED: CRICallError,
    grpc.StatusCode.OUT_OF_RANGE: CRICallError,
    grpc.StatusCode.UNIMPLEMENTED: CRIUnimplementedError,
    grpc.StatusCode.INTERNAL: CRICallError,
    grpc.StatusCode.UNAVAILABLE: RuntimeUnavailableError,
    grpc.StatusCode.DATA_LOSS: CRICallError,
    grpc.StatusCode.UNAUTHENTICATED: CRICallError,
}

_START_HINT = (
    "start the lab with `ocilab lab up`, or pass the endpoint of a running runtime "
    "(containerd: unix:///run/containerd/containerd.sock, CRI-O: unix:///run/crio/crio.sock)"
)


def _group_name(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


def _start_hint(source: str) -> str:
    if source.startswith("$"):
        return f"the endpoint comes from {source}: fix it, or unset it to use the lab"
    return _START_HINT


def _unavailable(
    endpoint: Endpoint, method: str, details: str, source: str
) -> CRIError:
    """Pick the error for UNAVAILABLE by looking at the socket file."""
    path = endpoint.path
    common = {
        "endpoint": endpoint.uri,
        "method": method,
        "code": "UNAVAILABLE",
        "details": details,
    }
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return SocketNotFoundError(
            f"no CRI socket at {path}: {_start_hint(source)}", **common
        )
    except PermissionError:
        return SocketPermissionError(
            f"permission denied on a folder above CRI socket {path}: run as root "
            "(sudo), or ask for search (x) permission on each folder of the path",
            **common,
        )
    except NotADirectoryError:
        return SocketNotFoundError(
            f"no CRI socket at {path}: {non_directory_parent(path)} is not a directory; "
            f"{_start_hint(source)}",
            **common,
        )
    if not stat.S_ISSOCK(info.st_mode):
        return RuntimeUnavailableError(
            f"CRI endpoint {path} is not a socket; point it at the runtime's unix socket",
            **common,
        )
    if not os.access(path, os.R_OK | os.W_OK):
        group = _group_name(info.st_gid)
        return SocketPermissionError(
            f"permission denied on CRI socket {path}: run as root (sudo), or as a member "
            f"of group {group!r} if the socket allows that group to connect",
            **common,
        )
    if socket_answers(path):
        # Something accepts connections, so the runtime itself sent UNAVAILABLE.
        return RuntimeUnavailableError(
            f"{method} on {endpoint.uri}: the runtime replied UNAVAILABLE ({details}); "
            "it may be starting or shutting down, so try again shortly",
            **common,
        )
    return RuntimeUnavailableError(
        f"CRI runtime at {path} is not responding ({details}); check that it is "
        "running (`ocilab lab status` for the lab)",
        **common,
    )


def translate_rpc_error(
    error: grpc.RpcError,
    endpoint: Endpoint,
    method: str,
    *,
    runtime: str = "",
    source: str = "argument",
    max_message_bytes: int | None = None,
) -> CRIError:
    """Return the ocilab error for a failed gRPC call (the caller raises it)."""
    code: grpc.StatusCode = error.code()  # type: ignore[attr-defined]
    details = error.details() or ""  # type: ignore[attr-defined]
    if code is grpc.StatusCode.UNAVAILABLE:
        return _unavailable(endpoint, method, details, source)
    error_class = CODE_TO_ERROR.get(code, CRICallError)
    common = {
        "endpoint": endpoint.uri,
        "method": method,
        "code": code.name,
        "details": details,
    }
    if code is grpc.StatusCode.UNIMPLEMENTED:
        who = runtime or endpoint.uri
        message = f"{method} is not supported by this runtime ({who}): {details}"
    elif code is grpc.StatusCode.DEADLINE_EXCEEDED:
        message = (
            f"{method} on {endpoint.uri} timed out ({details}); the runtime may be "
            "busy or hung: raise the timeout, or check the runtime's health"
        )
    elif code is grpc.StatusCode.RESOURCE_EXHAUSTED and max_message_bytes:
        message = (
            f"{method} on {endpoint.uri} failed with RESOURCE_EXHAUSTED: {details}; "
            f"if the reply is larger than max_message_bytes ({max_message_bytes}), "
            "raise it on the CRIClient, or narrow the request with a filter"
        )
    else:
        message = f"{method} on {endpoint.uri} failed with {code.name}: {details}"
    return error_class(message, **common)


@contextlib.contextmanager
def translating(
    endpoint: Endpoint,
    method: str,
    *,
    runtime: str = "",
    source: str = "argument",
    max_message_bytes: int | None = None,
) -> Iterator[None]:
    """Run a block that makes one gRPC call, raising ocilab errors instead of grpc.RpcError."""
    try:
        yield
    except grpc.RpcError as error:
        raise translate_rpc_error(
            error,
            endpoint,
            method,
            runtime=runtime,
            source=source,
            max_message_bytes=max_message_bytes,
        ) from error
