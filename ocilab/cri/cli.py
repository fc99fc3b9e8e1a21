"""crictl's verbs under ``ocilab cri``, built on ocilab's typed CRI methods.

Global options go before the verb, as in crictl::

    ocilab cri -r unix:///run/containerd/containerd.sock ps -a -o json
    ocilab cri --timeout 30 logs --tail 20 -t 3f2a

Every verb that prints data takes ``-o table|json|yaml``. JSON and YAML hold
the CRI reply messages in protobuf's JSON form with proto field names, inside
the same top-level keys that crictl uses (``items`` for pods, ``containers``
for ps, ``images``, ``stats``). ocilab errors print ``error: <message>`` and
exit 2 (ocilab.cli.main does that). Stopping or removing an object that does
not exist prints "... not found; nothing to ..." and succeeds, because the CRI
treats those calls as idempotent.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import getpass
import json
import math
import os
import re
import sys
import threading
import time
from collections.abc import Callable, Iterable
from fractions import Fraction
from typing import Any

from ..errors import CRIError, InvalidRequestError, LogFormatError, OcilabError
from ._api import CONTAINER_STATES, POD_STATES, _decode_verbose
from ._format import (
    OUTPUT_FORMATS,
    display_id,
    dump,
    format_pairs,
    format_table,
    human_size,
    message_dict,
    relative_time,
    split_image_reference,
)
from .client import CRIClient
from .configs import load_container_config, load_pod_config
from .logs import (
    follow_log,
    format_timestamp,
    log_text,
    parse_timestamp,
    previous_log_path,
    read_log,
)
from .types import decode_info

__all__ = [
    "CommandError",
    "add_cri_commands",
    "list_containers_for",
    "list_pods_for",
    "parse_since",
    "positive_seconds",
]

# CONTAINER_RUNNING and SANDBOX_READY in both API packages.
_RUNNING = 1
_READY = 0
_NS_PER_SECOND = 1_000_000_000
# How often `logs -f` checks whether the container still runs.
_FOLLOW_CHECK_SECONDS = 1.0
# The minimum deadline of PullImage, because a pull can outlast --timeout's default.
_PULL_SECONDS = 300.0
# `events` streams for this long unless --timeout or Ctrl-C ends it sooner.
_DEFAULT_EVENTS_SECONDS = 86400.0
_GO_DURATION_UNITS_NS = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,  # U+00B5 MICRO SIGN
    "μs": 1_000,  # U+03BC GREEK SMALL LETTER MU, which Go accepts too
    "ms": 1_000_000,
    "s": _NS_PER_SECOND,
    "m": 60 * _NS_PER_SECOND,
    "h": 3600 * _NS_PER_SECOND,
}
_GO_DURATION_PART = re.compile(r"([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h)")
_GO_DURATION = re.compile(f"(?:{_GO_DURATION_PART.pattern})+")


class CommandError(OcilabError):
    """Raised when a cri verb cannot proceed, though no CRI call failed."""


# -- argument types -----------------------------------------------------------


def positive_seconds(text: str) -> float:
    """Parse a number of seconds that is finite and above 0 (an argparse type)."""
    value = float(text)
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(
            f"invalid number of seconds {text!r}: use a finite number above 0"
        )
    return value


def _count(minimum: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = minimum - 1
        if value < minimum:
            raise argparse.ArgumentTypeError(
                f"invalid value {text!r}: use a whole number >= {minimum}"
            )
        return value

    return parse


def _label(text: str) -> tuple[str, str]:
    key, separator, value = text.partition("=")
    if not separator or not key:
        raise argparse.ArgumentTypeError(
            f"invalid label {text!r}: use KEY=VALUE, such as app=web"
        )
    return key, value


def parse_since(text: str, now_ns: int | None = None) -> int:
    """Convert --since to nanoseconds since the epoch (an argparse type).

    The value is an RFC 3339 time (2024-05-01T10:00:00Z) or a Go duration
    before now (10s, 5m, 1h30m, 250ms), as crictl logs --since accepts.
    """
    if _GO_DURATION.fullmatch(text):
        duration_ns = sum(
            Fraction(number) * _GO_DURATION_UNITS_NS[unit]
            for number, unit in _GO_DURATION_PART.findall(text)
        )
        now = time.time_ns() if now_ns is None else now_ns
        return now - int(duration_ns)
    try:
        return parse_timestamp(text)
    except LogFormatError as error:
        raise argparse.ArgumentTypeError(
            f"invalid --since {text!r}: give an RFC 3339 time such as "
            "2024-05-01T10:00:00Z, or a duration such as 10s, 5m or 1h30m"
        ) from error


def _labels(pairs: list[tuple[str, str]] | None) -> dict[str, str] | None:
    return dict(pairs) if pairs else None


def _credentials(creds: str) -> tuple[str, str]:
    """Split --creds USERNAME[:PASSWORD], prompting for a left-out password."""
    username, separator, password = creds.partition(":")
    if not username:
        raise CommandError(
            "invalid --creds: use USERNAME:PASSWORD (the value is not shown, "
            "because it may contain a password)"
        )
    if separator:
        return username, password
    if not sys.stdin.isatty():
        raise CommandError(
            f"--creds {username!r} has no password and stdin is not a terminal "
            "to ask for one: use --creds USERNAME:PASSWORD"
        )
    return username, getpass.getpass(f"password for {username}: ")


# -- shared plumbing ------------------------------------------------------------


def _client(args: argparse.Namespace) -> CRIClient:
    return CRIClient(
        args.endpoint,
        image_endpoint=args.image_endpoint,
        timeout=args.timeout,
        api_version=args.api_version,
    )


def _show(output: str, data: Any, table: Callable[[], str]) -> None:
    """Print data as JSON or YAML, or the table that table() builds."""
    print(table() if output == "table" else dump(data, output))


def _print_lines(lines: Iterable[str]) -> None:
    for line in lines:
        print(line)


def _newest_first(items: Iterable[Any]) -> list[Any]:
    return sorted(items, key=lambda item: item.created_at, reverse=True)


def _enum_name(message: Any, field: str) -> str:
    descriptor = message.DESCRIPTOR.fields_by_name[field].enum_type
    number = getattr(message, field)
    value = descriptor.values_by_number.get(number)
    return value.name if value is not None else str(number)


# -- runtime: version, status, info, runtime-config --------------------------------


def _version(args: argparse.Namespace) -> int:
    with _client(args) as cri:
        reply = cri.version()
    pairs = [
        ("Version", reply.version),
        ("RuntimeName", reply.runtime_name),
        ("RuntimeVersion", reply.runtime_version),
        ("RuntimeApiVersion", reply.runtime_api_version),
        ("ApiPackage", reply.api_package),
        ("Endpoint", reply.endpoint),
    ]
    _show(args.output, dataclasses.asdict(reply), lambda: format_pairs(pairs))
    return 0


def _conditions_table(conditions: Iterable[Any]) -> str:
    rows = [(c.type, c.status, c.reason, c.message) for c in conditions]
    return format_table(("CONDITION", "STATUS", "REASON", "MESSAGE"), rows)


def _status(args: argparse.Namespace) -> int:
    """Print the runtime's conditions, and exit 1 when one of them is false."""
    with _client(args) as cri:
        status = cri.status(verbose=args.verbose)
    data = {
        "conditions": [dataclasses.asdict(c) for c in status.conditions],
        "info": status.info,
    }
    _show(args.output, data, lambda: _conditions_table(status.conditions))
    return 0 if status.ready else 1


