"""The project's protos compile to exactly the CRI wire contract, and regenerate unchanged."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import descriptor_pb2, json_format

from ocilab._proto.runtime.v1 import api_pb2 as v1_pb2
from ocilab._proto.runtime.v1alpha2 import api_pb2 as v1alpha2_pb2

from .conftest import REPO, shared_path

CONTRACTS = {
    "v1": ("runtime-v1.descriptor.json", v1_pb2),
    "v1alpha2": ("runtime-v1alpha2.descriptor.json", v1alpha2_pb2),
}


def _load_contract(file_name: str) -> descriptor_pb2.FileDescriptorProto:
    data = json.loads(shared_path("cri", file_name).read_text())
    return json_format.ParseDict(data, descriptor_pb2.FileDescriptorProto())


def _compiled(module: Any) -> descriptor_pb2.FileDescriptorProto:
    proto = descriptor_pb2.FileDescriptorProto()
    module.DESCRIPTOR.CopyToProto(proto)
    return proto


def _fields(
    message: descriptor_pb2.DescriptorProto, prefix: str = ""
) -> dict[str, tuple[Any, ...]]:
    """Flatten every field, nested message and map entry of a message into comparable rows."""
    rows: dict[str, tuple[Any, ...]] = {}
    name = prefix + message.name
    rows[name] = (
        "message",
        message.options.map_entry,
        tuple(oneof.name for oneof in message.oneof_decl),
    )
    for field in message.field:
        rows[f"{name}.{field.name}"] = (
            field.number,
            field.type,
            field.label,
            field.type_name,
            field.HasField("oneof_index") and field.oneof_index,
            field.proto3_optional,
            field.options.deprecated,
            field.options.debug_redact,
        )
    for nested in message.nested_type:
        rows.update(_fields(nested, name + "."))
    for enum in message.enum_type:
        rows.update(_enum_rows(enum, name + "."))
    return rows


def _enum_rows(
    enum: descriptor_pb2.EnumDescriptorProto, prefix: str = ""
) -> dict[str, tuple[Any, ...]]:
    rows: dict[str, tuple[Any, ...]] = {prefix + enum.name: ("enum",)}
    for value in enum.value:
        rows[f"{prefix}{enum.name}.{value.name}"] = (value.number,)
    return rows


def _rows(proto: descriptor_pb2.FileDescriptorProto) -> dict[str, tuple[Any, ...]]:
    rows: dict[str, tuple[Any, ...]] = {
        "package": (proto.package,),
        "syntax": (proto.syntax,),
    }
    for service in proto.service:
        rows[f"service {service.name}"] = tuple(
            method.name for method in service.method
        )
        for method in service.method:
            rows[f"rpc {service.name}.{method.name}"] = (
                method.input_type,
                method.output_type,
                method.client_streaming,
                method.server_streaming,
            )
    for message in proto.message_type:
        rows.update(_fields(message))
    for enum in proto.enum_type:
        rows.update(_enum_rows(enum))
    return rows


@pytest.mark.parametrize("version", sorted(CONTRACTS))
def test_compiled_descriptor_matches_contract(version: str) -> None:
    file_name, module = CONTRACTS[version]
    expected = _rows(_load_contract(file_name))
    actual = _rows(_compiled(module))
    missing = sorted(set(expected) - set(actual))
    extra = sorted(set(actual) - set(expected))
    differing = sorted(
        key for key in set(expected) & set(actual) if expected[key] != actual[key]
    )
    assert missing == [], f"in the contract, not in protos/: {missing[:10]}"
    assert extra == [], f"in protos/, not in the contract: {extra[:10]}"
    assert differing == [], [
        (key, expected[key], actual[key]) for key in differing[:10]
    ]


@pytest.mark.parametrize("version", sorted(CONTRACTS))
def test_compiled_descriptor_counts(version: str) -> None:
    file_name, module = CONTRACTS[version]
    contract = _load_contract(file_name)
    compiled = _compiled(module)
    assert len(compiled.message_type) == len(contract.message_type)
    assert len(compiled.enum_type) == len(contract.enum_type)
    assert [len(s.method) for s in compiled.service] == [
        len(s.method) for s in contract.service
    ]


def test_json_names_match_contract() -> None:
    data = json.loads(shared_path("cri", "runtime-v1.descriptor.json").read_text())
    for message in data["message_type"]:
        compiled = v1_pb2.DESCRIPTOR.message_types_by_name[message["name"]]
        for field in message.get("field", []):
            assert (
                compiled.fields_by_name[field["name"]].json_name == field["json_name"]
            )


def test_regeneration_changes_nothing(tmp_path: Path) -> None:
    if importlib.util.find_spec("grpc_tools") is None:
        pytest.skip("grpcio-tools is not installed (pip install -e '.[test]')")
    subprocess.run(
        [
            sys.executable,
            str(REPO / "scripts" / "gen_protos.py"),
            "--out",
            str(tmp_path),
        ],
        check=True,
        capture_output=True,
    )
    committed_root = REPO / "ocilab" / "_proto"
    generated_root = tmp_path / "ocilab" / "_proto"
    generated = sorted(
        p.relative_to(generated_root) for p in generated_root.rglob("*") if p.is_file()
    )
    committed = sorted(
        p.relative_to(committed_root)
        for p in committed_root.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    )
    assert generated == committed
    for relative in generated:
        assert (generated_root / relative).read_bytes() == (
            committed_root / relative
        ).read_bytes(), relative


def test_generated_imports_are_package_qualified() -> None:
    grpc_module = (
        REPO / "ocilab" / "_proto" / "runtime" / "v1" / "api_pb2_grpc.py"
    ).read_text()
    assert "from ocilab._proto.runtime.v1 import api_pb2" in grpc_module
    assert "sys.path" not in grpc_module
