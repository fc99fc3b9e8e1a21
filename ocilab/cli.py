"""ocilab: start the lab, call a CRI runtime, run the lessons."""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

from .cri.cli import add_cri_commands
from .distribution.cli import add_registry_commands
from .errors import OcilabError
from .image.cli import add_image_commands
from .runtime.cli import add_runtime_commands

__all__ = ["main"]


def _lab_up(args: argparse.Namespace) -> int:
    from .lab import Lab

    lab = Lab(args.state_dir, registry_port=args.registry_port)
    info = lab.up(progress=lambda message: print(message, file=sys.stderr, flush=True))
    print(
        json.dumps(info.to_json(), indent=2, sort_keys=True)
        if args.json
        else _describe(info.to_json())
    )
    return 0


def _lab_down(args: argparse.Namespace) -> int:
    from .lab import Lab

    report = Lab(args.state_dir).down()
    print(
        f"removed {report.containers} containers, {report.pods} pods, "
        f"{report.processes} processes, {report.mounts} mounts"
        + (", the bridge" if report.bridge_removed else "")
    )
    for leftover in report.leftovers:
        print(f"left behind: {leftover}", file=sys.stderr)
    return 1 if report.leftovers else 0


def _lab_reset(args: argparse.Namespace) -> int:
    from .lab import Lab

    report = Lab(args.state_dir).reset(
        progress=lambda message: print(message, file=sys.stderr, flush=True)
    )
    if args.json:
        print(json.dumps(dataclasses.asdict(report), indent=2, sort_keys=True))
        return 0
    print(
        f"removed {report.containers} containers, {report.pods} pods, "
        f"{len(report.images)} images, {len(report.repositories)} registry repositories"
    )
    for image in report.images:
        print(f"  image {image}")
    for repository in report.repositories:
        print(f"  repository {repository}")
    return 0


def _lab_layout(args: argparse.Namespace) -> int:
    from .image import OCILayout
    from .lab._seed import build_lab_images

    images = build_lab_images()
    target = Path(args.folder)
    layout = (
        OCILayout.open(target)
        if (target / "oci-layout").exists()
        else OCILayout.create(target)
    )
    for name, image in (("busybox", images.busybox), ("pause", images.pause)):
        descriptor = layout.add_image(image, ref_name=name)
        print(f"{target}:{name} {descriptor.digest}")
    return 0


def _lab_status(args: argparse.Namespace) -> int:
    """Print the lab's status; exit 0 when healthy, 1 when broken, 3 when absent."""
    from .lab import Lab

    status = Lab(args.state_dir).status()
    if args.json:
        print(json.dumps(status, indent=2, sort_keys=True))
    elif "health" not in status:
        print(
            f"no lab is running in {status['state_dir']}; start one with `ocilab lab up`"
        )
    else:
        print(_describe(status))
        if status["problems"]:
            print(
                f"problems: {', '.join(status['problems'])}; `ocilab lab up` starts "
                "the lab again (its pods are lost), `ocilab lab down` removes it",
                file=sys.stderr,
            )
    if "health" not in status:
        return 3
    return 0 if status["healthy"] else 1


def _describe(data: dict[str, Any]) -> str:
    lines = [
        f"state dir      {data['state_dir']}",
        f"CRI endpoint   {data['cri_endpoint']}",
        f"registry       {data['registry_url']}",
        f"pod network    {data['subnet']} on bridge {data['bridge']} (gateway {data['gateway']})",
        "processes      "
        + ", ".join(f"{name} {pid}" for name, pid in sorted(data["pids"].items())),
    ]
    for name, reference in sorted(data["images"].items()):
        lines.append(f"image          {reference}")
    for api, reply in sorted(data.get("runtime_versions", {}).items()):
        if "error" in reply:
            lines.append(f"runtime.{api:<9}error: {reply['error']}")
        else:
            lines.append(
                f"runtime.{api:<9}{reply['runtime_name']} {reply['runtime_version']}"
            )
    health = data.get("health")
    if health:
        checks = ", ".join(
            f"{key}={'ok' if value is True else value}"
            for key, value in sorted(health.items())
        )
        lines.append(f"health         {checks}")
    return "\n".join(lines)