def _call(args: argparse.Namespace) -> int:
    """Call a method by its full path and print each reply as JSON."""
    request = None
    if args.request:
        try:
            request = json.loads(args.request)
        except ValueError as error:
            raise InvalidRequestError(
                f"request {args.request!r} is not valid JSON ({error}); "
                """pass an object such as '{"filter": {"state": {"state": 1}}}'""",
                method=args.method,
            ) from error
    with _client(args) as cri:
        reply = cri.call(args.method, request)
        replies = reply if not hasattr(reply, "DESCRIPTOR") else [reply]
        for message in replies:
            print(dump(message_dict(message), "json"))
    return 0


def _info(args: argparse.Namespace) -> int:
    with _client(args) as cri:
        reply = cri.runtime.Status(verbose=True)
    # crictl info merges the verbose info keys into the top level, beside "status".
    data = {"status": message_dict(reply.status), **decode_info(dict(reply.info))}

    def table() -> str:
        keys = ", ".join(sorted(reply.info)) or "none"
        return (
            f"{_conditions_table(reply.status.conditions)}\n\n"
            f"verbose info: {keys} (print them with -o json or -o yaml)"
        )

    _show(args.output, data, table)
    return 0


def _runtime_config(args: argparse.Namespace) -> int:
    with _client(args) as cri:
        reply = cri.runtime_config()
    pairs = [("CgroupDriver", _enum_name(reply.linux, "cgroup_driver"))]
    _show(args.output, message_dict(reply), lambda: format_pairs(pairs))
    return 0


# -- listings: pods, ps, images ------------------------------------------------------


def list_pods_for(cri: CRIClient, args: argparse.Namespace) -> list[Any]:
    """List pods with the filters of `pods`' options, newest first."""
    pods = cri.list_pods(
        pod_id=args.id,
        state=args.state,
        label_selector=_labels(args.label),
        name=args.name,
        namespace=args.namespace,
        latest=args.latest,
        last=args.last,
    )
    return _newest_first(pods)


def list_containers_for(cri: CRIClient, args: argparse.Namespace) -> list[Any]:
    """List containers with the filters of `ps`' options, newest first.

    Like crictl, only running containers unless -a or --state is given.
    """
    state = args.state or (None if args.all else "running")
    containers = cri.list_containers(
        container_id=args.id,
        pod_id=args.pod,
        state=state,
        label_selector=_labels(args.label),
        name=args.name,
        namespace=args.namespace,
        image=args.image,
        latest=args.latest,
        last=args.last,
    )
    return _newest_first(containers)


def _pods(args: argparse.Namespace) -> int:
    with _client(args) as cri:
        pods = list_pods_for(cri, args)
    if args.quiet:
        _print_lines(pod.id for pod in pods)
        return 0
    data = {"items": [message_dict(pod) for pod in pods]}
    _show(args.output, data, lambda: _pods_table(pods, args.no_trunc))
    return 0


