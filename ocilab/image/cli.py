"""`ocilab image`: list, inspect, validate, unpack, build and configure OCI layout images.

Images are named as umoci names them, ``LAYOUT[:REF]``: the layout folder and
the ``org.opencontainers.image.ref.name`` of an index.json entry. Without a
ref, a layout with exactly one runnable image for the platform uses it.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path
from typing import Any

from ..errors import ImageError
from .build import LayerBuilder, extend_image, host_platform
from .convert import image_to_runtime_config
from .layout import ImageRef, OCILayout

__all__ = ["add_image_commands"]


def _split_ref(text: str) -> tuple[Path, str | None]:
    """Split "path[:ref]"; a colon inside the path's folders is kept."""
    path, colon, ref = text.rpartition(":")
    if colon and path and "/" not in ref:
        return Path(path), ref
    return Path(text), None


def _platform(args: argparse.Namespace) -> str:
    if args.platform:
        return str(args.platform)
    current = host_platform()
    return f"{current['os']}/{current['architecture']}"


def _select(args: argparse.Namespace) -> tuple[OCILayout, ImageRef]:
    path, ref = _split_ref(args.image)
    layout = OCILayout.open(path)
    return layout, layout.select(_platform(args), ref_name=ref)


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, sort_keys=False))


def _ls(args: argparse.Namespace) -> int:
    layout = OCILayout.open(Path(args.layout))
    for image in layout.images():
        print(
            f"{image.ref_name or '(no ref)'}\t{image.platform}\t{image.descriptor.digest}\t{image.descriptor.size}"
        )
    if args.tree:
        print(layout.tree())
    return 0


def _inspect(args: argparse.Namespace) -> int:
    layout, image = _select(args)
    if args.raw:
        _print_json(image.manifest.raw)
        return 0
    if args.config:
        _print_json(image.config.raw)
        return 0
    config = image.config
    _print_json(
        {
            "Name": image.ref_name,
            "Digest": image.descriptor.digest,
            "MediaType": image.descriptor.media_type,
            "Created": config.created,
            "Architecture": config.architecture,
            "Os": config.os,
            "Variant": config.variant,
            "Layers": [layer.digest for layer in image.manifest.layers],
            "LayersData": [
                {
                    "MIMEType": layer.media_type,
                    "Digest": layer.digest,
                    "Size": layer.size,
                }
                for layer in image.manifest.layers
            ],
            "Env": list(config.env),
            "Entrypoint": list(config.entrypoint or []),
            "Cmd": list(config.cmd or []),
            "Labels": config.labels,
        }
    )
    return 0


def _validate(args: argparse.Namespace) -> int:
    from .validate import validate_document

    target = Path(args.target)
    if not target.exists():
        raise ImageError(
            f"{target} not found: give an OCI layout folder or a JSON file"
        )
    if target.is_dir():
        findings = _validate_layout(target)
    else:
        if not args.media_type:
            raise ImageError(
                f"{target} is a file: pass --media-type, e.g. application/vnd.oci.image.manifest.v1+json"
            )
        findings = validate_document(target.read_bytes(), args.media_type)
    frame = findings.frame()
    print(frame.to_string(index=False) if not frame.empty else "no findings")
    return 0 if findings.ok else 1


def _validate_layout(path: Path) -> Any:
    from .validate import Findings, validate_document

    layout = OCILayout.open(path)
    findings = Findings()
    for node in layout.walk():
        if node.kind in ("index", "manifest", "config", "attestation") and node.present:
            data = layout.read_blob(node.descriptor)
            for finding in validate_document(data, node.descriptor.media_type):
                findings.append(
                    type(finding)(
                        finding.rule,
                        finding.level,
                        f"{node.digest}{finding.pointer}",
                        finding.message,
                    )
                )
    return findings


def _unpack(args: argparse.Namespace) -> int:
    from .unpack import unpack_layers

    layout, image = _select(args)
    bundle = Path(args.bundle)
    rootfs = bundle / "rootfs"
    if rootfs.exists():
        raise ImageError(f"{rootfs} exists already; unpack into a new bundle folder")
    rootfs.mkdir(parents=True)
    sources = [layout.open_blob(layer) for layer in image.manifest.layers]
    try:
        report = unpack_layers(sources, rootfs, progress=not args.quiet)
    finally:
        for source in sources:
            source.close()
    runtime = image_to_runtime_config(image.config, rootfs=rootfs)
    (bundle / "config.json").write_text(json.dumps(runtime, indent=2) + "\n")
    print(
        f"unpacked {len(image.manifest.layers)} layers into {rootfs}; wrote {bundle / 'config.json'}"
    )
    for rejected in report.rejected:
        print(
            f"rejected: layer {rejected.layer_index} {rejected.member_name!r}: {rejected.reason}",
            file=sys.stderr,
        )
    return 0


