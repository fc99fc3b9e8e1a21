"""IPython magics for the lessons: ``%cri`` and ``%%runtime_config``.

Load them in a notebook with ``%load_ext ocilab``::

    %cri ps -a                          # a pandas DataFrame of containers
    frame = %cri -r unix:///run/containerd/containerd.sock pods --state ready
    %cri exec 3f2a sh -c 'id; hostname'

``%cri`` parses its line (split with shlex) with the argument parser of
``ocilab cri``, so its verbs, options and defaults are the CLI's, global
options such as ``-r`` and ``--timeout`` included. The verbs return Python
values instead of printing:

- pods, ps, images, stats, statsp and imagefsinfo return a DataFrame built
  by ocilab.cri.frames; with ``-q`` a list of ids.
- version and status return RuntimeVersion and RuntimeStatus. info,
  runtime-config, call, inspect, inspectp and inspecti return the reply as a
  dict in protobuf's JSON form.
- exec returns an :class:`ExecOutput`, logs the log text (stdout and stderr
  lines in file order), pull the image ref, and runp and create the new id.
- ``-o json`` returns the document that the CLI prints, as a dict, and
  ``-o yaml`` returns the YAML text.
- rmi, start, stop, rm, stopp, rmp and update return the CLI's output as
  :class:`CommandText`. events and ``logs -f`` print as the CLI does while
  they run and return None.

An ocilab error prints one ``error: ...`` line and the magic returns None. A
usage error prints argparse's usage and message, and never raises SystemExit.

``%%runtime_config [NAME] [--for-run] [--explain]`` reads its cell as
config.json, shows what :func:`ocilab.runtime.validate_config` finds, and
returns the :class:`~ocilab.runtime.RuntimeConfig`, or stores it in the
variable NAME.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import io
import json
import keyword
import shlex
import sys
import time
from collections.abc import Callable
from typing import Any

import pandas as pd
from IPython.core.interactiveshell import InteractiveShell
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class
from IPython.display import display

from ._html import code_block, frame_table, heading, key_value_table, paragraph
from .cri import CRIClient, resolve_endpoint
from .cri._api import _decode_verbose
from .cri._format import dump, message_dict
from .cri.cli import (
    _PULL_SECONDS,
    CommandError,
    _credentials,
    _labels,
    _log_path,
    add_cri_commands,
    list_containers_for,
    list_pods_for,
)
from .cri.configs import load_container_config, load_pod_config
from .cri.frames import (
    container_stats_frame,
    containers_frame,
    cpu_rate,
    images_frame,
    pod_stats_frame,
    pods_frame,
)
from .cri.logs import log_text, read_log
from .errors import InvalidRequestError, OcilabError, RuntimeConfigError
from .image._html_views import findings_summary
from .runtime import RuntimeConfig, parse, validate_config
from .runtime.explain import (
    capabilities_frame,
    mounts_frame,
    namespaces_frame,
    resources_frame,
)
from .runtime.validate import ConfigFindings

__all__ = [
    "CommandText",
    "ExecOutput",
    "OcilabMagics",
    "load_ipython_extension",
    "unload_ipython_extension",
]


class CommandText(str):
    """Text that a ``%cri`` verb printed, displayed as is rather than quoted."""

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(self.rstrip("\n"))


@dataclasses.dataclass(frozen=True)
class ExecOutput:
    """The outcome of ``%cri exec``: the command, its exit code and its output.

    stdout and stderr are decoded as UTF-8, with invalid bytes replaced. For
    the bytes themselves, call CRIClient.exec_sync.
    """

    container_id: str
    command: tuple[str, ...]
    exit_code: int
    stdout: str
    stderr: str

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        lines = [self.stdout.rstrip("\n")] if self.stdout else []
        if self.stderr:
            lines.append(f"stderr:\n{self.stderr.rstrip(chr(10))}")
        lines.append(f"exit code {self.exit_code}")
        printer.text("\n".join(lines))

    def _repr_html_(self) -> str:
        colour = "#2e7d32" if self.exit_code == 0 else "#d32f2f"
        parts = [
            key_value_table(
                [
                    ("container", self.container_id),
                    ("command", json.dumps(list(self.command), ensure_ascii=False)),
                ]
            ),
            paragraph(f"exit code {self.exit_code}", colour=colour),
        ]
        if self.stdout:
            parts += [heading("stdout", 5), code_block(self.stdout)]
        if self.stderr:
            parts += [heading("stderr", 5), code_block(self.stderr)]
        return "".join(parts)


# -- argument parsing ---------------------------------------------------------------


class _ParserExit(Exception):
    """Raised instead of SystemExit when argparse has printed help or a usage error."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