def _pods_table(pods: list[Any], no_trunc: bool) -> str:
    from .frames import pods_frame  # pandas: imported only for tables

    frame = pods_frame(pods)
    headers = ("POD ID", "CREATED", "STATE", "NAME", "NAMESPACE", "ATTEMPT", "RUNTIME")
    rows = [
        (
            display_id(row.id, no_trunc),
            relative_time(row.created),
            row.state,
            row.name,
            row.namespace,
            row.attempt,
            row.runtime_handler or "(default)",
        )
        for row in frame.itertuples()
    ]
    return format_table(headers, rows)


def _ps(args: argparse.Namespace) -> int:
    with _client(args) as cri:
        containers = list_containers_for(cri, args)
        pods = cri.list_pods() if args.output == "table" and not args.quiet else []
    if args.quiet:
        _print_lines(container.id for container in containers)
        return 0
    data = {"containers": [message_dict(container) for container in containers]}
    table = functools.partial(_containers_table, containers, pods, args.no_trunc)
    _show(args.output, data, table)
    return 0


def _containers_table(containers: list[Any], pods: list[Any], no_trunc: bool) -> str:
    from .frames import containers_frame

    frame = containers_frame(containers, pods)
    headers = (
        "CONTAINER", "IMAGE", "CREATED", "STATE", "NAME", "ATTEMPT", "POD ID", "POD",
    )  # fmt: skip
    rows = [
        (
            display_id(row.id, no_trunc),
            # containerd reports the image as the reference the config named;
            # other runtimes may report an image id, which is cut like any id.
            display_id(row.image, no_trunc)
            if row.image.startswith("sha256:")
            else row.image,
            relative_time(row.created),
            row.state,
            row.name,
            row.attempt,
            display_id(row.full_pod_id, no_trunc),
            row.pod_name or "",
        )
        for row in frame.itertuples()
    ]
    return format_table(headers, rows)


def _images(args: argparse.Namespace) -> int:
    with _client(args) as cri:
        images = cri.list_images(args.image)
    if args.quiet:
        _print_lines(dict.fromkeys(image.id for image in images))
        return 0
    data = {"images": [message_dict(image) for image in images]}
    table = functools.partial(_images_table, images, args.digests, args.no_trunc)
    _show(args.output, data, table)
    return 0


def _images_table(images: list[Any], digests: bool, no_trunc: bool) -> str:
    headers = ["IMAGE", "TAG"] + (["DIGEST"] if digests else []) + ["IMAGE ID", "SIZE"]
    rows = []
    for image in images:
        repository_digests = [d.partition("@") for d in image.repo_digests]
        digest_repository = repository_digests[0][0] if repository_digests else ""
        digest = repository_digests[0][2] if repository_digests else ""
        names = list(image.repo_tags) or [f"{digest_repository}:<none>"]
        for name in names:
            repository, tag = split_image_reference(name)
            row = [repository or "<none>", tag]
            if digests:
                row.append(display_id(digest, no_trunc) if digest else "<none>")
            row += [display_id(image.id, no_trunc), human_size(image.size)]
            rows.append(row)
    return format_table(headers, rows)


# -- inspect, inspectp, inspecti, imagefsinfo -----------------------------------------


def _inspect(args: argparse.Namespace) -> int:
    with _client(args) as cri:
        reply = cri.container_status(args.container, verbose=True)
    info = _decode_verbose(reply.info)
    data = {"status": message_dict(reply.status), "info": info}
    _show(args.output, data, lambda: _container_pairs(reply.status, info))
    return 0


def _container_pairs(status: Any, info: dict[str, Any]) -> str:
    finished = relative_time(status.finished_at)
    return format_pairs(
        [
            ("ID", status.id),
            ("Name", status.metadata.name),
            ("Attempt", status.metadata.attempt),
            ("State", CONTAINER_STATES.get(status.state, str(status.state))),
            ("Created", relative_time(status.created_at)),
            ("Started", relative_time(status.started_at)),
            ("Finished", finished),
            ("Exit Code", status.exit_code if finished else ""),
            ("Reason", status.reason),
            ("Image", status.image.image),
            ("Image Ref", status.image_ref),
            ("Pod ID", info.get("sandboxID", "")),
            ("PID", info.get("pid", "")),
            ("Log Path", status.log_path),
        ]
    )


def _inspectp(args: argparse.Namespace) -> int:
    with _client(args) as cri:
        reply = cri.pod_status(args.pod, verbose=True)
    data = {"status": message_dict(reply.status), "info": _decode_verbose(reply.info)}
    _show(args.output, data, lambda: _pod_pairs(reply.status))
    return 0


def _pod_pairs(status: Any) -> str:
    labels = ", ".join(f"{key}={value}" for key, value in sorted(status.labels.items()))
    return format_pairs(
        [
            ("ID", status.id),
            ("Name", status.metadata.name),
            ("Namespace", status.metadata.namespace),
            ("UID", status.metadata.uid),
            ("Attempt", status.metadata.attempt),
            ("State", POD_STATES.get(status.state, str(status.state))),
            ("Created", relative_time(status.created_at)),
            ("IP", status.network.ip),
            ("Runtime Handler", status.runtime_handler or "(default)"),
            ("Labels", labels),
        ]
    )


