"""`ocilab runtime`: write, check and explain config.json, and drive runc or crun.

The lifecycle verbs keep the runtime's state under ``--root`` (default
``$XDG_STATE_HOME/ocilab/runtime-<name>``), never in the system's /run/runc,
so containers made here are separate from any other user of the runtime.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from ..errors import RuntimeConfigError

__all__ = ["add_runtime_commands"]

EXPLAIN_TOPICS = ("namespaces", "mounts", "capabilities", "resources")


def _default_root(runtime: str) -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "ocilab" / f"runtime-{runtime}"


def _driver(args: argparse.Namespace) -> Any:
    from .driver import Crun, Runc

    driver_class = Runc if args.runtime == "runc" else Crun
    root = Path(args.root) if args.root else _default_root(args.runtime)
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    return driver_class(root=root)


def _read_config(path: str) -> Any:
    try:
        return Path(path).read_text()
    except OSError as error:
        raise RuntimeConfigError(f"cannot read {path}: {error.strerror}") from error


def _spec(args: argparse.Namespace) -> int:
    from .spec import default_config, dumps, rootless_config

    config = rootless_config() if args.rootless else default_config()
    text = dumps(config)
    if args.output:
        Path(args.output).write_text(text if text.endswith("\n") else text + "\n")
    else:
        print(text)
    return 0


def _validate(args: argparse.Namespace) -> int:
    from .validate import validate_config

    findings = validate_config(_read_config(args.config), for_run=args.for_run)
    frame = findings.frame()
    print(frame.to_string(index=False) if not frame.empty else "no findings")
    return 0 if findings.ok else 1


def _explain(args: argparse.Namespace) -> int:
    from . import explain

    text = _read_config(args.config)
    unknown = [topic for topic in args.topics if topic not in EXPLAIN_TOPICS]
    if unknown:
        raise RuntimeConfigError(
            f"unknown topic {unknown[0]!r}: use {', '.join(EXPLAIN_TOPICS)}"
        )
    for topic in args.topics or EXPLAIN_TOPICS:
        frame = getattr(explain, f"{topic}_frame")(text)
        print(f"== {topic} ==")
        print(frame.to_string(index=False) if not frame.empty else "(none)")
    return 0


def _create(args: argparse.Namespace) -> int:
    _driver(args).create(args.id, args.bundle)
    return 0


def _start(args: argparse.Namespace) -> int:
    _driver(args).start(args.id)
    return 0


def _state(args: argparse.Namespace) -> int:
    print(json.dumps(_driver(args).state(args.id).raw, indent=2))
    return 0


def _kill(args: argparse.Namespace) -> int:
    _driver(args).kill(args.id, args.signal)
    return 0


def _delete(args: argparse.Namespace) -> int:
    _driver(args).delete(args.id, force=args.force)
    return 0


def _run(args: argparse.Namespace) -> int:
    driver = _driver(args)
    try:
        result = driver.run(args.id, args.bundle, timeout=args.timeout)
    except KeyboardInterrupt:
        # runc run keeps the container after its parent is interrupted.
        driver.cleanup(args.id)
        raise
    sys.stdout.write(result.stdout)
    sys.stderr.write(result.stderr)
    return int(result.exit_code)


def _list(args: argparse.Namespace) -> int:
    for state in _driver(args).list():
        print(f"{state.id}\t{state.status}\t{state.pid}\t{state.bundle}")
    return 0


def add_runtime_commands(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add `ocilab runtime …` to the top-level parser's subcommands."""
    runtime = commands.add_parser(
        "runtime", help="OCI runtime spec and runc/crun lifecycle"
    )
    runtime.add_argument(
        "--runtime",
        choices=["runc", "crun"],
        default="runc",
        help="OCI runtime to drive (default: runc)",
    )
    runtime.add_argument(
        "--root",
        help="the runtime's state folder (default: ~/.local/state/ocilab/runtime-NAME)",
    )
    verbs = runtime.add_subparsers(dest="verb", required=True)

    def verb(name: str, handler: Any, help_text: str) -> argparse.ArgumentParser:
        parser = verbs.add_parser(name, help=help_text)
        parser.set_defaults(handler=handler)
        return parser

    spec = verb(
        "spec", _spec, "print the default config.json (as `runc spec` writes it)"
    )
    spec.add_argument("--rootless", action="store_true", help="the rootless variant")
    spec.add_argument("-o", "--output", help="write to this file instead of printing")

    validate = verb(
        "validate",
        _validate,
        "check a config.json against the runtime spec (exit 1 on MUST findings)",
    )
    validate.add_argument("config", help="path of config.json")
    validate.add_argument(
        "--for-run",
        action="store_true",
        help="also require what `run` needs (a process)",
    )

    explain = verb(
        "explain",
        _explain,
        "explain a config.json's namespaces, mounts, capabilities and resources",
    )
    explain.add_argument("config", help="path of config.json")
    explain.add_argument(
        "topics", nargs="*", help=f"any of {', '.join(EXPLAIN_TOPICS)} (default: all)"
    )

    create = verb(
        "create", _create, "create a container from a bundle (it waits for start)"
    )
    create.add_argument(
        "--bundle", "-b", required=True, help="bundle folder (config.json and rootfs)"
    )
    create.add_argument("id", help="container id")
    for name, handler, help_text in (
        ("start", _start, "start a created container"),
        ("state", _state, "print a container's state as JSON"),
    ):
        verb(name, handler, help_text).add_argument("id", help="container id")
    kill = verb("kill", _kill, "send a signal to a container's process")
    kill.add_argument("id", help="container id")
    kill.add_argument(
        "signal",
        nargs="?",
        default="TERM",
        help="signal name or number (default: TERM)",
    )
    delete = verb(
        "delete", _delete, "delete a stopped container (--force: also a running one)"
    )
    delete.add_argument(
        "--force", "-f", action="store_true", help="kill the container first if it runs"
    )
    delete.add_argument("id", help="container id")
    run = verb(
        "run", _run, "run a container in the foreground; exit with its exit code"
    )
    run.add_argument(
        "--bundle", "-b", required=True, help="bundle folder (config.json and rootfs)"
    )
    run.add_argument(
        "--timeout",
        type=float,
        default=3600.0,
        help="kill the container after this many seconds (default: 3600)",
    )
    run.add_argument("id", help="container id")
    verb("list", _list, "list the containers under --root")
