"""CRI endpoints: parse, check and find the unix socket of a container runtime.

Accepted forms are ``unix:///absolute/path`` and a bare ``/absolute/path``
(kubelet and crictl accept both). ``unix:/absolute/path`` is gRPC's own short
form and is accepted too. Everything else is rejected with the accepted form
in the message: ``unix://relative/path`` (a URL parser reads "relative" as a
host), other schemes such as ``tcp://``, and the empty string.
"""

from __future__ import annotations

import logging
import os
import socket
import stat
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from ..errors import EndpointError

__all__ = ["DEFAULT_ENDPOINTS", "Endpoint", "parse_endpoint", "socket_answers"]

log = logging.getLogger(__name__)

# The sockets that the usual runtimes listen on, in the order crictl tried them.
DEFAULT_ENDPOINTS: tuple[tuple[str, str], ...] = (
    ("containerd", "/run/containerd/containerd.sock"),
    ("CRI-O", "/run/crio/crio.sock"),
    ("cri-dockerd", "/run/cri-dockerd.sock"),
)

_ACCEPTED = (
    "use unix:///absolute/path/to/runtime.sock or /absolute/path/to/runtime.sock"
)
_warned_bare_paths: set[str] = set()
# sun_path is 108 bytes on Linux, including the terminating NUL.
MAX_SOCKET_PATH = 107


@dataclass(frozen=True)
class Endpoint:
    """A CRI endpoint: the socket's filesystem path and the gRPC target for it."""

    path: str

    @property
    def uri(self) -> str:
        """The endpoint as people write it, ``unix:///path``."""
        return f"unix://{self.path}"

    @property
    def target(self) -> str:
        """The gRPC target: ``unix:///path`` with the path percent-encoded.

        gRPC parses the target as a URI, so a raw "%", "?" or "#" in a path
        would be decoded or cut off and reach another socket.
        """
        return "unix://" + urllib.parse.quote(self.path, safe="/")

    def __str__(self) -> str:
        return self.uri

    def check_socket(self) -> None:
        """Raise EndpointError when the path exists but is not a socket.

        A missing path is not an error here: the runtime may create it later,
        and a call then fails with SocketNotFoundError.
        """
        try:
            mode = os.stat(self.path).st_mode
        except FileNotFoundError:
            return
        except PermissionError:
            return
        except NotADirectoryError:
            raise EndpointError(
                f"CRI endpoint {self.path!r} is inside {non_directory_parent(self.path)!r}, "
                "which is not a directory; point it at the runtime's unix socket"
            ) from None
        if not stat.S_ISSOCK(mode):
            kind = "a directory" if stat.S_ISDIR(mode) else "not a socket"
            raise EndpointError(
                f"CRI endpoint {self.path!r} exists but is {kind}; "
                "point it at the runtime's unix socket"
            )


def non_directory_parent(path: str) -> str:
    """Return the first parent of path that exists and is not a directory ("" if none)."""
    for parent in reversed(Path(path).parents):
        if parent.exists() and not parent.is_dir():
            return str(parent)
    return ""


def parse_endpoint(value: str | os.PathLike[str]) -> Endpoint:
    """Turn an endpoint string or path into an Endpoint.

    Raises EndpointError for empty strings, relative paths, ``unix://relative``
    and schemes other than unix.
    """
    if value is None or not isinstance(value, (str, os.PathLike)):
        raise EndpointError(
            f"invalid CRI endpoint {value!r}: expected a string or path; {_ACCEPTED}"
        )
    text = os.fspath(value)
    if not isinstance(text, str):
        raise EndpointError(
            f"invalid CRI endpoint {value!r}: use a str path; {_ACCEPTED}"
        )
    text = text.strip()
    if "\0" in text:
        raise EndpointError(f"invalid CRI endpoint {text!r}: it contains a NUL byte")
    if not text:
        raise EndpointError(f"empty CRI endpoint; {_ACCEPTED}")
    if text.startswith("unix://"):
        path = text[len("unix://") :]
        if not path.startswith("/"):
            raise EndpointError(
                f"invalid CRI endpoint {text!r}: after unix:// the path must be "
                f"absolute (a URL parser reads {path.split('/')[0]!r} as a host); "
                f"did you mean unix:///{path}? {_ACCEPTED}"
            )
    elif text.startswith("unix:"):
        path = text[len("unix:") :]
        if not path.startswith("/"):
            raise EndpointError(f"invalid CRI endpoint {text!r}: {_ACCEPTED}")
    elif "://" in text:
        scheme = text.split(":", 1)[0]
        raise EndpointError(
            f"unsupported CRI endpoint {text!r}: scheme {scheme!r} is not supported "
            f"(ocilab speaks CRI over unix sockets only); {_ACCEPTED}"
        )
    elif ":" in text.split("/", 1)[0]:
        raise EndpointError(
            f"unsupported CRI endpoint {text!r}: this looks like a host:port or another "
            f"scheme, and ocilab speaks CRI over unix sockets only; {_ACCEPTED}"
        )
    elif text.startswith("/"):
        path = text
        if text not in _warned_bare_paths:
            _warned_bare_paths.add(text)
            log.warning("CRI endpoint %r has no scheme; using unix://%s", text, text)
    else:
        raise EndpointError(
            f"invalid CRI endpoint {text!r}: the path is relative; {_ACCEPTED}"
        )
    normalized = os.path.normpath(path)
    if len(os.fsencode(normalized)) > MAX_SOCKET_PATH:
        raise EndpointError(
            f"CRI endpoint path {normalized!r} is {len(os.fsencode(normalized))} bytes "
            f"long; unix sockets allow at most {MAX_SOCKET_PATH}: use a shorter path "
            "or a symlink to the socket's folder"
        )
    return Endpoint(path=normalized)


def socket_answers(path: str, timeout: float = 0.5) -> bool:
    """Return True when something accepts a connection on the unix socket path."""
    if not Path(path).is_socket():
        return False
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(timeout)
        try:
            probe.connect(path)
        except OSError:
            return False
    return True