def _inspecti(args: argparse.Namespace) -> int:
    with _client(args) as cri:
        reply = cri.image_status(args.image, verbose=True)
    image = reply.image
    if not image.id:
        raise CommandError(
            f"image {args.image} not found: `ocilab cri images` lists the images "
            "present, and `ocilab cri pull IMAGE` pulls one"
        )
    data = {"status": message_dict(image), "info": _decode_verbose(reply.info)}
    pairs = [
        ("ID", image.id),
        ("Tags", ", ".join(image.repo_tags)),
        ("Digests", ", ".join(image.repo_digests)),
        ("Size", human_size(image.size)),
        ("User", image.username or (image.uid.value if image.HasField("uid") else "")),
    ]
    _show(args.output, data, lambda: format_pairs(pairs))
    return 0


def _imagefsinfo(args: argparse.Namespace) -> int:
    with _client(args) as cri:
        reply = cri.image_fs_info()
    # runtime.v1alpha2 has no container_filesystems field.
    kinds = {"image": "image_filesystems", "container": "container_filesystems"}
    filesystems = [
        (kind, usage)
        for kind, field in kinds.items()
        if field in reply.DESCRIPTOR.fields_by_name
        for usage in getattr(reply, field)
    ]
    rows = [
        (
            kind,
            usage.fs_id.mountpoint,
            human_size(usage.used_bytes.value),
            usage.inodes_used.value,
        )
        for kind, usage in filesystems
    ]
    headers = ("FILESYSTEM", "MOUNTPOINT", "USED", "INODES")
    _show(
        args.output,
        {"status": message_dict(reply)},
        lambda: format_table(headers, rows),
    )
    return 0


# -- logs -------------------------------------------------------------------------


def _logs(args: argparse.Namespace) -> int:
    if args.previous and args.follow:
        raise CommandError(
            "--previous and --follow cannot be combined: the previous attempt's "
            "log no longer grows"
        )
    with _client(args) as cri:
        status = cri.container_status(args.container).status
        path = _log_path(status, args.previous)
        if args.follow:
            _follow_logs(cri, status.id, path, args)
            return 0
    try:
        entries = read_log(path, since_ns=args.since, tail=args.tail, errors="skip")
    except OSError as error:
        raise CommandError(f"cannot read log file {path}: {error.strerror}") from error
    _write_entries(entries, args.timestamps, flush=False)
    return 0


def _log_path(status: Any, previous: bool) -> str:
    if not status.log_path:
        raise CommandError(
            f"container {status.id} has no log file: its config set no log_path, "
            "or its pod config no log_directory"
        )
    return previous_log_path(status.log_path) if previous else status.log_path


def _write_entries(entries: Iterable[Any], timestamps: bool, *, flush: bool) -> None:
    """Write stdout entries to stdout and stderr entries to stderr, as crictl does."""
    previous = None
    for entry in entries:
        target = sys.stderr if entry.stream == "stderr" else sys.stdout
        if previous is not None and target is not previous:
            previous.flush()
        target.write(log_text([entry], timestamps=timestamps))
        if flush:
            target.flush()
        previous = target
    if previous is not None:
        previous.flush()


def _follow_logs(
    cri: CRIClient, container_id: str, path: str, args: argparse.Namespace
) -> None:
    """Print the log as it grows until the container stops running or Ctrl-C."""
    try:
        existing = read_log(path, since_ns=args.since, errors="skip")
    except OSError as error:
        raise CommandError(f"cannot read log file {path}: {error.strerror}") from error
    # --tail N skips all but the last N entries that the file has now.
    # NOTE: a rotation between this read and follow_log's start makes the
    # count refer to the old file, so the output may start at the wrong entry.
    skip = max(len(existing) - args.tail, 0) if args.tail is not None else 0
    stop = threading.Event()
    watcher = threading.Thread(
        target=_stop_when_not_running, args=(cri, container_id, stop), daemon=True
    )
    watcher.start()
    try:
        kept = (
            entry
            for entry in follow_log(path, stop=stop, errors="skip")
            if args.since is None or entry.timestamp_ns >= args.since
        )
        for index, entry in enumerate(kept):
            if index >= skip:
                _write_entries([entry], args.timestamps, flush=True)
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        watcher.join()


def _stop_when_not_running(
    cri: CRIClient, container_id: str, stop: threading.Event
) -> None:
    while not stop.wait(_FOLLOW_CHECK_SECONDS):
        try:
            state = cri.container_status(container_id).status.state
        except CRIError:
            state = None
        if state != _RUNNING:
            stop.set()


# -- stats, statsp, events -----------------------------------------------------------


def _stats(args: argparse.Namespace) -> int:
    filters = {
        "container_id": args.id or args.container,
        "pod_id": args.pod,
        "label_selector": _labels(args.label),
    }
    with _client(args) as cri:
        # CPU % needs two samples of the cumulative CPU counter.
        first = cri.list_container_stats(**filters)
        time.sleep(args.seconds)
        second = cri.list_container_stats(**filters)
        if not args.all:
            running = {c.id for c in cri.list_containers(state="running")}
            second = [item for item in second if item.attributes.id in running]
    data = {"stats": [message_dict(item) for item in second]}
    _show(args.output, data, lambda: _stats_table(second, first))
    return 0


def _missing(value: float | None) -> bool:
    # Frames hold None, or NaN in a numeric column, for a value the runtime did not set.
    return value is None or math.isnan(value)


def _cpu_percent(cores: float | None) -> str:
    return "-" if _missing(cores) else f"{cores * 100:.2f}"


