"""ocilab.image.validate: upstream image-spec cases as an oracle, then every rule."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from ocilab.errors import ImageError
from ocilab.image import mediatypes
from ocilab.image.digest import digest_bytes
from ocilab.image.models import Descriptor, parse_document
from ocilab.image.validate import (
    FRAME_COLUMNS,
    MUST,
    RULES,
    SHOULD,
    Finding,
    Findings,
    ValidationError,
    validate_blob,
    validate_config,
    validate_descriptor,
    validate_document,
    validate_index,
    validate_layout_header,
    validate_manifest,
)

from .conftest import SHARED, shared_path

CASES = ("oci", "image-spec", "cases.jsonl")
HEX = "5b0bcabd1ed22e9fb1310cf6c2dec7cdef19f0ad69efa1f392e94a4333501270"
DIGEST = f"sha256:{HEX}"
EMPTY_DIGEST = digest_bytes(b"{}")
UNSUPPORTED_DIGEST = "sha256+b64u:b2NpbGFiLXRlc3QtZGlnZXN0LW5vdC1yZWFs"
DELETE = object()

# The Docker media type of each backwards-compatibility case, whose
# original_document upstream converts to the OCI type before validating.
DOCKER_TYPES = {
    mediatypes.OCI_INDEX: mediatypes.DOCKER_MANIFEST_LIST,
    mediatypes.OCI_MANIFEST: mediatypes.DOCKER_MANIFEST,
    mediatypes.OCI_CONFIG: mediatypes.DOCKER_CONFIG,
}


# ------------------------------------------------------------------ oracle


def _read_cases() -> list[dict[str, Any]]:
    text = shared_path(*CASES).read_text()
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _case_params() -> list[Any]:
    # Collection must not skip, so an absent file gives one case that the
    # test skips through shared_path.
    path = SHARED.joinpath(*CASES)
    if not path.exists():
        return [pytest.param(None, id="cases-absent")]
    lines = path.read_text().splitlines()
    cases = [json.loads(line) for line in lines if line.strip()]
    return [pytest.param(case, id=case["source"]) for case in cases]


def _describe(findings: Findings) -> str:
    return "\n".join(str(finding) for finding in findings) or "(no findings)"


@pytest.mark.parametrize("case", _case_params())
def test_oracle_case(case: dict[str, Any] | None) -> None:
    shared_path(*CASES)
    assert case is not None
    findings = validate_document(case["document"], case["schema"])
    assert findings.ok == case["valid"], (
        f"upstream expects valid={case['valid']} ({case.get('comment')}), "
        f"ocilab reports:\n{_describe(findings)}"
    )


def test_oracle_summary() -> None:
    cases = _read_cases()
    disagreeing = [
        case["source"]
        for case in cases
        if validate_document(case["document"], case["schema"]).ok != case["valid"]
    ]
    valid = sum(1 for case in cases if case["valid"])
    summary = (
        f"{len(cases)} upstream cases: {valid} valid, {len(cases) - valid} invalid, "
        f"{len(cases) - len(disagreeing)} agree with ocilab"
    )
    print(summary)
    assert cases, "cases.jsonl holds no cases"
    assert disagreeing == [], f"{summary}; disagreeing: {disagreeing}"


def test_oracle_docker_originals_valid() -> None:
    originals = [case for case in _read_cases() if "original_document" in case]
    assert originals, "no case has an original_document"
    for case in originals:
        media_type = DOCKER_TYPES[case["schema"]]
        findings = validate_document(case["original_document"], media_type)
        assert findings.ok, f"{case['source']}:\n{_describe(findings)}"


def test_oracle_docker_originals_match_digest() -> None:
    for case in _read_cases():
        if "original_document" not in case:
            continue
        content = case["original_document"].encode()
        descriptor = {
            "mediaType": DOCKER_TYPES[case["schema"]],
            "size": len(content),
            "digest": case["expected_digest"],
        }
        findings = validate_blob(content, descriptor)
        assert findings == [], f"{case['source']}:\n{_describe(findings)}"


# --------------------------------------------------------- base documents


def _descriptor() -> dict[str, Any]:
    return {"mediaType": mediatypes.OCI_MANIFEST, "size": 7682, "digest": DIGEST}


def _manifest() -> dict[str, Any]:
    return {
        "schemaVersion": 2,
        "mediaType": mediatypes.OCI_MANIFEST,
        "config": {"mediaType": mediatypes.OCI_CONFIG, "size": 1470, "digest": DIGEST},
        "layers": [
            {
                "mediaType": mediatypes.OCI_LAYER_TAR_GZIP,
                "size": 675598,
                "digest": DIGEST,
            }
        ],
    }


def _index() -> dict[str, Any]:
    return {
        "schemaVersion": 2,
        "mediaType": mediatypes.OCI_INDEX,
        "manifests": [
            {
                "mediaType": mediatypes.OCI_MANIFEST,
                "size": 7682,
                "digest": DIGEST,
                "platform": {"architecture": "amd64", "os": "linux"},
            }
        ],
    }


def _config() -> dict[str, Any]:
    return {
        "created": "2024-01-02T03:04:05Z",
        "architecture": "amd64",
        "os": "linux",
        "config": {
            "User": "app",
            "Env": ["PATH=/usr/bin"],
            "Cmd": ["sh"],
            "ExposedPorts": {"8080/tcp": {}},
            "Volumes": {"/data": {}},
            "Labels": {"com.example.team": "lab"},
        },
        "rootfs": {"type": "layers", "diff_ids": [DIGEST]},
        "history": [{"created": "2024-01-02T03:04:05Z", "created_by": "COPY . /"}],
    }


def _layout() -> dict[str, Any]:
    return {"imageLayoutVersion": "1.0.0"}


BASES = {
    mediatypes.OCI_DESCRIPTOR: _descriptor,
    mediatypes.OCI_MANIFEST: _manifest,
    mediatypes.OCI_INDEX: _index,
    mediatypes.OCI_CONFIG: _config,
    mediatypes.OCI_LAYOUT: _layout,
}


def _edited(media_type: str, changes: dict[str, Any]) -> dict[str, Any]:
    """Return the base document of media_type with values set at JSON pointers.

    The value DELETE removes the key instead.
    """
    document = BASES[media_type]()
    for pointer, value in changes.items():
        tokens = [
            token.replace("~1", "/").replace("~0", "~")
            for token in pointer.split("/")[1:]
        ]
        target: Any = document
        for token in tokens[:-1]:
            target = target[int(token)] if isinstance(target, list) else target[token]
        last = tokens[-1]
        if isinstance(target, list):
            target[int(last)] = value
        elif value is DELETE:
            del target[last]
        else:
            target[last] = value
    return document


@pytest.mark.parametrize("media_type", list(BASES))
def test_base_document_has_no_findings(media_type: str) -> None:
    assert validate_document(BASES[media_type](), media_type) == []


# ---------------------------------------------------------- every rule

MANIFEST = mediatypes.OCI_MANIFEST
DESCRIPTOR = mediatypes.OCI_DESCRIPTOR
INDEX = mediatypes.OCI_INDEX
CONFIG = mediatypes.OCI_CONFIG
LAYOUT = mediatypes.OCI_LAYOUT
PLATFORM = "/manifests/0/platform"


def _trigger(
    rule: str,
    level: str,
    media_type: str,
    document: Any,
    pointer: str,
    expected_text: str,
    case: str = "",
) -> Any:
    return pytest.param(
        rule,
        level,
        media_type,
        document,
        pointer,
        expected_text,
        id=f"{rule}-{case}" if case else rule,
    )


# Each row: rule, level, media type, document, pointer of the finding, and a
# text (usually the repr of the bad value) that the message must show.
TRIGGERS = [
    _trigger("json.syntax", MUST, LAYOUT, '{"imageLayoutVersion": 1.0.0}', "", "1.0.0"),
    _trigger("document.type", MUST, MANIFEST, "[1, 2]", "", "[1, 2]"),
    _trigger(
        "document.mediaType.unknown",
        MUST,
        "application/x-unknown",
        "{}",
        "",
        "'application/x-unknown'",
    ),
    _trigger(
        "descriptor.type",
        MUST,
        MANIFEST,
        _edited(MANIFEST, {"/subject": "nope"}),
        "/subject",
        "'nope'",
    ),
    _trigger(
        "descriptor.type",
        MUST,
        MANIFEST,
        _edited(MANIFEST, {"/layers/0": None}),
        "/layers/0",
        "None",
        "null-layer",
    ),
    _trigger(
        "descriptor.mediaType.required",
        MUST,
        DESCRIPTOR,
        _edited(DESCRIPTOR, {"/mediaType": DELETE}),
        "/mediaType",
        "'mediaType'",
    ),
    _trigger(
        "descriptor.mediaType.format",
        MUST,
        DESCRIPTOR,
        _edited(DESCRIPTOR, {"/mediaType": "foo/.bar"}),
        "/mediaType",
        "'foo/.bar'",
    ),
    _trigger(
        "descriptor.digest.required",
        MUST,
        DESCRIPTOR,
        _edited(DESCRIPTOR, {"/digest": DELETE}),
        "/digest",
        "'digest'",
    ),
    _trigger(
        "descriptor.digest.format",
        MUST,
        INDEX,
        _edited(INDEX, {"/manifests/0/digest": "sha256:abc"}),
        "/manifests/0/digest",
        "'sha256:abc'",
    ),
    _trigger(
        "descriptor.digest.unsupported",
        SHOULD,
        MANIFEST,
        _edited(MANIFEST, {"/config/digest": UNSUPPORTED_DIGEST}),
        "/config/digest",
        repr(UNSUPPORTED_DIGEST),
    ),
    _trigger(
        "descriptor.size.required",
        MUST,
        DESCRIPTOR,
        _edited(DESCRIPTOR, {"/size": DELETE}),
        "/size",
        "'size'",
    ),
    _trigger(
        "descriptor.size.type",
        MUST,
        MANIFEST,
        _edited(MANIFEST, {"/layers/0/size": "675598"}),
        "/layers/0/size",
        "'675598'",
    ),
    _trigger(
        "descriptor.size.range",
        MUST,
        DESCRIPTOR,
        _edited(DESCRIPTOR, {"/size": -7682}),
        "/size",
        "-7682",
    ),
    _trigger(
        "descriptor.size.range",
        MUST,
        DESCRIPTOR,
        _edited(DESCRIPTOR, {"/size": 2**63}),
        "/size",
        str(2**63),
        "above-int64",
    ),
    _trigger(
        "descriptor.urls.type",
        MUST,
        DESCRIPTOR,
        _edited(DESCRIPTOR, {"/urls": "https://example.com/blob"}),
        "/urls",
        "'https://example.com/blob'",
    ),
    _trigger(
        "descriptor.urls.format",
        MUST,
        DESCRIPTOR,
        _edited(DESCRIPTOR, {"/urls": ["https://example.com/blob", "value"]}),
        "/urls/1",
        "'value'",
    ),
    _trigger(
        "descriptor.urls.scheme",
        SHOULD,
        DESCRIPTOR,
        _edited(DESCRIPTOR, {"/urls": ["ftp://example.com/blob"]}),
        "/urls/0",
        "'ftp://example.com/blob'",
    ),
    _trigger(
        "descriptor.annotations.type",
        MUST,
        DESCRIPTOR,
        _edited(DESCRIPTOR, {"/annotations": {"com.example/key": 12345}}),
        "/annotations/com.example~1key",
        "12345",
    ),
    _trigger(
        "descriptor.data.format",
        MUST,
        DESCRIPTOR,
        _edited(DESCRIPTOR, {"/data": "e30"}),
        "/data",
        "'e30'",
    ),
    _trigger(
        "descriptor.data.size.mismatch",
        MUST,
        DESCRIPTOR,
        _edited(DESCRIPTOR, {"/data": "e30=", "/digest": EMPTY_DIGEST, "/size": 3}),
        "/data",
        "size is 3",
    ),
    _trigger(
        "descriptor.data.digest.mismatch",
        MUST,
        DESCRIPTOR,
        _edited(DESCRIPTOR, {"/data": "W10=", "/digest": EMPTY_DIGEST, "/size": 2}),
        "/data",
        repr(EMPTY_DIGEST),
    ),
    _trigger(
        "descriptor.artifactType.format",
        MUST,
        DESCRIPTOR,
        _edited(DESCRIPTOR, {"/artifactType": "foo/.bar"}),
        "/artifactType",
        "'foo/.bar'",
    ),
    _trigger(
        "platform.type",
        MUST,
        INDEX,
        _edited(INDEX, {PLATFORM: "linux/amd64"}),
        PLATFORM,
        "'linux/amd64'",
    ),
    _trigger(
        "platform.architecture.required",
        MUST,
        INDEX,
        _edited(INDEX, {f"{PLATFORM}/architecture": DELETE}),
        f"{PLATFORM}/architecture",
        "'architecture'",
    ),
    _trigger(
        "platform.architecture.type",
        MUST,
        INDEX,
        _edited(INDEX, {f"{PLATFORM}/architecture": None}),
        f"{PLATFORM}/architecture",
        "None",
    ),
    _trigger(
        "platform.os.required",
        MUST,
        INDEX,
        _edited(INDEX, {f"{PLATFORM}/os": DELETE}),
        f"{PLATFORM}/os",
        "'os'",
    ),
    _trigger(
        "platform.os.type",
        MUST,
        INDEX,
        _edited(INDEX, {f"{PLATFORM}/os": ["linux"]}),
        f"{PLATFORM}/os",
        "['linux']",
    ),
    _trigger(
        "platform.os.version.type",
        MUST,
        INDEX,
        _edited(INDEX, {f"{PLATFORM}/os.version": 10}),
        f"{PLATFORM}/os.version",
        "10",
    ),
    _trigger(
        "platform.os.features.type",
        MUST,
        INDEX,
        _edited(INDEX, {f"{PLATFORM}/os.features": "win32k"}),
        f"{PLATFORM}/os.features",
        "'win32k'",
    ),
    _trigger(
        "platform.variant.type",
        MUST,
        INDEX,
        _edited(INDEX, {f"{PLATFORM}/variant": 8}),
        f"{PLATFORM}/variant",
        "8",
    ),
    _trigger(
        "manifest.schemaVersion.required",
        MUST,
        MANIFEST,
        _edited(MANIFEST, {"/schemaVersion": DELETE}),
        "/schemaVersion",
        "'schemaVersion'",
    ),
    _trigger(
        "manifest.schemaVersion.value",
        MUST,
        MANIFEST,
        _edited(MANIFEST, {"/schemaVersion": "2"}),
        "/schemaVersion",
        "'2'",
    ),
    _trigger(
        "manifest.mediaType.missing",
        SHOULD,
        MANIFEST,
        _edited(MANIFEST, {"/mediaType": DELETE}),
        "/mediaType",
        repr(mediatypes.OCI_MANIFEST),
    ),
    _trigger(
        "manifest.mediaType.value",
        MUST,
        MANIFEST,
        _edited(MANIFEST, {"/mediaType": mediatypes.DOCKER_MANIFEST}),
        "/mediaType",
        repr(mediatypes.DOCKER_MANIFEST),
    ),
    _trigger(
        "manifest.artifactType.format",
        MUST,
        MANIFEST,
        _edited(MANIFEST, {"/artifactType": "example"}),
        "/artifactType",
        "'example'",
    ),
    _trigger(
        "manifest.artifactType.required",
        MUST,
        MANIFEST,
        _edited(
            MANIFEST,
            {
                "/config/mediaType": mediatypes.OCI_EMPTY,
                "/config/digest": EMPTY_DIGEST,
                "/config/size": 2,
            },
        ),
        "/artifactType",
        repr(mediatypes.OCI_EMPTY),
    ),
    _trigger(
        "manifest.config.required",
        MUST,
        MANIFEST,
        _edited(MANIFEST, {"/config": DELETE}),
        "/config",
        "'config'",
    ),
    _trigger(
        "manifest.layers.required",
        MUST,
        MANIFEST,
        _edited(MANIFEST, {"/layers": DELETE}),
        "/layers",
        "'layers'",
    ),
    _trigger(
        "manifest.layers.type",
        MUST,
        MANIFEST,
        _edited(MANIFEST, {"/layers": {"0": _descriptor()}}),
        "/layers",
        "{'0':",
    ),
    _trigger(
        "manifest.layers.empty",
        MUST,
        MANIFEST,
        _edited(MANIFEST, {"/layers": []}),
        "/layers",
        "[]",
    ),
    _trigger(
        "manifest.annotations.type",
        MUST,
        MANIFEST,
        _edited(MANIFEST, {"/annotations": None}),
        "/annotations",
        "None",
    ),
    _trigger(
        "index.schemaVersion.required",
        MUST,
        INDEX,
        _edited(INDEX, {"/schemaVersion": DELETE}),
        "/schemaVersion",
        "'schemaVersion'",
    ),
    _trigger(
        "index.schemaVersion.value",
        MUST,
        INDEX,
        _edited(INDEX, {"/schemaVersion": 2.0}),
        "/schemaVersion",
        "2.0",
    ),
    _trigger(
        "index.mediaType.missing",
        SHOULD,
        INDEX,
        _edited(INDEX, {"/mediaType": DELETE}),
        "/mediaType",
        repr(mediatypes.OCI_INDEX),
    ),
    _trigger(
        "index.mediaType.value",
        MUST,
        INDEX,
        _edited(INDEX, {"/mediaType": mediatypes.OCI_MANIFEST}),
        "/mediaType",
        repr(mediatypes.OCI_MANIFEST),
    ),
    _trigger(
        "index.artifactType.format",
        MUST,
        INDEX,
        _edited(INDEX, {"/artifactType": "invalid"}),
        "/artifactType",
        "'invalid'",
    ),
    _trigger(
        "index.manifests.required",
        MUST,
        INDEX,
        _edited(INDEX, {"/manifests": DELETE}),
        "/manifests",
        "'manifests'",
    ),
    _trigger(
        "index.manifests.type",
        MUST,
        INDEX,
        _edited(INDEX, {"/manifests": None}),
        "/manifests",
        "None",
    ),
    _trigger(
        "index.annotations.type",
        MUST,
        INDEX,
        _edited(INDEX, {"/annotations": {"com.example.key": ["v"]}}),
        "/annotations/com.example.key",
        "['v']",
    ),
    _trigger(
        "config.architecture.required",
        MUST,
        CONFIG,
        _edited(CONFIG, {"/architecture": DELETE}),
        "/architecture",
        "'architecture'",
    ),
    _trigger(
        "config.architecture.type",
        MUST,
        CONFIG,
        _edited(CONFIG, {"/architecture": 64}),
        "/architecture",
        "64",
    ),
    _trigger(
        "config.os.required",
        MUST,
        CONFIG,
        _edited(CONFIG, {"/os": DELETE}),
        "/os",
        "'os'",
    ),
    _trigger(
        "config.os.type", MUST, CONFIG, _edited(CONFIG, {"/os": 123}), "/os", "123"
    ),
    _trigger(
        "config.author.type",
        MUST,
        CONFIG,
        _edited(CONFIG, {"/author": 42}),
        "/author",
        "42",
    ),
    _trigger(
        "config.variant.type",
        MUST,
        CONFIG,
        _edited(CONFIG, {"/variant": ["v8"]}),
        "/variant",
        "['v8']",
    ),
    _trigger(
        "config.os.version.type",
        MUST,
        CONFIG,
        _edited(CONFIG, {"/os.version": 10.0}),
        "/os.version",
        "10.0",
    ),
    _trigger(
        "config.os.features.type",
        MUST,
        CONFIG,
        _edited(CONFIG, {"/os.features": ["win32k", 7]}),
        "/os.features/1",
        "7",
    ),
    _trigger(
        "config.created.format",
        MUST,
        CONFIG,
        _edited(CONFIG, {"/created": "2024-13-01T00:00:00Z"}),
        "/created",
        "'2024-13-01T00:00:00Z'",
    ),
    _trigger(
        "config.config.type",
        MUST,
        CONFIG,
        _edited(CONFIG, {"/config": ["sh"]}),
        "/config",
        "['sh']",
    ),
    _trigger(
        "config.config.User.type",
        MUST,
        CONFIG,
        _edited(CONFIG, {"/config/User": 1234}),
        "/config/User",
        "1234",
    ),
    _trigger(
        "config.config.WorkingDir.type",
        MUST,
        CONFIG,
        _edited(CONFIG, {"/config/WorkingDir": ["/srv"]}),
        "/config/WorkingDir",
        "['/srv']",
    ),
    _trigger(
        "config.config.StopSignal.type",
        MUST,
        CONFIG,
        _edited(CONFIG, {"/config/StopSignal": 9}),
        "/config/StopSignal",
        "9",
    ),
    _trigger(
        "config.config.Env.type",
        MUST,
        CONFIG,
        _edited(CONFIG, {"/config/Env": [7353]}),
        "/config/Env/0",
        "7353",
    ),
    _trigger(
        "config.config.Entrypoint.type",
        MUST,
        CONFIG,
        _edited(CONFIG, {"/config/Entrypoint": "sh -c"}),
        "/config/Entrypoint",
        "'sh -c'",
    ),
    _trigger(
        "config.config.Cmd.type",
        MUST,
        CONFIG,
        _edited(CONFIG, {"/config/Cmd": ["sh", ["-c"]]}),
        "/config/Cmd/1",
        "['-c']",
    ),
    _trigger(
        "config.config.ArgsEscaped.type",
        MUST,
        CONFIG,
        _edited(CONFIG, {"/config/ArgsEscaped": "yes"}),
        "/config/ArgsEscaped",
        "'yes'",
    ),
    _trigger(
        "config.config.Env.format",
        MUST,
        CONFIG,
        _edited(CONFIG, {"/config/Env": ["PATH=/usr/bin", "DEBUG"]}),
        "/config/Env/1",
        "'DEBUG'",
    ),
    _trigger(
        "config.config.Env.format",
        MUST,
        CONFIG,
        _edited(CONFIG, {"/config/Env": ["=value"]}),
        "/config/Env/0",
        "'=value'",
        "empty-name",
    ),
    _trigger(
        "config.config.ExposedPorts.type",
        MUST,
        CONFIG,
        _edited(CONFIG, {"/config/ExposedPorts": ["8080/tcp"]}),
        "/config/ExposedPorts",
        "['8080/tcp']",
    ),
    _trigger(
        "config.config.ExposedPorts.format",
        SHOULD,
        CONFIG,
        _edited(CONFIG, {"/config/ExposedPorts": {"80/http": {}}}),
        "/config/ExposedPorts/80~1http",
        "'80/http'",
    ),
    _trigger(
        "config.config.Volumes.type",
        MUST,
        CONFIG,
        _edited(CONFIG, {"/config/Volumes": {"/data": "yes"}}),
        "/config/Volumes/~1data",
        "'yes'",
    ),
    _trigger(
        "config.config.Labels.type",
        MUST,
        CONFIG,
        _edited(CONFIG, {"/config/Labels": {"com.example.port": 4242}}),
        "/config/Labels/com.example.port",
        "4242",
    ),
    _trigger(
        "config.rootfs.required",
        MUST,
        CONFIG,
        _edited(CONFIG, {"/rootfs": DELETE}),
        "/rootfs",
        "'rootfs'",
    ),
    _trigger(
        "config.rootfs.type",
        MUST,
        CONFIG,
        _edited(CONFIG, {"/rootfs": "layers"}),
        "/rootfs",
        "'layers'",
    ),
    _trigger(
        "config.rootfs.type.required",
        MUST,
        CONFIG,
        _edited(CONFIG, {"/rootfs/type": DELETE}),
        "/rootfs/type",
        "'type'",
    ),
    _trigger(
        "config.rootfs.type.value",
        MUST,
        CONFIG,
        _edited(CONFIG, {"/rootfs/type": "layer"}),
        "/rootfs/type",
        "'layer'",
    ),
    _trigger(
        "config.rootfs.diff_ids.required",
        MUST,
        CONFIG,
        _edited(CONFIG, {"/rootfs/diff_ids": DELETE}),
        "/rootfs/diff_ids",
        "'diff_ids'",
    ),
    _trigger(
        "config.rootfs.diff_ids.type",
        MUST,
        CONFIG,
        _edited(CONFIG, {"/rootfs/diff_ids": None}),
        "/rootfs/diff_ids",
        "None",
    ),
    _trigger(
        "config.rootfs.diff_ids.format",
        MUST,
        CONFIG,
        _edited(CONFIG, {"/rootfs/diff_ids": [DIGEST, "sha256:" + HEX.upper()]}),
        "/rootfs/diff_ids/1",
        repr("sha256:" + HEX.upper()),
    ),
    _trigger(
        "config.rootfs.diff_ids.unsupported",
        SHOULD,
        CONFIG,
        _edited(CONFIG, {"/rootfs/diff_ids": [UNSUPPORTED_DIGEST]}),
        "/rootfs/diff_ids/0",
        repr(UNSUPPORTED_DIGEST),
    ),
    _trigger(
        "config.history.type",
        MUST,
        CONFIG,
        _edited(CONFIG, {"/history": "should be an array"}),
        "/history",
        "'should be an array'",
    ),
    _trigger(
        "config.history.type",
        MUST,
        CONFIG,
        _edited(CONFIG, {"/history/0": None}),
        "/history/0",
        "None",
        "null-entry",
    ),
    _trigger(
        "config.history.created.format",
        MUST,
        CONFIG,
        _edited(CONFIG, {"/history/0/created": "yesterday"}),
        "/history/0/created",
        "'yesterday'",
    ),
    _trigger(
        "config.history.author.type",
        MUST,
        CONFIG,
        _edited(CONFIG, {"/history/0/author": 1}),
        "/history/0/author",
        "invalid author 1",
    ),
    _trigger(
        "config.history.created_by.type",
        MUST,
        CONFIG,
        _edited(CONFIG, {"/history/0/created_by": ["RUN", "make"]}),
        "/history/0/created_by",
        "['RUN', 'make']",
    ),
    _trigger(
        "config.history.comment.type",
        MUST,
        CONFIG,
        _edited(CONFIG, {"/history/0/comment": {"text": "hi"}}),
        "/history/0/comment",
        "{'text': 'hi'}",
    ),
    _trigger(
        "config.history.empty_layer.type",
        MUST,
        CONFIG,
        _edited(CONFIG, {"/history/0/empty_layer": "true"}),
        "/history/0/empty_layer",
        "'true'",
    ),
    _trigger(
        "layout.imageLayoutVersion.required",
        MUST,
        LAYOUT,
        _edited(LAYOUT, {"/imageLayoutVersion": DELETE}),
        "/imageLayoutVersion",
        "'imageLayoutVersion'",
    ),
    _trigger(
        "layout.imageLayoutVersion.value",
        MUST,
        LAYOUT,
        _edited(LAYOUT, {"/imageLayoutVersion": "1.1.0"}),
        "/imageLayoutVersion",
        "'1.1.0'",
    ),
]

# Rules that only validate_blob reports; the blob tests below trigger them.
BLOB_RULES = {"blob.size.mismatch", "blob.digest.mismatch"}


@pytest.mark.parametrize(
    ("rule", "level", "media_type", "document", "pointer", "expected_text"), TRIGGERS
)
def test_rule_triggered(
    rule: str,
    level: str,
    media_type: str,
    document: Any,
    pointer: str,
    expected_text: str,
) -> None:
    findings = validate_document(document, media_type)
    assert [finding.rule for finding in findings] == [rule], _describe(findings)
    finding = findings[0]
    assert finding.level == level
    assert finding.pointer == pointer
    assert expected_text in finding.message


def test_every_rule_has_a_trigger() -> None:
    triggered = {param.values[0] for param in TRIGGERS} | BLOB_RULES
    assert sorted(set(RULES) - triggered) == []
    assert sorted(triggered - set(RULES)) == []


def test_rule_levels_are_must_or_should() -> None:
    assert set(RULES.values()) == {MUST, SHOULD}


# --------------------------------------------------------------- digests

MALFORMED_DIGESTS = [
    pytest.param(f"sha256:{HEX.upper()}", id="uppercase-hex"),
    pytest.param(f"SHA256:{HEX}", id="uppercase-algorithm"),
    pytest.param(f"sha256:{HEX[:63]}", id="63-hex-digits"),
    pytest.param("sha256:", id="empty-encoded"),
    pytest.param("sha256:../../etc/passwd", id="path-traversal"),
    pytest.param(f"sha256+foo+-b:{HEX}", id="repeated-separator"),
    pytest.param(f"sha512:{HEX}", id="sha512-64-digits"),
    pytest.param(7682, id="integer"),
]


@pytest.mark.parametrize("digest", MALFORMED_DIGESTS)
def test_digest_malformed(digest: Any) -> None:
    findings = validate_descriptor({**_descriptor(), "digest": digest})
    assert [finding.rule for finding in findings] == ["descriptor.digest.format"]
    assert findings[0].level == MUST
    assert findings[0].pointer == "/digest"
    assert repr(digest) in findings[0].message
    assert not findings.ok


UNSUPPORTED_DIGESTS = [
    pytest.param("sha384:" + "0123456789abcdef" * 6, id="sha384"),
    pytest.param(UNSUPPORTED_DIGEST, id="sha256+b64u"),
    pytest.param(
        "multihash+base58:QmRZxt2b1FVZPNqd8hsiykDL3TdBDeTSPX9Kv46HmX4Gx8",
        id="multihash",
    ),
]


@pytest.mark.parametrize("digest", UNSUPPORTED_DIGESTS)
def test_digest_unsupported(digest: str) -> None:
    findings = validate_descriptor({**_descriptor(), "digest": digest})
    assert [finding.rule for finding in findings] == ["descriptor.digest.unsupported"]
    assert findings[0].level == SHOULD
    assert findings[0].pointer == "/digest"
    assert repr(digest) in findings[0].message
    assert findings.ok


def test_digest_sha512_valid() -> None:
    digest = "sha512:" + "0123456789abcdef" * 8
    assert len(digest.partition(":")[2]) == 128
    assert validate_descriptor({**_descriptor(), "digest": digest}) == []


# ----------------------------------------------------------------- blobs


def _blob_descriptor(content: bytes, **changes: Any) -> dict[str, Any]:
    descriptor = {
        "mediaType": "text/plain",
        "size": len(content),
        "digest": digest_bytes(content),
    }
    descriptor.update(changes)
    return descriptor


def test_blob_digest_mismatch() -> None:
    expected = digest_bytes(b"hello\n")
    findings = validate_blob(b"hello", _blob_descriptor(b"hello", digest=expected))
    assert [finding.rule for finding in findings] == ["blob.digest.mismatch"]
    assert findings[0].level == MUST
    assert findings[0].pointer == "/digest"
    assert repr(expected) in findings[0].message
    assert repr(digest_bytes(b"hello")) in findings[0].message


def test_blob_size_mismatch() -> None:
    findings = validate_blob(b"hello", _blob_descriptor(b"hello", size=6))
    assert [finding.rule for finding in findings] == ["blob.size.mismatch"]
    assert findings[0].level == MUST
    assert findings[0].pointer == "/size"
    assert "size is 6" in findings[0].message
    assert "5 bytes" in findings[0].message


def test_blob_size_and_digest_mismatch() -> None:
    descriptor = _blob_descriptor(b"hello\n")
    findings = validate_blob(b"hello", descriptor, "/layers/2")
    assert [(finding.rule, finding.pointer) for finding in findings] == [
        ("blob.size.mismatch", "/layers/2/size"),
        ("blob.digest.mismatch", "/layers/2/digest"),
    ]


def test_blob_matching_content() -> None:
    assert validate_blob(b"hello", _blob_descriptor(b"hello")) == []


def test_blob_sha512_content() -> None:
    descriptor = _blob_descriptor(b"hello", digest=digest_bytes(b"hello", "sha512"))
    assert validate_blob(b"hello", descriptor) == []
    assert validate_blob(b"hello!", {**descriptor, "size": 6})[0].rule == (
        "blob.digest.mismatch"
    )


def test_blob_model_descriptor() -> None:
    descriptor = Descriptor.from_json(_blob_descriptor(b"hello\n"))
    assert validate_blob(b"hello\n", descriptor) == []
    assert validate_blob(b"hello", descriptor)[0].rule == "blob.size.mismatch"


def test_blob_unsupported_digest_not_compared() -> None:
    descriptor = _blob_descriptor(b"hello", digest=UNSUPPORTED_DIGEST)
    findings = validate_blob(b"hello", descriptor)
    assert [finding.rule for finding in findings] == ["descriptor.digest.unsupported"]
    assert findings.ok


def test_blob_invalid_descriptor_reported() -> None:
    findings = validate_blob(b"hello", None)
    assert [finding.rule for finding in findings] == ["descriptor.type"]


# ------------------------------------------------------------------ nulls


def test_manifest_nulls_become_findings() -> None:
    document = {
        "schemaVersion": None,
        "mediaType": None,
        "artifactType": None,
        "config": None,
        "layers": [
            None,
            {
                "mediaType": None,
                "size": None,
                "digest": None,
                "urls": None,
                "annotations": None,
                "data": None,
                "artifactType": None,
                "platform": None,
            },
        ],
        "subject": None,
        "annotations": None,
    }
    findings = validate_manifest(document)
    assert {(finding.rule, finding.pointer) for finding in findings} == {
        ("manifest.schemaVersion.value", "/schemaVersion"),
        ("manifest.mediaType.value", "/mediaType"),
        ("manifest.artifactType.format", "/artifactType"),
        ("descriptor.type", "/config"),
        ("descriptor.type", "/layers/0"),
        ("descriptor.mediaType.format", "/layers/1/mediaType"),
        ("descriptor.size.type", "/layers/1/size"),
        ("descriptor.digest.format", "/layers/1/digest"),
        ("descriptor.urls.type", "/layers/1/urls"),
        ("descriptor.annotations.type", "/layers/1/annotations"),
        ("descriptor.data.format", "/layers/1/data"),
        ("descriptor.artifactType.format", "/layers/1/artifactType"),
        ("platform.type", "/layers/1/platform"),
        ("descriptor.type", "/subject"),
        ("manifest.annotations.type", "/annotations"),
    }
    assert all("None" in finding.message for finding in findings)


def test_index_nulls_become_findings() -> None:
    document = {
        "schemaVersion": 2,
        "manifests": [
            {
                "mediaType": mediatypes.OCI_MANIFEST,
                "size": 1,
                "digest": DIGEST,
                "urls": [None],
                "annotations": {"key": None},
                "platform": {
                    "architecture": None,
                    "os": None,
                    "os.version": None,
                    "os.features": [None],
                    "variant": None,
                },
            }
        ],
    }
    findings = validate_index(document)
    entry = "/manifests/0"
    assert {(finding.rule, finding.pointer) for finding in findings} == {
        ("index.mediaType.missing", "/mediaType"),
        ("descriptor.urls.format", f"{entry}/urls/0"),
        ("descriptor.annotations.type", f"{entry}/annotations/key"),
        ("platform.architecture.type", f"{entry}/platform/architecture"),
        ("platform.os.type", f"{entry}/platform/os"),
        ("platform.os.version.type", f"{entry}/platform/os.version"),
        ("platform.os.features.type", f"{entry}/platform/os.features/0"),
        ("platform.variant.type", f"{entry}/platform/variant"),
    }


def test_config_required_nulls_become_findings() -> None:
    findings = validate_config({"architecture": None, "os": None, "rootfs": None})
    assert [(finding.rule, finding.pointer) for finding in findings] == [
        ("config.architecture.type", "/architecture"),
        ("config.os.type", "/os"),
        ("config.rootfs.type", "/rootfs"),
    ]


def test_config_nested_nulls_become_findings() -> None:
    document = _edited(
        CONFIG,
        {
            "/rootfs/type": None,
            "/rootfs/diff_ids": [None],
            "/config/Env": [None],
            "/history": [None],
        },
    )
    findings = validate_config(document)
    assert [(finding.rule, finding.pointer) for finding in findings] == [
        ("config.config.Env.type", "/config/Env/0"),
        ("config.rootfs.type.value", "/rootfs/type"),
        ("config.rootfs.diff_ids.format", "/rootfs/diff_ids/0"),
        ("config.history.type", "/history/0"),
    ]


def test_config_optional_nulls_mean_absent() -> None:
    # config.md: any OPTIONAL field may be null, which is equal to absent.
    document = _edited(
        CONFIG,
        {
            "/created": None,
            "/author": None,
            "/variant": None,
            "/os.version": None,
            "/os.features": None,
            "/history/0/created": None,
            "/history/0/empty_layer": None,
            "/config/User": None,
            "/config/Env": None,
            "/config/Entrypoint": None,
            "/config/Cmd": None,
            "/config/ExposedPorts": None,
            "/config/Volumes": None,
            "/config/Labels": None,
            "/config/ArgsEscaped": None,
        },
    )
    assert validate_config(document) == []
    assert validate_config(_edited(CONFIG, {"/config": None, "/history": None})) == []


@pytest.mark.parametrize(
    "media_type",
    sorted(
        mediatypes.MANIFEST_TYPES
        | mediatypes.INDEX_TYPES
        | mediatypes.CONFIG_TYPES
        | BASES.keys()
    ),
)
def test_null_document_is_a_finding(media_type: str) -> None:
    findings = validate_document("null", media_type)
    assert len(findings) == 1
    assert findings[0].rule in {"document.type", "descriptor.type"}
    assert findings[0].pointer == ""
    assert "None" in findings[0].message


# ------------------------------------------------------------------ JSON


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("", id="empty"),
        pytest.param('{"imageLayoutVersion": "1.0.0"', id="unterminated"),
        pytest.param('{"imageLayoutVersion": NaN}', id="nan"),
        pytest.param(b'{"imageLayoutVersion": "\xff"}', id="invalid-utf8"),
        pytest.param("[" * 100_000, id="deeply-nested"),
    ],
)
def test_json_syntax_is_a_finding(text: str | bytes) -> None:
    findings = validate_document(text, mediatypes.OCI_LAYOUT)
    assert [finding.rule for finding in findings] == ["json.syntax"]
    assert findings[0].level == MUST
    assert findings[0].pointer == ""


def test_json_syntax_and_unknown_type_both_reported() -> None:
    findings = validate_document("{", "text/plain")
    assert [finding.rule for finding in findings] == [
        "document.mediaType.unknown",
        "json.syntax",
    ]


def test_document_bytes_and_text_agree() -> None:
    text = json.dumps(_manifest())
    assert validate_document(text, MANIFEST) == []
    assert validate_document(text.encode(), MANIFEST) == []


# ------------------------------------------------------ formats in detail


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/blob",
        "http://[::1]:5000/v2/library/alpine/blobs/sha256:abc",
        "https://example.com/a%20b?x=1&y=2#part",
    ],
)
def test_url_accepted(url: str) -> None:
    assert validate_descriptor({**_descriptor(), "urls": [url]}) == []


@pytest.mark.parametrize(
    "url",
    ["value", "https://exa mple.com/", "https://example.com/%zz", "/relative/path", ""],
)
def test_url_rejected(url: str) -> None:
    findings = validate_descriptor({**_descriptor(), "urls": [url]})
    assert [finding.rule for finding in findings] == ["descriptor.urls.format"]


@pytest.mark.parametrize(
    "created",
    [
        "2015-10-31T22:22:56.015925234Z",
        "2024-02-29T23:59:60+05:30",
        "2024-01-02t03:04:05z",
        "0001-01-01T00:00:00Z",
    ],
)
def test_created_accepted(created: str) -> None:
    assert validate_config(_edited(CONFIG, {"/created": created})) == []


@pytest.mark.parametrize(
    "created",
    [
        "2024-02-30T00:00:00Z",
        "2024-01-02 03:04:05Z",
        "2024-01-02T03:04:05",
        "2024-01-02T24:00:00Z",
        "2024-01-02T03:04:05+24:00",
        "2024-01-02",
        "\u0662\u0660\u0662\u0664-01-02T03:04:05Z",
        1704164645,
    ],
)
def test_created_rejected(created: Any) -> None:
    findings = validate_config(_edited(CONFIG, {"/created": created}))
    assert [finding.rule for finding in findings] == ["config.created.format"]
    assert repr(created) in findings[0].message


@pytest.mark.parametrize("data", ["e30==", "e3 0=", "e30-", "e30=e30="])
def test_data_rejected(data: str) -> None:
    findings = validate_descriptor({**_descriptor(), "data": data})
    assert [finding.rule for finding in findings] == ["descriptor.data.format"]


def test_data_empty_content() -> None:
    descriptor = {
        "mediaType": "text/plain",
        "size": 0,
        "digest": digest_bytes(b""),
        "data": "",
    }
    assert validate_descriptor(descriptor) == []


@pytest.mark.parametrize("port", ["80", "53/udp", "9/sctp", "65535/tcp"])
def test_exposed_port_accepted(port: str) -> None:
    document = _edited(CONFIG, {"/config/ExposedPorts": {port: {}}})
    assert validate_config(document) == []


@pytest.mark.parametrize("port", ["0/tcp", "65536", "80/TCP", "http", "80-90/tcp"])
def test_exposed_port_rejected(port: str) -> None:
    document = _edited(CONFIG, {"/config/ExposedPorts": {port: {}}})
    findings = validate_config(document)
    assert [finding.rule for finding in findings] == [
        "config.config.ExposedPorts.format"
    ]
    assert findings.ok


def test_pointer_escapes_tilde_and_slash() -> None:
    document = {**_descriptor(), "annotations": {"a~b/c": 1}}
    findings = validate_descriptor(document)
    assert findings[0].pointer == "/annotations/a~0b~1c"


def test_media_type_length_limit() -> None:
    longest = "a" * 127 + "/" + "b" * 127
    assert validate_descriptor({**_descriptor(), "mediaType": longest}) == []
    too_long = "a" * 128 + "/b"
    findings = validate_descriptor({**_descriptor(), "mediaType": too_long})
    assert [finding.rule for finding in findings] == ["descriptor.mediaType.format"]


def test_media_type_parameters_rejected() -> None:
    # The upstream schema's pattern has no room for "; charset=utf-8".
    document = {**_descriptor(), "mediaType": "text/plain; charset=utf-8"}
    findings = validate_descriptor(document)
    assert [finding.rule for finding in findings] == ["descriptor.mediaType.format"]


def test_empty_index_manifests_allowed() -> None:
    assert validate_index(_edited(INDEX, {"/manifests": []})) == []


# ------------------------------------------------- Docker and the models


def test_docker_manifest_valid_without_media_type() -> None:
    document = _edited(MANIFEST, {"/mediaType": mediatypes.DOCKER_MANIFEST})
    assert validate_manifest(document) == []
    assert validate_document(document, mediatypes.DOCKER_MANIFEST) == []


def test_docker_list_valid_as_docker_type() -> None:
    document = _edited(INDEX, {"/mediaType": mediatypes.DOCKER_MANIFEST_LIST})
    assert validate_index(document) == []
    assert validate_document(document, mediatypes.DOCKER_MANIFEST_LIST) == []
    findings = validate_document(document, mediatypes.OCI_INDEX)
    assert [finding.rule for finding in findings] == ["index.mediaType.value"]


def test_docker_config_valid() -> None:
    assert validate_document(_config(), mediatypes.DOCKER_CONFIG) == []


def test_models_accepted() -> None:
    manifest = parse_document(json.dumps(_manifest()))
    assert validate_manifest(manifest) == []
    index = parse_document(_edited(INDEX, {"/schemaVersion": 3}))
    findings = validate_index(index)
    assert [finding.rule for finding in findings] == ["index.schemaVersion.value"]


def test_layout_header_function() -> None:
    assert validate_layout_header(_layout()) == []
    assert validate_layout_header("1.0.0")[0].rule == "document.type"


# --------------------------------------------------- results and errors


def _three_findings() -> Findings:
    document = {"mediaType": "foo/.bar", "size": -1, "digest": UNSUPPORTED_DIGEST}
    return validate_descriptor(document)


def test_every_finding_returned() -> None:
    findings = _three_findings()
    assert [finding.rule for finding in findings] == [
        "descriptor.mediaType.format",
        "descriptor.digest.unsupported",
        "descriptor.size.range",
    ]


def test_errors_warnings_ok() -> None:
    findings = _three_findings()
    assert [finding.rule for finding in findings.errors] == [
        "descriptor.mediaType.format",
        "descriptor.size.range",
    ]
    assert [finding.rule for finding in findings.warnings] == [
        "descriptor.digest.unsupported"
    ]
    assert isinstance(findings.errors, Findings)
    assert not findings.ok
    assert findings.warnings.ok


def test_raise_for_findings_lists_every_must() -> None:
    findings = _three_findings()
    with pytest.raises(ValidationError) as caught:
        findings.raise_for_findings()
    error = caught.value
    assert isinstance(error, ImageError)
    assert error.findings == findings
    message = str(error)
    lines = message.splitlines()
    assert len(lines) == 1 + len(findings.errors)
    for finding in findings.errors:
        assert str(finding) in lines
    assert "descriptor.digest.unsupported" not in message


def test_raise_for_findings_allows_warnings() -> None:
    findings = validate_descriptor({**_descriptor(), "digest": UNSUPPORTED_DIGEST})
    assert findings.raise_for_findings() is None


def test_frame_columns() -> None:
    findings = _three_findings()
    frame = findings.frame()
    assert list(frame.columns) == ["rule", "level", "pointer", "message"]
    assert list(frame.columns) == list(FRAME_COLUMNS)
    assert len(frame) == 3
    assert frame["level"].tolist() == [MUST, SHOULD, MUST]
    assert frame["pointer"].tolist() == ["/mediaType", "/digest", "/size"]


def test_frame_empty() -> None:
    frame = Findings().frame()
    assert list(frame.columns) == list(FRAME_COLUMNS)
    assert len(frame) == 0


def test_finding_frozen_and_printable() -> None:
    finding = Finding("descriptor.size.range", MUST, "/size", "invalid size -1")
    with pytest.raises(dataclasses.FrozenInstanceError):
        finding.rule = "other"  # type: ignore[misc]
    assert str(finding) == "MUST descriptor.size.range at /size: invalid size -1"
    root = Finding("json.syntax", MUST, "", "invalid JSON")
    assert str(root) == "MUST json.syntax at (root): invalid JSON"