class _MagicArgumentParser(argparse.ArgumentParser):
    """An ArgumentParser that raises _ParserExit instead of exiting the kernel.

    add_subparsers passes this class on to every verb's parser, so the verbs
    of ``ocilab cri`` get it too. The ``cri`` parser is renamed "%cri", which
    its verbs' usage lines then start with.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if kwargs.get("prog") == "% cri":
            kwargs["prog"] = "%cri"
        super().__init__(*args, **kwargs)

    def exit(self, status: int = 0, message: str | None = None) -> Any:
        if message:
            sys.stderr.write(message)
        raise _ParserExit(status)


def _cri_parser() -> argparse.ArgumentParser:
    """Build the parser of ``ocilab cri`` again, so option defaults read the environment now."""
    root = _MagicArgumentParser(prog="%")
    commands = root.add_subparsers(dest="command")
    add_cri_commands(commands)
    return commands.choices["cri"]


def _runtime_config_parser() -> argparse.ArgumentParser:
    parser = _MagicArgumentParser(
        prog="%%runtime_config",
        description="Validate the cell as an OCI runtime config (config.json) and "
        "return it as a RuntimeConfig.",
    )
    parser.add_argument(
        "name",
        nargs="?",
        metavar="NAME",
        help="store the RuntimeConfig in this variable instead of returning it",
    )
    parser.add_argument(
        "--for-run",
        action="store_true",
        help="also require what `runc run` needs, such as a process",
    )
    parser.add_argument(
        "--explain",
        action="store_true",
        help="also show the namespaces, mounts, capabilities and resources, "
        "with what each means",
    )
    return parser


def _split(line: str, prog: str) -> list[str] | None:
    """Split a magic's line as a shell would, or print an error and return None.

    shlex raises ValueError for an unbalanced quote or a trailing backslash.
    """
    try:
        return shlex.split(line)
    except ValueError as error:
        print(
            f"{prog}: error: cannot split the line ({error}): close every quote, "
            "or escape a lone quote with a backslash",
            file=sys.stderr,
        )
        return None


# -- %cri verbs ----------------------------------------------------------------------

Handler = Callable[[CRIClient, argparse.Namespace], Any]


def _shaped(output: str, data: Any, table: Callable[[], Any]) -> Any:
    """Return data for -o json, its YAML text for -o yaml, else what table() builds."""
    if output == "json":
        return data
    if output == "yaml":
        return CommandText(dump(data, "yaml") + "\n")
    return table()


def _version(cri: CRIClient, args: argparse.Namespace) -> Any:
    reply = cri.version()
    return _shaped(args.output, dataclasses.asdict(reply), lambda: reply)


def _status(cri: CRIClient, args: argparse.Namespace) -> Any:
    status = cri.status(verbose=args.verbose)
    data = {
        "conditions": [dataclasses.asdict(c) for c in status.conditions],
        "info": status.info,
    }
    return _shaped(args.output, data, lambda: status)


def _call(cri: CRIClient, args: argparse.Namespace) -> Any:
    request = None
    if args.request:
        try:
            request = json.loads(args.request)
        except ValueError as error:
            raise InvalidRequestError(
                f"request {args.request!r} is not valid JSON ({error}); pass an "
                """object such as '{"filter": {"state": {"state": 1}}}'""",
                method=args.method,
            ) from error
    reply = cri.call(args.method, request)
    if hasattr(reply, "DESCRIPTOR"):
        return message_dict(reply)
    return [message_dict(message) for message in reply]


def _info(cri: CRIClient, args: argparse.Namespace) -> Any:
    from .cri.types import decode_info

    reply = cri.runtime.Status(verbose=True)
    # crictl info merges the verbose info keys into the top level, beside "status".
    data = {"status": message_dict(reply.status), **decode_info(dict(reply.info))}
    return _shaped(args.output, data, lambda: data)


def _runtime_config(cri: CRIClient, args: argparse.Namespace) -> Any:
    data = message_dict(cri.runtime_config())
    return _shaped(args.output, data, lambda: data)


def _pods(cri: CRIClient, args: argparse.Namespace) -> Any:
    pods = list_pods_for(cri, args)
    if args.quiet:
        return [pod.id for pod in pods]
    data = {"items": [message_dict(pod) for pod in pods]}
    return _shaped(args.output, data, lambda: pods_frame(pods))


def _ps(cri: CRIClient, args: argparse.Namespace) -> Any:
    containers = list_containers_for(cri, args)
    if args.quiet:
        return [container.id for container in containers]
    data = {"containers": [message_dict(container) for container in containers]}
    return _shaped(
        args.output, data, lambda: containers_frame(containers, cri.list_pods())
    )


def _images(cri: CRIClient, args: argparse.Namespace) -> Any:
    images = cri.list_images(args.image)
    if args.quiet:
        return list(dict.fromkeys(image.id for image in images))
    data = {"images": [message_dict(image) for image in images]}
    return _shaped(args.output, data, lambda: images_frame(images))


def _inspect(cri: CRIClient, args: argparse.Namespace) -> Any:
    reply = cri.container_status(args.container, verbose=True)
    data = {"status": message_dict(reply.status), "info": _decode_verbose(reply.info)}
    return _shaped(args.output, data, lambda: data)


def _inspectp(cri: CRIClient, args: argparse.Namespace) -> Any:
    reply = cri.pod_status(args.pod, verbose=True)
    data = {"status": message_dict(reply.status), "info": _decode_verbose(reply.info)}
    return _shaped(args.output, data, lambda: data)


def _inspecti(cri: CRIClient, args: argparse.Namespace) -> Any:
    reply = cri.image_status(args.image, verbose=True)
    if not reply.image.id:
        raise CommandError(
            f"image {args.image} not found: `%cri images` lists the images present, "
            "and `%cri pull IMAGE` pulls one"
        )
    data = {"status": message_dict(reply.image), "info": _decode_verbose(reply.info)}
    return _shaped(args.output, data, lambda: data)


def _optional_value(message: Any, field: str) -> int | None:
    return int(getattr(message, field).value) if message.HasField(field) else None


def _imagefsinfo(cri: CRIClient, args: argparse.Namespace) -> Any:
    reply = cri.image_fs_info()
    # runtime.v1alpha2 has no container_filesystems field.
    kinds = {"image": "image_filesystems", "container": "container_filesystems"}
    rows = [
        {
            "filesystem": kind,
            "mountpoint": usage.fs_id.mountpoint,
            "used_bytes": _optional_value(usage, "used_bytes"),
            "inodes_used": _optional_value(usage, "inodes_used"),
        }
        for kind, field in kinds.items()
        if field in reply.DESCRIPTOR.fields_by_name
        for usage in getattr(reply, field)
    ]
    columns = ["filesystem", "mountpoint", "used_bytes", "inodes_used"]
    data = {"status": message_dict(reply)}
    return _shaped(args.output, data, lambda: pd.DataFrame(rows, columns=columns))


def _logs(cri: CRIClient, args: argparse.Namespace) -> Any:
    status = cri.container_status(args.container).status
    path = _log_path(status, args.previous)
    try:
        entries = read_log(path, since_ns=args.since, tail=args.tail, errors="skip")
    except OSError as error:
        raise CommandError(f"cannot read log file {path}: {error.strerror}") from error
    return CommandText(log_text(entries, timestamps=args.timestamps))


def _stats(cri: CRIClient, args: argparse.Namespace) -> Any:
    filters = {
        "container_id": args.id or args.container,
        "pod_id": args.pod,
        "label_selector": _labels(args.label),
    }
    # CPU use needs two samples of the cumulative CPU counter.
    first = cri.list_container_stats(**filters)
    time.sleep(args.seconds)
    second = cri.list_container_stats(**filters)
    if not args.all:
        running = {c.id for c in cri.list_containers(state="running")}
        second = [item for item in second if item.attributes.id in running]
    data = {"stats": [message_dict(item) for item in second]}
    return _shaped(args.output, data, lambda: container_stats_frame(second, first))


def _pod_stats_table(current: list[Any], previous: list[Any]) -> pd.DataFrame:
    """Return pod_stats_frame(current) with a cpu_cores column from the two samples."""
    earlier = {item.attributes.id: item for item in previous}
    cores = []
    for item in current:
        before = earlier.get(item.attributes.id)
        cores.append(cpu_rate(before.linux.cpu, item.linux.cpu) if before else None)
    frame = pod_stats_frame(current)
    frame.insert(frame.columns.get_loc("cpu_total_ns"), "cpu_cores", cores)
    return frame


def _statsp(cri: CRIClient, args: argparse.Namespace) -> Any:
    filters = {"pod_id": args.id, "label_selector": _labels(args.label)}
    first = cri.list_pod_stats(**filters)
    time.sleep(args.seconds)
    second = cri.list_pod_stats(**filters)
    data = {"stats": [message_dict(item) for item in second]}
    return _shaped(args.output, data, lambda: _pod_stats_table(second, first))


def _pull(cri: CRIClient, args: argparse.Namespace) -> str:
    username, password = _credentials(args.creds) if args.creds else (None, None)
    sandbox = (
        load_pod_config(args.pod_config, cri.api_version) if args.pod_config else None
    )
    return cri.pull_image(
        args.image,
        username=username,
        password=password,
        auth=args.auth,
        registry_token=args.registry_token,
        sandbox_config=sandbox,
        timeout=max(cri.timeout, _PULL_SECONDS),
    )


def _runp(cri: CRIClient, args: argparse.Namespace) -> str:
    config = load_pod_config(args.config, cri.api_version)
    return cri.run_pod(config, runtime_handler=args.runtime)


def _create(cri: CRIClient, args: argparse.Namespace) -> str:
    container = load_container_config(args.container_config, cri.api_version)
    pod = load_pod_config(args.pod_config, cri.api_version)
    if args.with_pull:
        cri.pull_image(container.image.image, sandbox_config=pod)
    return cri.create_container(args.pod_id, container, pod)


def _exec(cri: CRIClient, args: argparse.Namespace) -> ExecOutput:
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        raise CommandError(
            f"missing command: use `%cri exec {args.container} COMMAND [ARG...]`"
        )
    result = cri.exec_sync(args.container, command, timeout=args.exec_timeout)
    return ExecOutput(
        container_id=args.container,
        command=tuple(command),
        exit_code=result.exit_code,
        stdout=result.stdout.decode(errors="replace"),
        stderr=result.stderr.decode(errors="replace"),
    )


_HANDLERS: dict[str, Handler] = {
    "version": _version,
    "status": _status,
    "call": _call,
    "info": _info,
    "runtime-config": _runtime_config,
    "pods": _pods,
    "ps": _ps,
    "images": _images,
    "inspect": _inspect,
    "inspectp": _inspectp,
    "inspecti": _inspecti,
    "imagefsinfo": _imagefsinfo,
    "logs": _logs,
    "stats": _stats,
    "statsp": _statsp,
    "pull": _pull,
    "runp": _runp,
    "create": _create,
    "exec": _exec,
}


def _run_cli_captured(args: argparse.Namespace) -> CommandText:
    """Run the CLI's handler of a verb and return what it printed to stdout.

    The handler opens a CRIClient of its own and closes it when it returns.
    When it raises, the lines it printed before the error are printed here.
    """
    buffer = io.StringIO()
    try:
        with contextlib.redirect_stdout(buffer):
            args.handler(args)
    except OcilabError:
        sys.stdout.write(buffer.getvalue())
        raise
    return CommandText(buffer.getvalue())


# -- %%runtime_config ----------------------------------------------------------------


def _json_error_text(text: str, error: json.JSONDecodeError) -> str:
    """Describe a JSON syntax error with the line it is on and a caret under the column."""
    lines = text.splitlines() or [""]
    line = lines[min(error.lineno, len(lines)) - 1]
    return (
        f"error: invalid JSON at line {error.lineno} column {error.colno}: "
        f"{error.msg}\n{line}\n{' ' * (error.colno - 1)}^"
    )


def _show_findings(findings: ConfigFindings) -> None:
    lines = [findings_summary(findings), *(str(finding) for finding in findings)]
    display(
        {"text/plain": "\n".join(lines), "text/html": findings._repr_html_()},
        raw=True,
    )


def _show_explanation(config: RuntimeConfig) -> None:
    text: list[str] = []
    html: list[str] = []
    for title, frame in (
        ("Namespaces", namespaces_frame(config)),
        ("Mounts", mounts_frame(config)),
        ("Capabilities", capabilities_frame(config)),
        ("Resources", resources_frame(config)),
    ):
        text += [title, frame.to_string(index=False) if not frame.empty else "(none)"]
        html += [
            heading(title),
            frame_table(frame) if not frame.empty else paragraph("(none)"),
        ]
    display({"text/plain": "\n".join(text), "text/html": "".join(html)}, raw=True)


# -- the magics --------------------------------------------------------------------


@magics_class
class OcilabMagics(Magics):
    """``%cri`` and ``%%runtime_config``, with one CRIClient cached per endpoint.

    The cache key is the endpoint and the options that a CRIClient fixes
    (image endpoint, timeout, API version), so ``-r`` to another socket or
    ``--timeout 30`` each get a client of their own. :meth:`close` closes them.
    """

    def __init__(self, shell: InteractiveShell | None = None) -> None:
        super().__init__(shell)
        self._clients: dict[tuple[str, str | None, float, str | None], CRIClient] = {}

    def close(self) -> None:
        """Close every cached CRIClient. The next %cri opens new ones."""
        for client in self._clients.values():
            client.close()
        self._clients.clear()

    def _client(self, args: argparse.Namespace) -> CRIClient:
        # Resolved on every call, as the CLI does, so a lab started or an
        # environment variable set after the first %cri takes effect.
        endpoint, _ = resolve_endpoint(args.endpoint)
        key = (endpoint.uri, args.image_endpoint, args.timeout, args.api_version)
        client = self._clients.get(key)
        if client is None:
            client = CRIClient(
                args.endpoint,
                image_endpoint=args.image_endpoint,
                timeout=args.timeout,
                api_version=args.api_version,
            )
            self._clients[key] = client
        return client

    @line_magic
    def cri(self, line: str) -> Any:
        """Run a verb of ``ocilab cri`` and return its result as a Python value.

        Usage: ``%cri [-r ENDPOINT] [--timeout SECONDS] VERB [OPTIONS]``, and
        ``%cri --help`` lists the verbs. Lists return DataFrames.
        """
        tokens = _split(line, "%cri")
        if tokens is None:
            return None
        try:
            args = _cri_parser().parse_args(tokens)
        except _ParserExit:
            return None
        try:
            return self._run_verb(args)
        except OcilabError as error:
            print(f"error: {error}", file=sys.stderr)
            return None

    def _run_verb(self, args: argparse.Namespace) -> Any:
        if args.verb == "events" or (args.verb == "logs" and args.follow):
            # These print while they run, until a timeout, the container's
            # stop or an interrupt of the kernel.
            args.handler(args)
            return None
        handler = _HANDLERS.get(args.verb)
        if handler is None:
            return _run_cli_captured(args)
        return handler(self._client(args), args)

    @cell_magic
    def runtime_config(self, line: str, cell: str) -> RuntimeConfig | None:
        """Validate the cell as config.json, show the findings, return the RuntimeConfig.

        Usage: ``%%runtime_config [NAME] [--for-run] [--explain]``.
        """
        tokens = _split(line, "%%runtime_config")
        if tokens is None:
            return None
        parser = _runtime_config_parser()
        try:
            args = parser.parse_args(tokens)
            if args.name is not None and (
                not args.name.isidentifier() or keyword.iskeyword(args.name)
            ):
                parser.error(
                    f"invalid variable name {args.name!r}: use a Python identifier "
                    "such as config"
                )
        except _ParserExit:
            return None
        try:
            config = parse(cell)
        except RuntimeConfigError as error:
            cause = error.__cause__
            if isinstance(cause, json.JSONDecodeError):
                print(_json_error_text(cell, cause), file=sys.stderr)
            else:
                print(f"error: {error}", file=sys.stderr)
            return None
        _show_findings(validate_config(config, for_run=args.for_run))
        if args.explain:
            _show_explanation(config)
        if args.name is not None:
            self.shell.user_ns[args.name] = config
            return None
        return config


def load_ipython_extension(ipython: InteractiveShell) -> None:
    """Register ``%cri`` and ``%%runtime_config`` in an IPython shell."""
    ipython.register_magics(OcilabMagics(ipython))


def unload_ipython_extension(ipython: InteractiveShell) -> None:
    """Remove the magics that load_ipython_extension registered, and close their clients."""
    manager = ipython.magics_manager
    magics = manager.registry.pop(OcilabMagics.__name__, None)
    if not isinstance(magics, OcilabMagics):
        return
    for kind, names in magics.magics.items():
        for name in names:
            registered = manager.magics[kind].get(name)
            if getattr(registered, "__self__", None) is magics:
                del manager.magics[kind][name]
    magics.close()