def _stats_table(current: list[Any], previous: list[Any]) -> str:
    from .frames import container_stats_frame

    frame = container_stats_frame(current, previous)
    rows = [
        (
            row.container_id,
            row.name,
            _cpu_percent(row.cpu_cores),
            human_size(row.memory_working_set_bytes),
            human_size(row.writable_layer_bytes),
            "-" if _missing(row.writable_layer_inodes)
            else int(row.writable_layer_inodes),
        )
        for row in frame.itertuples()
    ]  # fmt: skip
    headers = ("CONTAINER", "NAME", "CPU %", "MEM", "DISK", "INODES")
    return format_table(headers, rows)


def _statsp(args: argparse.Namespace) -> int:
    filters = {"pod_id": args.id, "label_selector": _labels(args.label)}
    with _client(args) as cri:
        first = cri.list_pod_stats(**filters)
        time.sleep(args.seconds)
        second = cri.list_pod_stats(**filters)
    data = {"stats": [message_dict(item) for item in second]}
    _show(args.output, data, lambda: _pod_stats_table(second, first))
    return 0


def _pod_stats_table(current: list[Any], previous: list[Any]) -> str:
    from .frames import cpu_rate

    earlier = {item.attributes.id: item for item in previous}
    rows = []
    for item in current:
        before = earlier.get(item.attributes.id)
        cores = cpu_rate(before.linux.cpu, item.linux.cpu) if before else None
        memory = item.linux.memory
        rows.append(
            (
                item.attributes.metadata.name,
                display_id(item.attributes.id, False),
                _cpu_percent(cores),
                human_size(
                    memory.working_set_bytes.value
                    if memory.HasField("working_set_bytes")
                    else None
                ),
            )
        )
    return format_table(("POD", "POD ID", "CPU %", "MEM"), rows)


def _events(args: argparse.Namespace) -> int:
    with _client(args) as cri:
        try:
            for event in cri.container_events(timeout=args.events_timeout):
                _print_event(event, args.output)
        except KeyboardInterrupt:
            pass
    return 0


def _print_event(event: Any, output: str) -> None:
    if output == "table":
        line = (
            f"{format_timestamp(event.created_at)}   "
            f"{_enum_name(event, 'container_event_type'):<24} "
            f"{display_id(event.container_id, False)}   "
            f"{event.pod_sandbox_status.metadata.name}"
        )
    else:
        line = dump(message_dict(event), output)
        if output == "yaml":
            line = f"---\n{line}"
    print(line, flush=True)


# -- images: pull, rmi -------------------------------------------------------------


def _pull(args: argparse.Namespace) -> int:
    username, password = _credentials(args.creds) if args.creds else (None, None)
    with _client(args) as cri:
        sandbox = (
            load_pod_config(args.pod_config, cri.api_version)
            if args.pod_config
            else None
        )
        image_ref = cri.pull_image(
            args.image,
            username=username,
            password=password,
            auth=args.auth,
            registry_token=args.registry_token,
            sandbox_config=sandbox,
            timeout=max(args.timeout, _PULL_SECONDS),
        )
    print(f"Image is up to date for {image_ref}")
    return 0


def _rmi(args: argparse.Namespace) -> int:
    with _client(args) as cri:
        for image in args.images:
            # containerd removes every tag of the image, not only the one given.
            tags = list(cri.image_status(image).image.repo_tags) or [image]
            if not cri.remove_image(image):
                print(f"image {image} not found; nothing to remove")
                continue
            for tag in tags:
                print(f"Deleted: {tag}")
    return 0


# -- pods and containers: runp, create, start, stop, rm, stopp, rmp ------------------


def _runp(args: argparse.Namespace) -> int:
    with _client(args) as cri:
        config = load_pod_config(args.config, cri.api_version)
        print(cri.run_pod(config, runtime_handler=args.runtime))
    return 0


def _create(args: argparse.Namespace) -> int:
    with _client(args) as cri:
        container = load_container_config(args.container_config, cri.api_version)
        pod = load_pod_config(args.pod_config, cri.api_version)
        if args.with_pull:
            cri.pull_image(container.image.image, sandbox_config=pod)
        print(cri.create_container(args.pod_id, container, pod))
    return 0


def _start(args: argparse.Namespace) -> int:
    with _client(args) as cri:
        for container_id in args.ids:
            cri.start_container(container_id)
            print(container_id)
    return 0


def _stop(args: argparse.Namespace) -> int:
    with _client(args) as cri:
        for container_id in args.ids:
            if cri.stop_container(container_id, grace_period=args.grace_period):
                print(container_id)
            else:
                print(f"container {container_id} not found; nothing to stop")
    return 0


def _rm(args: argparse.Namespace) -> int:
    with _client(args) as cri:
        for container_id in args.ids:
            found = cri.list_containers(container_id=container_id)
            if not found:
                print(f"container {container_id} not found; nothing to remove")
                continue
            if found[0].state == _RUNNING:
                if not args.force:
                    raise CommandError(
                        f"container {container_id} is running: stop it first "
                        f"(`ocilab cri stop {container_id}`), or remove it with -f"
                    )
                cri.stop_container(container_id, grace_period=0)
            cri.remove_container(container_id)
            print(container_id)
    return 0


def _stopp(args: argparse.Namespace) -> int:
    with _client(args) as cri:
        for pod_id in args.ids:
            if cri.stop_pod(pod_id):
                print(f"Stopped sandbox {pod_id}")
            else:
                print(f"pod {pod_id} not found; nothing to stop")
    return 0


