"""Write OCI runtime bundles: a directory with ``config.json`` and a root filesystem.

A bundle is what ``runc create --bundle DIR`` and ``crun create --bundle DIR``
read (runtime-spec bundle.md). ocilab always writes the root filesystem to
``DIR/rootfs`` and sets ``root.path`` to the relative path ``"rootfs"``.
"""

from __future__ import annotations

import copy
import json
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..image.convert import default_runtime_config, image_to_runtime_config
from ..image.layers import LayerSource
from ..image.unpack import unpack_layers

__all__ = [
    "Bundle",
    "bundle_from_image",
    "make_bundle",
    "make_probe_bundle",
    "merge_patch",
]

ROOTFS_NAME = "rootfs"
CONFIG_NAME = "config.json"
# Debian's busybox-static installs a statically linked busybox here.
BUSYBOX = Path("/bin/busybox")

ConfigEdit = Callable[[dict[str, Any]], "dict[str, Any] | None"] | Mapping[str, Any]


@dataclass(frozen=True)
class Bundle:
    """A bundle directory: ``path/config.json`` and the root filesystem ``rootfs``."""

    path: Path
    config_path: Path
    rootfs: Path

    def config(self) -> dict[str, Any]:
        """Read and return config.json."""
        return json.loads(self.config_path.read_text(encoding="utf-8"))

    def update(self, edit: ConfigEdit) -> dict[str, Any]:
        """Rewrite config.json with an edit and return the new configuration.

        ``edit`` is either a JSON merge patch (RFC 7396: nested dicts merge, a
        None value removes the key, anything else replaces), or a function
        that receives the configuration and returns the new one. A function
        that returns None is taken to have changed its argument in place.
        """
        current = self.config()
        if callable(edit):
            result = edit(current)
            updated = current if result is None else result
        else:
            updated = merge_patch(current, edit)
        _write_config(self.config_path, updated)
        return updated


def merge_patch(target: Mapping[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    """Return a copy of ``target`` with a JSON merge patch (RFC 7396) applied."""
    result = copy.deepcopy(dict(target))
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(result.get(key), Mapping):
            result[key] = merge_patch(result[key], value)
        else:
            result[key] = copy.deepcopy(value)
    return result


def _write_config(path: Path, config: Mapping[str, Any]) -> None:
    path.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")


def make_bundle(
    path: str | Path,
    *,
    rootfs_from: Sequence[LayerSource] | Path,
    config: Mapping[str, Any],
) -> Bundle:
    """Create the bundle directory ``path`` with ``rootfs/`` and ``config.json``.

    ``rootfs_from`` is either a list of layer blobs, lowest first, which are
    unpacked into ``rootfs/``, or the Path of an existing root filesystem,
    which is copied (symlinks are copied as symlinks). ``root.path`` in the
    written config is always ``"rootfs"``. Raises FileExistsError when
    ``path/rootfs`` exists already and FileNotFoundError when a source
    root filesystem is missing.
    """
    bundle_path = Path(path).resolve()
    bundle_path.mkdir(parents=True, exist_ok=True)
    rootfs = bundle_path / ROOTFS_NAME
    if rootfs.exists():
        raise FileExistsError(f"{rootfs} exists already. Pass a new bundle directory.")
    if isinstance(rootfs_from, Path):
        if not rootfs_from.is_dir():
            raise FileNotFoundError(f"root filesystem {rootfs_from} not found")
        shutil.copytree(rootfs_from, rootfs, symlinks=True)
    else:
        unpack_layers(list(rootfs_from), rootfs, progress=False)
    written = merge_patch(config, {"root": {"path": ROOTFS_NAME}})
    config_path = bundle_path / CONFIG_NAME
    _write_config(config_path, written)
    return Bundle(path=bundle_path, config_path=config_path, rootfs=rootfs)


def bundle_from_image(
    image_config: Mapping[str, Any],
    layers: Sequence[LayerSource],
    path: str | Path,
    *,
    args: list[str] | None = None,
    terminal: bool = False,
) -> Bundle:
    """Unpack an image's layers and convert its config into a bundle at ``path``.

    ``image_config`` is the image configuration document (the JSON of the
    config blob). ``args`` overrides Entrypoint and Cmd. ``terminal`` sets
    ``process.terminal``, and a true value needs ``--console-socket``, which
    OCIRuntime does not pass, so leave it False to use ocilab's driver.
    """
    bundle_path = Path(path).resolve()
    rootfs = bundle_path / ROOTFS_NAME
    if rootfs.exists():
        raise FileExistsError(f"{rootfs} exists already. Pass a new bundle directory.")
    unpack_layers(list(layers), rootfs, progress=False)
    config = image_to_runtime_config(image_config, rootfs=rootfs, args=args)
    config["process"]["terminal"] = terminal
    config.setdefault("root", {})["path"] = ROOTFS_NAME
    config_path = bundle_path / CONFIG_NAME
    _write_config(config_path, config)
    return Bundle(path=bundle_path, config_path=config_path, rootfs=rootfs)


def make_probe_bundle(path: str | Path, *, busybox: Path = BUSYBOX) -> Bundle:
    """Create a bundle that runs ``busybox true`` from a copy of a static busybox.

    Raises FileNotFoundError when ``busybox`` does not exist. A dynamically
    linked busybox fails inside the container, because the rootfs has no
    libraries.
    """
    if not busybox.is_file():
        raise FileNotFoundError(
            f"{busybox} not found. Install busybox-static or pass busybox=PATH."
        )
    bundle_path = Path(path).resolve()
    rootfs = bundle_path / ROOTFS_NAME
    (rootfs / "bin").mkdir(parents=True)
    for folder in ("proc", "sys", "dev", "tmp"):
        (rootfs / folder).mkdir()
    shutil.copy2(busybox, rootfs / "bin" / "busybox")
    config = default_runtime_config()
    config["process"]["args"] = ["/bin/busybox", "true"]
    config["hostname"] = "ocilab-probe"
    config_path = bundle_path / CONFIG_NAME
    _write_config(config_path, config)
    return Bundle(path=bundle_path, config_path=config_path, rootfs=rootfs)