def _notebooks_run(args: argparse.Namespace) -> int:
    from .notebooks import main_run

    parameters = {}
    items = [(item, True) for item in args.parameter]
    items += [(item, False) for item in args.raw_parameter]
    for item, typed in items:
        name, equals, value = item.partition("=")
        if not equals or not name.isidentifier():
            raise OcilabError(
                f"invalid notebook parameter {item!r}: write NAME=VALUE, "
                "for example -p reveal_solutions=True"
            )
        parameters[name] = parameter_value(value) if typed else value
    return main_run(args.folder, args.output, parameters or None)


def parameter_value(text: str) -> Any:
    """Read a -p value as papermill's own CLI does: bool, None, int, float, else text."""
    words = {"true": True, "false": False, "none": None, "null": None}
    text = text.strip()
    if text.lower() in words:
        return words[text.lower()]
    for number in (int, float):
        try:
            return number(text)
        except ValueError:
            pass
    return text


def _port(text: str) -> int:
    port = int(text)
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(
            f"invalid port {port}: use 1 to 65535, or 0 for any free port"
        )
    return port


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ocilab", description=__doc__)
    parser.add_argument(
        "-v", "--verbose-log", action="store_true", help="log every call (INFO level)"
    )
    commands = parser.add_subparsers(dest="command", required=True)

    lab = commands.add_parser(
        "lab", help="start, stop and inspect the lab"
    ).add_subparsers(dest="verb", required=True)
    for verb, handler, help_text in (
        (
            "up",
            _lab_up,
            "start containerd, CNI and the registry, and push the lab images",
        ),
        (
            "down",
            _lab_down,
            "remove every pod, process, mount, bridge and file of the lab",
        ),
        (
            "reset",
            _lab_reset,
            "remove every pod, container, image and registry repository the lab was "
            "not seeded with, between exercises",
        ),
        (
            "status",
            _lab_status,
            "show the lab's endpoints, images, processes and health",
        ),
    ):
        sub = lab.add_parser(verb, help=help_text)
        sub.add_argument(
            "--state-dir",
            type=Path,
            help="the lab's folder (default: $OCILAB_STATE_DIR or ~/.local/state/ocilab/lab)",
        )
        if verb != "down":
            sub.add_argument("--json", action="store_true", help="print JSON")
        if verb == "up":
            sub.add_argument(
                "--registry-port",
                type=_port,
                default=0,
                help="TCP port of the registry on 127.0.0.1 (default: any free port)",
            )
        sub.set_defaults(handler=handler)
    layout = lab.add_parser(
        "layout",
        help="write the lab's busybox and pause images into an OCI layout (refs busybox, pause)",
    )
    layout.add_argument("folder", help="layout folder (created when missing)")
    layout.set_defaults(handler=_lab_layout)

    add_cri_commands(commands)
    add_image_commands(commands)
    add_runtime_commands(commands)
    add_registry_commands(commands)

    notebooks = commands.add_parser(
        "notebooks", help="run the lesson notebooks"
    ).add_subparsers(dest="verb", required=True)
    run = notebooks.add_parser(
        "run", help="execute every notebook with papermill against the lab"
    )
    run.add_argument(
        "folder",
        nargs="?",
        type=Path,
        help="a folder of notebooks, or one .ipynb file (default: the repository's notebooks/)",
    )
    run.add_argument(
        "--output",
        type=Path,
        help="folder for the executed copies (default: a new temporary folder)",
    )
    run.add_argument(
        "-p",
        "--parameter",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="papermill parameter, repeatable; True, False, None and numbers "
        "become Python values, anything else a string",
    )
    run.add_argument(
        "-r",
        "--raw-parameter",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="papermill parameter passed as a string, as written (for example -r pod_name=007)",
    )
    run.set_defaults(handler=_notebooks_run)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose_log else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.handler(args))
    except OcilabError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader (`| head`) went away; stop quietly, as Unix tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


if __name__ == "__main__":
    sys.exit(main())