def _rmp(args: argparse.Namespace) -> int:
    with _client(args) as cri:
        for pod_id in args.ids:
            found = cri.list_pods(pod_id=pod_id)
            if not found:
                print(f"pod {pod_id} not found; nothing to remove")
                continue
            if found[0].state == _READY:
                if not args.force:
                    raise CommandError(
                        f"pod {pod_id} is ready (running): stop it first "
                        f"(`ocilab cri stopp {pod_id}`), or remove it with -f"
                    )
                cri.stop_pod(pod_id)
            cri.remove_pod(pod_id)
            print(f"Removed sandbox {pod_id}")
    return 0


# -- exec, update ------------------------------------------------------------------


def _exec(args: argparse.Namespace) -> int:
    """Run a command with ExecSync, and return its exit code as the command's own."""
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        raise CommandError(
            f"missing command: use `ocilab cri exec {args.container} COMMAND [ARG...]`"
        )
    with _client(args) as cri:
        result = cri.exec_sync(args.container, command, timeout=args.exec_timeout)
    sys.stdout.buffer.write(result.stdout)
    sys.stdout.flush()
    sys.stderr.buffer.write(result.stderr)
    sys.stderr.flush()
    return result.exit_code


def _update(args: argparse.Namespace) -> int:
    resources = {
        field: value
        for field, value in (
            ("cpu_shares", args.cpu_shares),
            ("cpu_quota", args.cpu_quota),
            ("cpu_period", args.cpu_period),
            ("memory_limit_in_bytes", args.memory),
            ("cpuset_cpus", args.cpuset_cpus),
            ("cpuset_mems", args.cpuset_mems),
        )
        if value is not None
    }
    if not resources:
        raise CommandError(
            "nothing to update: give at least one of --cpu-shares, --cpu-quota, "
            "--cpu-period, --memory, --cpuset-cpus, --cpuset-mems"
        )
    with _client(args) as cri:
        for container_id in args.ids:
            cri.update_container_resources(container_id, resources)
            print(container_id)
    return 0


# -- parsers ------------------------------------------------------------------------


def _add_connection_options(
    parser: argparse.ArgumentParser, *, after_verb: bool = False
) -> None:
    """Add crictl's global options.

    With after_verb, an option left out keeps the value given before the verb.
    """

    def default(value: Any) -> Any:
        return argparse.SUPPRESS if after_verb else value

    parser.add_argument(
        "-r",
        "--runtime-endpoint",
        "--endpoint",
        dest="endpoint",
        metavar="ENDPOINT",
        default=default(None),
        help="CRI socket, unix:///path or /path (default: "
        "$CONTAINER_RUNTIME_ENDPOINT, then the running lab, then the usual "
        "containerd, CRI-O and cri-dockerd sockets)",
    )
    parser.add_argument(
        "-i",
        "--image-endpoint",
        metavar="ENDPOINT",
        default=default(os.environ.get("IMAGE_SERVICE_ENDPOINT") or None),
        help="socket of the image service when it is not the runtime's "
        "(default: $IMAGE_SERVICE_ENDPOINT, else the runtime endpoint)",
    )
    parser.add_argument(
        "--timeout",
        type=positive_seconds,
        default=default(10.0),
        help="deadline of each CRI call in seconds (default: 10)",
    )
    parser.add_argument(
        "--api-version",
        choices=("v1", "v1alpha2"),
        default=default(None),
        help="CRI API package to call, skipping negotiation (default: runtime.v1 "
        "when the runtime serves it, else runtime.v1alpha2)",
    )


def _add_output_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-o",
        "--output",
        choices=OUTPUT_FORMATS,
        default="table",
        help="output format (default: table)",
    )


def _add_list_options(parser: argparse.ArgumentParser, kind: str) -> None:
    """Add the filters that crictl pods and crictl ps share."""
    parser.add_argument("--id", help=f"show only the {kind} with this id or id prefix")
    parser.add_argument(
        "--name", help=f"show only {kind}s whose name matches this regular expression"
    )
    parser.add_argument(
        "--namespace",
        help=f"show only {kind}s whose pod namespace matches this regular expression",
    )
    parser.add_argument(
        "--label",
        type=_label,
        action="append",
        metavar="KEY=VALUE",
        help="show only objects with this label (repeatable; all must match)",
    )
    parser.add_argument(
        "-l", "--latest", action="store_true", help=f"show only the newest {kind}"
    )
    parser.add_argument(
        "-n",
        "--last",
        type=_count(1),
        metavar="N",
        help=f"show only the N newest {kind}s",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="print only ids")
    parser.add_argument(
        "--no-trunc", action="store_true", help="print whole ids in the table"
    )
    _add_output_option(parser)


def _add_legacy_verbs(verbs: Any) -> None:
    version = verbs.add_parser("version", help="print the runtime's name and version")
    _add_connection_options(version, after_verb=True)
    _add_output_option(version)
    version.set_defaults(handler=_version)

    status = verbs.add_parser(
        "status", help="print the runtime's conditions (exit 1 when one is false)"
    )
    _add_connection_options(status, after_verb=True)
    status.add_argument(
        "--verbose", action="store_true", help="also request the verbose info map"
    )
    _add_output_option(status)
    status.set_defaults(handler=_status)

    call = verbs.add_parser(
        "call",
        help="call any method by path, e.g. runtime.v1.RuntimeService/ListContainers",
    )
    _add_connection_options(call, after_verb=True)
    call.add_argument("method", help="full method path")
    call.add_argument("request", nargs="?", help="request as JSON (protobuf JSON form)")
    call.set_defaults(handler=_call)


