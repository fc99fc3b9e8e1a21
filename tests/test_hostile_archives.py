"""Run every hostile archive of the corpus through unpack_layers and list_layer.

For each case the root filesystem sits in a sandbox with sentinel folders
beside it and above it (layer_sandbox.sandbox). The tests check that nothing
outside the root changed and nothing carrying the escape name appeared on the
host's "/". They also check that each tar member was either applied inside
the root or reported: listed in UnpackReport.rejected, or named by the
layer in an ImageError. test_corpus_summary counts the archives tried and
the escapes and prints both.
"""

from __future__ import annotations

import io
import os
import tarfile
import tracemalloc
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

from ocilab.errors import ImageError
from ocilab.image import mediatypes
from ocilab.image.digest import digest_bytes
from ocilab.image.layers import list_layer
from ocilab.image.unpack import UnpackReport
from ocilab.image.validate import validate_blob

pytest.register_assert_rewrite("tests.hostile_archives")

from .hostile_archives import BOMB_SIZE, CASES, HostileCase, gzip_bomb
from .layer_sandbox import Sandbox, sandbox

IS_ROOT = os.geteuid() == 0


def _case_params() -> list:
    return [
        pytest.param(
            case,
            id=case.name,
            marks=pytest.mark.skipif(
                case.needs_root and not IS_ROOT, reason="needs root"
            ),
        )
        for case in CASES
    ]


@pytest.fixture
def box(tmp_path: Path) -> Iterator[Sandbox]:
    with sandbox(tmp_path) as created:
        yield created


@cache
def _member_count(blob: bytes) -> int:
    # Random access mode skips file data with seeks, which is fast for the bomb.
    with tarfile.open(fileobj=io.BytesIO(blob), mode="r:*") as tar:
        return len(tar.getmembers())


def _leftover_temp_files(rootfs: Path) -> list[str]:
    return [str(path.relative_to(rootfs)) for path in rootfs.rglob(".ocilab-unpack-*")]


def run_case(case: HostileCase, box: Sandbox) -> UnpackReport | ImageError:
    """Unpack the case's layers into the sandbox and return the report or the ImageError."""
    layers = case.build(box)
    try:
        return box.unpack(*layers, **case.options)
    except ImageError as error:
        return error


def escapes(box: Sandbox) -> dict[str, object]:
    """Return every change outside the root, and every escape name on the host."""
    found: dict[str, object] = dict(box.changed_outside())
    for path in box.escaped_to_host():
        found[path] = "created on the host"
    return found


# --- one test per case -----------------------------------------------------


@pytest.mark.parametrize("case", _case_params())
def test_hostile_archive(case: HostileCase, box: Sandbox) -> None:
    layers = case.build(box)
    outcome = run_case(case, box)
    assert escapes(box) == {}
    assert _leftover_temp_files(box.rootfs) == []
    if case.error is not None:
        assert isinstance(outcome, ImageError), f"expected ImageError, got {outcome}"
        assert case.error in str(outcome)
        return
    assert isinstance(outcome, UnpackReport), f"unexpected {outcome!r}"
    rejected = tuple(item.member_name for item in outcome.rejected)
    assert rejected == case.rejected
    assert all(item.reason for item in outcome.rejected)
    members = sum(_member_count(blob) for blob in layers)
    accounted = outcome.applied + outcome.whiteouts + len(outcome.rejected)
    assert accounted == members
    assert outcome.layers == len(layers)
    if case.check is not None:
        case.check(box, outcome)


@pytest.mark.parametrize("case", _case_params())
def test_hostile_archive_listing(case: HostileCase, box: Sandbox) -> None:
    listed: set[str] = set()
    for index, blob in enumerate(case.build(box)):
        media_type = (
            mediatypes.OCI_LAYER_TAR_GZIP
            if blob[:2] == b"\x1f\x8b"
            else mediatypes.OCI_LAYER_TAR
        )
        descriptor = {
            "mediaType": media_type,
            "digest": digest_bytes(blob),
            "size": len(blob),
        }
        assert validate_blob(blob, descriptor).ok
        try:
            frame = list_layer(blob, name=f"layer {index}")
        except ImageError as error:
            assert case.error is not None, f"list_layer raised {error}"
            assert f"layer {index}" in str(error)
            continue
        assert len(frame) == _member_count(blob)
        listed.update(frame["name"])
    # The listing shows names as stored, '..' included, so a reader sees them.
    for name in case.rejected:
        if ".." in name.split("/"):
            assert name in listed
    assert escapes(box) == {}


# --- the gzip bomb ---------------------------------------------------------

# Far below BOMB_SIZE (256 MiB): the 1 MiB copy buffer, tarfile's and gzip's
# buffers, and room for the Python objects of one entry.
MEMORY_LIMIT = 16 << 20


def test_gzip_bomb_streams(box: Sandbox) -> None:
    blob = gzip_bomb()
    assert len(blob) < BOMB_SIZE // 500
    tracemalloc.start()
    try:
        report = box.unpack(blob)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert report.applied == 1
    assert (box.rootfs / "bomb").stat().st_size == BOMB_SIZE
    assert peak < MEMORY_LIMIT, f"peak traced memory {peak} bytes"
    assert escapes(box) == {}


def test_gzip_bomb_listing_streams() -> None:
    blob = gzip_bomb()
    tracemalloc.start()
    try:
        frame = list_layer(blob)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert frame["size"].tolist() == [BOMB_SIZE]
    assert peak < MEMORY_LIMIT, f"peak traced memory {peak} bytes"


# --- summary ---------------------------------------------------------------


def test_corpus_summary(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    cases = [case for case in CASES if IS_ROOT or not case.needs_root]
    archives = 0
    escaped: dict[str, dict[str, object]] = {}
    outcomes: dict[str, int] = {"unpacked": 0, "ImageError": 0, "rejected entries": 0}
    for case in cases:
        with sandbox(tmp_path / case.name) as case_box:
            archives += len(case.build(case_box))
            outcome = run_case(case, case_box)
            found = escapes(case_box)
        if found:
            escaped[case.name] = found
        if isinstance(outcome, ImageError):
            outcomes["ImageError"] += 1
        else:
            outcomes["unpacked"] += 1
            outcomes["rejected entries"] += len(outcome.rejected)
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    with capture.global_and_fixture_disabled():
        print(
            f"\nhostile archives: {len(cases)} cases, {archives} layer tarballs "
            f"tried, escapes: {len(escaped)}; outcomes: {outcomes}"
        )
    assert len(cases) >= 20
    assert archives >= 20
    assert escaped == {}
