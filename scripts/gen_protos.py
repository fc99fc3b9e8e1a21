"""Regenerate the CRI Python modules in ocilab/_proto from protos/.

Run from anywhere: ``python scripts/gen_protos.py [--out DIR]``. The .proto files
live under protos/ at the same package-shaped path as their output
(protos/ocilab/_proto/...), so protoc writes imports such as
``from ocilab._proto.runtime.v1 import api_pb2`` and no sys.path edits are needed.
The output depends on the grpcio-tools version, which pyproject.toml pins.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent.parent
PROTO_ROOT = ROOT / "protos"


def proto_files() -> list[Path]:
    return sorted(PROTO_ROOT.rglob("*.proto"))


def generate(out_dir: Path) -> list[Path]:
    """Compile every .proto under protos/ into out_dir; return the files written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for proto in proto_files():
        relative = proto.relative_to(PROTO_ROOT)
        args = [
            "grpc_tools.protoc",
            f"-I{PROTO_ROOT}",
            f"--python_out={out_dir}",
            f"--pyi_out={out_dir}",
            f"--grpc_python_out={out_dir}",
            str(relative),
        ]
        if protoc.main(args) != 0:
            raise SystemExit(f"protoc failed on {relative}")
    # Packages for every generated folder, so the modules import by full name.
    written = sorted(
        p for p in (out_dir / "ocilab" / "_proto").rglob("*") if p.is_file()
    )
    for folder in {p.parent for p in written}:
        for parent in [folder, *folder.parents]:
            if parent == out_dir / "ocilab":
                break
            (parent / "__init__.py").touch()
    return sorted(p for p in (out_dir / "ocilab" / "_proto").rglob("*") if p.is_file())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=Path, default=ROOT, help="folder that receives ocilab/_proto/..."
    )
    args = parser.parse_args()
    for path in generate(args.out):
        print(path.relative_to(args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