def _add_runtime_verbs(verbs: Any) -> None:
    info = verbs.add_parser(
        "info", help="print the runtime's Status with its verbose info, decoded"
    )
    _add_output_option(info)
    info.set_defaults(handler=_info)

    config = verbs.add_parser(
        "runtime-config", help="print the runtime's configuration (cgroup driver)"
    )
    _add_output_option(config)
    config.set_defaults(handler=_runtime_config)


def _add_listing_verbs(verbs: Any) -> None:
    pods = verbs.add_parser("pods", help="list pod sandboxes, newest first")
    _add_list_options(pods, "pod")
    pods.add_argument(
        "--state", type=str.lower, choices=("ready", "notready"), help="pod state"
    )
    pods.set_defaults(handler=_pods)

    ps = verbs.add_parser(
        "ps", help="list containers, newest first (running ones unless -a)"
    )
    _add_list_options(ps, "container")
    ps.add_argument(
        "-a", "--all", action="store_true", help="show containers in every state"
    )
    ps.add_argument("-p", "--pod", help="show only containers of this pod id")
    ps.add_argument(
        "--state",
        type=str.lower,
        choices=("created", "running", "exited", "unknown"),
        help="container state (overrides -a)",
    )
    ps.add_argument(
        "--image", help="show only containers of this image reference or image id"
    )
    ps.set_defaults(handler=_ps)

    images = verbs.add_parser("images", help="list images")
    images.add_argument(
        "image", nargs="?", help="show only this tag, digest or image id (prefix)"
    )
    images.add_argument("-q", "--quiet", action="store_true", help="print only ids")
    images.add_argument(
        "--digests", action="store_true", help="add a DIGEST column to the table"
    )
    images.add_argument(
        "--no-trunc", action="store_true", help="print whole ids in the table"
    )
    _add_output_option(images)
    images.set_defaults(handler=_images)


def _add_inspect_verbs(verbs: Any) -> None:
    for verb, argument, handler, help_text in (
        ("inspect", "container", _inspect, "print a container's status and info"),
        ("inspectp", "pod", _inspectp, "print a pod sandbox's status and info"),
        ("inspecti", "image", _inspecti, "print an image's status and info"),
    ):
        parser = verbs.add_parser(verb, help=help_text)
        what = "tag, digest or id" if argument == "image" else "id or id prefix"
        parser.add_argument(argument, help=f"{argument} {what}")
        _add_output_option(parser)
        parser.set_defaults(handler=handler)
    fs_info = verbs.add_parser(
        "imagefsinfo", help="print where image layers are stored and their usage"
    )
    _add_output_option(fs_info)
    fs_info.set_defaults(handler=_imagefsinfo)


def _add_logs_verb(verbs: Any) -> None:
    logs = verbs.add_parser("logs", help="print a container's log")
    logs.add_argument("container", help="container id or id prefix")
    logs.add_argument(
        "--tail", type=_count(0), metavar="N", help="print only the last N lines"
    )
    logs.add_argument(
        "--since",
        type=parse_since,
        metavar="TIME",
        help="print lines from this RFC 3339 time, or from this long ago "
        "(a duration such as 10s or 5m)",
    )
    logs.add_argument(
        "-t", "--timestamps", action="store_true", help="start each line with its time"
    )
    logs.add_argument(
        "-p",
        "--previous",
        action="store_true",
        help="print the log of the container's previous attempt",
    )
    logs.add_argument(
        "-f",
        "--follow",
        action="store_true",
        help="keep printing new lines until the container stops or Ctrl-C",
    )
    logs.set_defaults(handler=_logs)


def _add_stats_verbs(verbs: Any) -> None:
    stats = verbs.add_parser("stats", help="print containers' CPU, memory and disk use")
    stats.add_argument("container", nargs="?", help="container id (same as --id)")
    stats.add_argument("--id", help="show only this container")
    stats.add_argument("-p", "--pod", help="show only containers of this pod id")
    stats.add_argument(
        "-a", "--all", action="store_true", help="include containers not running"
    )
    statsp = verbs.add_parser("statsp", help="print pods' CPU and memory use")
    statsp.add_argument("--id", help="show only this pod")
    for parser in (stats, statsp):
        parser.add_argument(
            "--label",
            type=_label,
            action="append",
            metavar="KEY=VALUE",
            help="show only objects with this label (repeatable)",
        )
        parser.add_argument(
            "-s",
            "--seconds",
            type=positive_seconds,
            default=1.0,
            help="time between the two samples that CPU %% is computed from "
            "(default: 1)",
        )
        _add_output_option(parser)
    stats.set_defaults(handler=_stats)
    statsp.set_defaults(handler=_statsp)

    events = verbs.add_parser(
        "events", help="print container events as they happen (GetContainerEvents)"
    )
    events.add_argument(
        "--timeout",
        dest="events_timeout",
        type=positive_seconds,
        default=_DEFAULT_EVENTS_SECONDS,
        help="stop after this many seconds (default: 86400; Ctrl-C stops sooner)",
    )
    _add_output_option(events)
    events.set_defaults(handler=_events)


