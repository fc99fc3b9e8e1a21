"""Exceptions raised by ocilab.

Every error that ocilab raises on purpose derives from :class:`OcilabError`,
so ``except OcilabError`` catches all of them. Errors from other libraries are
translated at one boundary per protocol and kept as ``__cause__``::

    OcilabError
    ├── EndpointError                 an endpoint string is invalid
    ├── CRIError                      a CRI call failed (endpoint, method, code)
    │   ├── CRIConnectionError        no runtime could be reached
    │   │   ├── SocketNotFoundError   the socket file does not exist
    │   │   ├── SocketPermissionError the socket exists but may not be opened
    │   │   └── RuntimeUnavailableError  the socket exists, nobody answers
    │   ├── CRITimeout                the call ran past its deadline
    │   ├── CRIUnimplementedError     the runtime does not implement the method
    │   ├── CRIVersionError           neither runtime.v1 nor runtime.v1alpha2 answered
    │   ├── UnknownMethodError        a method path names no CRI method ocilab knows
    │   ├── InvalidRequestError       a request does not fit the method's message type
    │   └── CRICallError              any other gRPC status (invalid argument, not found…)
    ├── LogFormatError                a CRI log line is malformed
    ├── LogPathError                  a path is not a kubelet container log path
    ├── LabError                      the lab failed to start, stop or respond
    │   ├── PrerequisiteError         a package, privilege or port the lab needs is missing
    │   └── LabNotRunningError        an operation needs a running lab and there is none
    ├── ImageError                    an image, blob or digest is invalid
    │   ├── DigestMismatchError       content does not match its descriptor
    │   └── ValidationError           a document breaks MUST rules (all findings kept)
    ├── RuntimeConfigError            a runtime config.json is invalid (findings kept)
    ├── OCIRuntimeError               an OCI runtime (runc, crun) command failed
    ├── RegistryError                 a registry returned an error (url, status, codes)
    └── NotebookError                 a lesson notebook failed to run
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "CRICallError",
    "CRIConnectionError",
    "CRIError",
    "CRITimeout",
    "CRIUnimplementedError",
    "CRIVersionError",
    "DigestMismatchError",
    "EndpointError",
    "ImageError",
    "LabError",
    "LabNotRunningError",
    "NotebookError",
    "OCIRuntimeError",
    "OcilabError",
    "PrerequisiteError",
    "RegistryError",
    "RuntimeConfigError",
    "RuntimeUnavailableError",
    "SocketNotFoundError",
    "SocketPermissionError",
    "UnknownMethodError",
    "ValidationError",
    "InvalidRequestError",
    "LogFormatError",
    "LogPathError",
]


class OcilabError(Exception):
    """Base class of every error that ocilab raises on purpose."""


class EndpointError(OcilabError, ValueError):
    """Raised when a CRI endpoint string is empty, relative or of an unknown scheme."""


class CRIError(OcilabError):
    """Raised when a CRI call fails.

    ``endpoint`` is the gRPC target, ``method`` the full method path (or None
    when no call was made yet) and ``code`` the gRPC status code name.
    """

    def __init__(
        self,
        message: str,
        *,
        endpoint: str | None = None,
        method: str | None = None,
        code: str | None = None,
        details: str | None = None,
    ) -> None:
        super().__init__(message)
        self.endpoint = endpoint
        self.method = method
        self.code = code
        self.details = details


class CRIConnectionError(CRIError):
    """Raised when no runtime could be reached on the endpoint."""


class SocketNotFoundError(CRIConnectionError):
    """Raised when the endpoint's socket file does not exist."""


class SocketPermissionError(CRIConnectionError):
    """Raised when the socket exists but this process may not connect to it."""


class RuntimeUnavailableError(CRIConnectionError):
    """Raised when the socket exists but the runtime behind it does not respond."""


class CRITimeout(CRIError):
    """Raised when a CRI call runs past its deadline."""


class CRIUnimplementedError(CRIError):
    """Raised when the runtime does not implement the method that was called."""


class CRIVersionError(CRIError):
    """Raised when the endpoint serves neither runtime.v1 nor runtime.v1alpha2."""


class UnknownMethodError(CRIError, LookupError):
    """Raised when a method path names no method of runtime.v1 or runtime.v1alpha2."""


class InvalidRequestError(CRIError, ValueError):
    """Raised when a request dict or message does not fit the method's request type."""


class CRICallError(CRIError):
    """Raised for any other gRPC status: invalid argument, not found, internal…"""


class LogFormatError(OcilabError, ValueError):
    """Raised when a CRI log line is malformed."""


class LogPathError(OcilabError, ValueError):
    """Raised when a path is not a kubelet container log path of the expected form."""


class LabError(OcilabError):
    """Raised when the lab fails to start, stop or respond.

    ``stderr_tail`` contains the last lines a lab process wrote, when one failed.
    """

    def __init__(self, message: str, *, stderr_tail: str | None = None) -> None:
        if stderr_tail:
            message = f"{message}\n--- last lines of its log ---\n{stderr_tail}"
        super().__init__(message)
        self.stderr_tail = stderr_tail


class PrerequisiteError(LabError):
    """Raised when a package, privilege or port that the lab needs is missing."""


class LabNotRunningError(LabError):
    """Raised when an operation needs a running lab and none is running."""


class ImageError(OcilabError):
    """Raised when an image, blob or digest is invalid."""


class DigestMismatchError(ImageError):
    """Raised when content does not match the digest or size of its descriptor."""

    def __init__(self, message: str, *, expected: str, actual: str) -> None:
        super().__init__(message)
        self.expected = expected
        self.actual = actual


class ValidationError(ImageError):
    """Raised when a document breaks at least one MUST rule of its spec.

    ``findings`` contains every finding, SHOULD ones included; the message
    lists each MUST finding on a line of its own.
    """

    def __init__(self, findings: Any) -> None:
        self.findings = findings
        errors = [finding for finding in findings if finding.level == "MUST"]
        lines = "\n".join(str(finding) for finding in errors)
        super().__init__(f"invalid document: {len(errors)} MUST finding(s)\n{lines}")


class RuntimeConfigError(OcilabError, ValueError):
    """Raised when a runtime config cannot be read or breaks a MUST rule.

    ``findings`` contains every finding of the validation that failed, or is
    empty when the text could not be read as a JSON object at all.
    """

    def __init__(self, message: str, *, findings: Any = ()) -> None:
        super().__init__(message)
        self.findings = findings


class OCIRuntimeError(OcilabError):
    """Raised when an OCI runtime command fails, times out or cannot be started.

    ``runtime`` is the runtime's name, ``command`` the full argument list,
    ``returncode`` the exit status (None after a timeout) and ``stderr`` the
    runtime's error output. The message is the runtime's own error message.
    """

    def __init__(
        self,
        message: str,
        *,
        runtime: str,
        command: list[str],
        returncode: int | None,
        stderr: str,
    ) -> None:
        super().__init__(message)
        self.runtime = runtime
        self.command = command
        self.returncode = returncode
        self.stderr = stderr


class RegistryError(OcilabError):
    """Raised when a registry replies with an error status.

    ``errors`` contains the OCI error objects of the body (code, message, detail).
    """

    def __init__(
        self,
        message: str,
        *,
        url: str,
        status: int,
        errors: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(message)
        self.url = url
        self.status = status
        self.errors = errors or []

    @property
    def codes(self) -> list[str]:
        """The ``code`` of each OCI error object in the body."""
        return [str(error.get("code", "")) for error in self.errors]


class NotebookError(OcilabError):
    """Raised when a lesson notebook fails to run."""