def _build(args: argparse.Namespace) -> int:
    layout_path, ref = _split_ref(args.image)
    layer = LayerBuilder()
    layer.add_tree(Path(args.folder), prefix=args.prefix or "")
    built_layer = layer.build()
    container: dict[str, Any] = {}
    if args.cmd:
        container["Cmd"] = shlex.split(args.cmd)
    if args.env:
        container["Env"] = list(args.env)
    if args.base:
        base_layout, base = _select(
            argparse.Namespace(image=args.base, platform=args.platform)
        )
        target = (
            OCILayout.open(layout_path)
            if (layout_path / "oci-layout").exists()
            else OCILayout.create(layout_path)
        )
        for layer_descriptor in base.manifest.layers:
            if not target.has_blob(layer_descriptor.digest):
                with base_layout.open_blob(layer_descriptor) as stream:
                    target.write_blob(stream, layer_descriptor)
        image = extend_image(
            base.manifest.raw,
            base.config.raw,
            [built_layer],
            container_config=container,
            created_by=f"ocilab image build {args.folder}",
        )
    else:
        from .build import build_image

        target = (
            OCILayout.open(layout_path)
            if (layout_path / "oci-layout").exists()
            else OCILayout.create(layout_path)
        )
        image = build_image(
            [built_layer],
            container_config=container,
            created_by=f"ocilab image build {args.folder}",
        )
    descriptor = target.add_image(image, ref_name=ref)
    print(f"{layout_path}:{ref or ''} {descriptor.digest}")
    return 0


def _config(args: argparse.Namespace) -> int:
    layout, image = _select(args)
    if args.runtime:
        _print_json(image_to_runtime_config(image.config))
        return 0
    _print_json(image.config.raw)
    return 0


def add_image_commands(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add `ocilab image …` to the top-level parser's subcommands."""
    image = commands.add_parser(
        "image", help="OCI layouts: list, inspect, validate, unpack, build"
    ).add_subparsers(dest="verb", required=True)

    def verb(name: str, handler: Any, help_text: str) -> argparse.ArgumentParser:
        parser = image.add_parser(name, help=help_text)
        parser.set_defaults(handler=handler)
        return parser

    ls = verb("ls", _ls, "list the images (ref names) of a layout")
    ls.add_argument("layout", help="OCI layout folder")
    ls.add_argument(
        "--tree",
        action="store_true",
        help="also draw the graph from index.json to layers",
    )

    for name, handler, help_text in (
        (
            "inspect",
            _inspect,
            "show an image's manifest and config summary (skopeo inspect style)",
        ),
        (
            "config",
            _config,
            "print an image's config, or with --runtime the converted config.json",
        ),
    ):
        parser = verb(name, handler, help_text)
        parser.add_argument("image", help="LAYOUT[:REF]")
        parser.add_argument(
            "--platform", help="os/arch[/variant] (default: this machine's)"
        )
        if name == "inspect":
            parser.add_argument(
                "--raw", action="store_true", help="print the manifest as stored"
            )
            parser.add_argument(
                "--config", action="store_true", help="print the image config as stored"
            )
        else:
            parser.add_argument(
                "--runtime",
                action="store_true",
                help="convert to an OCI runtime config.json",
            )

    validate = verb(
        "validate",
        _validate,
        "check a layout, or one JSON document, against the image spec",
    )
    validate.add_argument(
        "target", help="layout folder, or a JSON file with --media-type"
    )
    validate.add_argument("--media-type", help="the document's media type, for a file")

    unpack = verb(
        "unpack",
        _unpack,
        "unpack an image into BUNDLE/rootfs and write BUNDLE/config.json (umoci unpack)",
    )
    unpack.add_argument("image", help="LAYOUT[:REF]")
    unpack.add_argument("bundle", help="new folder for the runtime bundle")
    unpack.add_argument(
        "--platform", help="os/arch[/variant] (default: this machine's)"
    )
    unpack.add_argument("-q", "--quiet", action="store_true", help="no progress bar")

    build = verb(
        "build",
        _build,
        "build an image from a folder into LAYOUT:REF (on top of --base)",
    )
    build.add_argument("folder", help="folder whose files become the new layer")
    build.add_argument(
        "image", help="LAYOUT:REF to write (the layout is created if missing)"
    )
    build.add_argument("--base", help="LAYOUT[:REF] of the image to build on")
    build.add_argument(
        "--prefix", help="folder in the image that receives the files (default: /)"
    )
    build.add_argument(
        "--cmd",
        help="the image's Cmd as one shell-quoted string, e.g. --cmd 'sh -c \"echo hi\"'",
    )
    build.add_argument(
        "--env",
        action="append",
        help="NAME=VALUE, repeatable (replaces the base's Env)",
    )
    build.add_argument(
        "--platform", help="platform of the base to pick (default: this machine's)"
    )