def _add_image_verbs(verbs: Any) -> None:
    pull = verbs.add_parser(
        "pull",
        help="pull an image (deadline: --timeout of `ocilab cri`, at least 300 s)",
    )
    pull.add_argument("image", help="image reference, such as registry/repo:tag")
    credentials = pull.add_mutually_exclusive_group()
    credentials.add_argument(
        "--creds",
        metavar="USERNAME[:PASSWORD]",
        help="registry credentials (the password is asked for when left out)",
    )
    credentials.add_argument(
        "--auth", metavar="BASE64", help="base64 of USERNAME:PASSWORD"
    )
    pull.add_argument("--registry-token", help="registry bearer token")
    pull.add_argument(
        "--pod-config",
        metavar="FILE",
        help="pod config (JSON or YAML) that the runtime may use to pick a mirror",
    )
    pull.set_defaults(handler=_pull)

    rmi = verbs.add_parser(
        "rmi", help="remove images (containerd removes every tag of each image)"
    )
    rmi.add_argument("images", nargs="+", metavar="IMAGE", help="tag, digest or id")
    rmi.set_defaults(handler=_rmi)


def _add_lifecycle_verbs(verbs: Any) -> None:
    runp = verbs.add_parser("runp", help="run a pod sandbox; print its id")
    runp.add_argument("config", help="PodSandboxConfig file, JSON or YAML")
    runp.add_argument(
        "--runtime", default="", help="runtime handler (default: the runtime's own)"
    )
    runp.set_defaults(handler=_runp)

    create = verbs.add_parser("create", help="create a container; print its id")
    create.add_argument("pod_id", metavar="POD-ID", help="pod sandbox id")
    create.add_argument("container_config", metavar="CONTAINER-CONFIG")
    create.add_argument("pod_config", metavar="POD-CONFIG")
    create.add_argument("--with-pull", action="store_true", help="pull the image first")
    create.set_defaults(handler=_create)

    for verb, help_text, handler in (
        ("start", "start created containers", _start),
        ("stop", "stop containers: SIGTERM, then SIGKILL after --timeout", _stop),
        ("rm", "remove containers", _rm),
        ("stopp", "stop pod sandboxes and their containers", _stopp),
        ("rmp", "remove pod sandboxes", _rmp),
    ):
        parser = verbs.add_parser(verb, help=help_text)
        parser.add_argument("ids", nargs="+", metavar="ID")
        parser.set_defaults(handler=handler)
        if verb == "stop":
            parser.add_argument(
                "-t",
                "--timeout",
                dest="grace_period",
                type=_count(0),
                default=10,
                help="seconds between SIGTERM and SIGKILL (default: 10; crictl's is 0)",
            )
        if verb in ("rm", "rmp"):
            parser.add_argument(
                "-f", "--force", action="store_true", help="stop running ones first"
            )


def _add_exec_verbs(verbs: Any) -> None:
    exec_parser = verbs.add_parser(
        "exec",
        help="run a command in a container and wait for it (ExecSync); exit "
        "with its exit code",
    )
    exec_parser.add_argument(
        "-s", "--sync", action="store_true", help="accepted for crictl; always on"
    )
    exec_parser.add_argument(
        "--timeout",
        dest="exec_timeout",
        type=_count(1),
        default=10,
        help="seconds the command may run (default: 10)",
    )
    exec_parser.add_argument("container", help="container id or id prefix")
    exec_parser.add_argument("command", nargs=argparse.REMAINDER, metavar="COMMAND")
    exec_parser.set_defaults(handler=_exec)

    update = verbs.add_parser("update", help="change containers' CPU and memory limits")
    update.add_argument("ids", nargs="+", metavar="ID")
    update.add_argument("--cpu-shares", type=_count(0), help="CPU shares (weight)")
    update.add_argument(
        "--cpu-quota", type=int, help="CPU CFS quota in microseconds per period"
    )
    update.add_argument(
        "--cpu-period", type=_count(0), help="CPU CFS period in microseconds"
    )
    update.add_argument("--memory", type=_count(0), help="memory limit in bytes")
    update.add_argument("--cpuset-cpus", help="CPUs to use, such as 0-2,4")
    update.add_argument("--cpuset-mems", help="memory nodes to use, such as 0")
    update.set_defaults(handler=_update)


def add_cri_commands(commands: Any) -> None:
    """Add ``cri`` and its verbs to the subparsers of the ``ocilab`` command."""
    cri = commands.add_parser(
        "cri",
        help="inspect and drive a CRI runtime with crictl's verbs",
        description="Inspect and drive a CRI runtime with crictl's verbs. Global "
        "options go before the verb; version, status and call also take them "
        "after it.",
    )
    _add_connection_options(cri)
    verbs = cri.add_subparsers(dest="verb", required=True, metavar="VERB")
    _add_legacy_verbs(verbs)
    _add_runtime_verbs(verbs)
    _add_listing_verbs(verbs)
    _add_inspect_verbs(verbs)
    _add_logs_verb(verbs)
    _add_stats_verbs(verbs)
    _add_image_verbs(verbs)
    _add_lifecycle_verbs(verbs)
    _add_exec_verbs(verbs)
