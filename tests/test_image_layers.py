"""Opening, listing and comparing layer tars built in memory."""

from __future__ import annotations

import bz2
import gzip
import io
import sys
import tarfile
import time
import zlib

import pandas as pd
import pytest

from ocilab.errors import ImageError
from ocilab.image import layers, mediatypes
from ocilab.image.digest import digest_bytes
from ocilab.image.layers import (
    diff_layers,
    iter_members,
    list_layer,
    normalise_path,
    open_layer,
    parse_whiteout,
)

MTIME = 1_700_000_000


def member(
    name: str,
    kind: bytes = tarfile.REGTYPE,
    data: bytes = b"",
    *,
    mode: int = 0o644,
    link: str = "",
    uid: int = 0,
    gid: int = 0,
    mtime: int = MTIME,
    major: int = 0,
    minor: int = 0,
) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.linkname = link
    info.uid, info.gid = uid, gid
    info.uname, info.gname = ("root", "root") if uid == 0 else ("app", "app")
    info.mtime = mtime
    info.devmajor, info.devminor = major, minor
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    return info, data


def layer(*members: tuple[tarfile.TarInfo, bytes], compress: bool = False) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if info.isreg() else None)
    raw = buffer.getvalue()
    return gzip.compress(raw, mtime=0) if compress else raw


def sample_layer(compress: bool = False) -> bytes:
    return layer(
        member("./etc/", tarfile.DIRTYPE, mode=0o755),
        member("./etc/hosts", data=b"127.0.0.1 localhost\n", uid=1000, gid=1001),
        member("bin/sh", tarfile.SYMTYPE, link="/bin/busybox", mode=0o777),
        member("bin/ash", tarfile.LNKTYPE, link="bin/busybox"),
        member("dev/null", tarfile.CHRTYPE, mode=0o666, major=1, minor=3),
        member("dev/loop0", tarfile.BLKTYPE, mode=0o660, major=7, minor=0),
        member("run/fifo", tarfile.FIFOTYPE, mode=0o600),
        member("usr/bin/su", data=b"#!", mode=0o4755),
        member("etc/.wh.motd"),
        member("var/.wh..wh..opq"),
        compress=compress,
    )


# --- open_layer ------------------------------------------------------------


@pytest.mark.parametrize("compress", [False, True], ids=["tar", "gzip"])
def test_open_layer_detects_compression(compress: bool) -> None:
    with open_layer(sample_layer(compress)) as tar:
        names = [info.name for info in iter_members(tar)]
    assert names[0] == "./etc"
    assert len(names) == 10


def test_open_layer_reads_path(tmp_path) -> None:
    blob = tmp_path / "layer.tar.gz"
    blob.write_bytes(sample_layer(compress=True))
    with open_layer(blob) as tar:
        count = sum(1 for _ in iter_members(tar))
    assert count == 10


class _PipeReader(io.RawIOBase):
    """A binary stream that cannot seek, like a socket or an HTTP body."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def readinto(self, buffer) -> int:
        chunk = self._data.read(min(len(buffer), 100))
        buffer[: len(chunk)] = chunk
        return len(chunk)


@pytest.mark.parametrize("compress", [False, True], ids=["tar", "gzip"])
def test_open_layer_reads_unseekable_stream(compress: bool) -> None:
    stream = _PipeReader(sample_layer(compress))
    with open_layer(stream) as tar:
        count = sum(1 for _ in iter_members(tar))
    assert count == 10


def test_open_layer_zstd_without_module(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "zstandard", None)
    blob = b"\x28\xb5\x2f\xfd" + b"\x00" * 64
    with pytest.raises(ImageError) as caught, open_layer(blob, name="layer 4"):
        pass
    assert mediatypes.OCI_LAYER_TAR_ZSTD in str(caught.value)
    assert "zstandard" in str(caught.value)
    assert "layer 4" in str(caught.value)


def test_open_layer_rejects_bzip2() -> None:
    blob = bz2.compress(sample_layer())
    with pytest.raises(ImageError, match="bzip2"), open_layer(blob):
        pass


def test_open_layer_rejects_unknown_source() -> None:
    source: object = 42
    with pytest.raises(TypeError, match="path, bytes or a binary file"):
        list_layer(source)  # type: ignore[arg-type]


def _truncated_data() -> bytes:
    return layer(member("big", data=b"a" * 5000))[:1536]


def _truncated_at_header() -> bytes:
    return layer(member("a", data=b"x"), member("b", data=b"y"))[:1024]


def _bad_gzip_crc() -> bytes:
    blob = bytearray(sample_layer(compress=True))
    blob[-8] ^= 0xFF
    return bytes(blob)


@pytest.mark.parametrize(
    "blob",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"not a tar at all" * 64, id="garbage"),
        pytest.param(_truncated_data(), id="truncated-in-data"),
        pytest.param(_truncated_at_header(), id="truncated-at-header"),
        pytest.param(sample_layer(compress=True)[:200], id="truncated-gzip"),
        pytest.param(_bad_gzip_crc(), id="gzip-crc"),
    ],
)
def test_list_layer_damaged_raises(blob: bytes) -> None:
    with pytest.raises(ImageError, match="layer 3"):
        list_layer(blob, name="layer 3")


def test_list_layer_empty_tar() -> None:
    frame = list_layer(layer())
    assert frame.empty
    assert "path" in frame.columns


# --- list_layer ------------------------------------------------------------


def test_list_layer_columns() -> None:
    frame = list_layer(sample_layer())
    assert list(frame.columns) == [
        "path",
        "type",
        "size",
        "mode",
        "mode_octal",
        "uid",
        "gid",
        "uname",
        "gname",
        "mtime",
        "link_target",
        "devmajor",
        "devminor",
        "digest",
        "whiteout",
        "whiteout_target",
        "name",
    ]


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("etc", "dir"),
        ("etc/hosts", "file"),
        ("bin/sh", "symlink"),
        ("bin/ash", "hardlink"),
        ("dev/null", "char"),
        ("dev/loop0", "block"),
        ("run/fifo", "fifo"),
    ],
    ids=["dir", "file", "symlink", "hardlink", "char", "block", "fifo"],
)
def test_list_layer_types(path: str, kind: str) -> None:
    frame = list_layer(sample_layer()).set_index("path")
    assert frame.loc[path, "type"] == kind


def test_list_layer_file_row() -> None:
    row = list_layer(sample_layer()).set_index("path").loc["etc/hosts"]
    assert row["size"] == 20
    assert row["mode"] == 0o644
    assert row["mode_octal"] == "0o644"
    assert row["uid"] == 1000
    assert row["gid"] == 1001
    assert row["uname"] == "app"
    assert row["mtime"] == pd.Timestamp(MTIME, unit="s", tz="UTC")
    assert row["digest"] == digest_bytes(b"127.0.0.1 localhost\n")
    assert row["name"] == "./etc/hosts"


def test_list_layer_setuid_mode() -> None:
    row = list_layer(sample_layer()).set_index("path").loc["usr/bin/su"]
    assert row["mode_octal"] == "0o4755"


def test_list_layer_links_and_devices() -> None:
    frame = list_layer(sample_layer()).set_index("path")
    assert frame.loc["bin/sh", "link_target"] == "/bin/busybox"
    assert frame.loc["bin/ash", "link_target"] == "bin/busybox"
    assert frame.loc["dev/null", "devmajor"] == 1
    assert frame.loc["dev/null", "devminor"] == 3
    assert pd.isna(frame.loc["etc/hosts", "devmajor"])
    assert pd.isna(frame.loc["etc/hosts", "link_target"])


def test_list_layer_whiteout_columns() -> None:
    frame = list_layer(sample_layer()).set_index("path")
    assert frame.loc["etc/.wh.motd", "whiteout"] == "file"
    assert frame.loc["etc/.wh.motd", "whiteout_target"] == "etc/motd"
    assert frame.loc["var/.wh..wh..opq", "whiteout"] == "opaque"
    assert frame.loc["var/.wh..wh..opq", "whiteout_target"] == "var"
    assert pd.isna(frame.loc["etc/hosts", "whiteout"])


def test_list_layer_long_name() -> None:
    name = "deep/" + "d" * 120 + "/" + "f" * 120
    frame = list_layer(layer(member(name, data=b"long")))
    assert frame.loc[0, "path"] == name


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("./a/b", "a/b"),
        ("/a/b", "a/b"),
        ("a//b/./c/", "a/b/c"),
        ("./", "."),
        ("../x", "../x"),
    ],
    ids=["dot-slash", "absolute", "redundant", "root", "dotdot-kept"],
)
def test_normalise_path(name: str, expected: str) -> None:
    assert normalise_path(name) == expected


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("a/b", None),
        ("a/.wh.b", ("file", "a/b")),
        (".wh.top", ("file", "top")),
        ("a/.wh..wh..opq", ("opaque", "a")),
        (".wh..wh..opq", ("opaque", ".")),
        ("a/.wh..wh..opqx", ("file", "a/.wh..opqx")),
        ("a/.wh.", ("invalid", None)),
        ("a/.wh..", ("invalid", None)),
        ("a/.wh...", ("invalid", None)),
        ("a/x.wh.b", None),
    ],
    ids=[
        "plain",
        "file",
        "top-level",
        "opaque",
        "opaque-root",
        "opaque-lookalike",
        "empty-name",
        "dot",
        "dotdot",
        "infix",
    ],
)
def test_parse_whiteout(path: str, expected) -> None:
    assert parse_whiteout(path) == expected


# --- diff_layers -----------------------------------------------------------


def _lower() -> bytes:
    return layer(
        member("etc/", tarfile.DIRTYPE, mode=0o755),
        member("etc/hosts", data=b"old"),
        member("etc/passwd", data=b"root:x:0:0"),
        member("etc/motd", data=b"hi"),
        member("opt/", tarfile.DIRTYPE, mode=0o755),
        member("opt/app/", tarfile.DIRTYPE, mode=0o755),
        member("opt/app/bin", data=b"elf"),
        member("var/", tarfile.DIRTYPE, mode=0o755),
        member("var/log", data=b"log"),
        member("var/keep", data=b"keep"),
        member("bin/sh", tarfile.SYMTYPE, link="busybox", mode=0o777),
    )


def _upper() -> bytes:
    return layer(
        member("etc/", tarfile.DIRTYPE, mode=0o755, mtime=MTIME + 60),
        member("etc/hosts", data=b"newer", mtime=MTIME + 60),
        member("etc/passwd", data=b"root:x:0:0", mode=0o600),
        member("etc/.wh.motd"),
        member("opt/.wh.app"),
        member("var/.wh..wh..opq"),
        member("var/keep", data=b"keep"),
        member("bin/sh", tarfile.SYMTYPE, link="bash", mode=0o777),
        member("srv/new", data=b"n"),
        member("tmp/.wh.ghost"),
    )


def _changes() -> dict[tuple[str, str], dict]:
    frame = diff_layers(_lower(), _upper())
    return {(row["path"], row["change"]): row for row in frame.to_dict("records")}


def test_diff_layers_columns() -> None:
    frame = diff_layers(_lower(), _upper())
    assert list(frame.columns) == [
        "path",
        "change",
        "lower_type",
        "upper_type",
        "changed",
        "whiteout",
    ]


@pytest.mark.parametrize(
    ("path", "change"),
    [
        ("srv/new", "added"),
        ("etc/hosts", "modified"),
        ("etc/passwd", "modified"),
        ("bin/sh", "modified"),
        ("etc/motd", "removed"),
        ("opt/app", "removed"),
        ("opt/app/bin", "removed"),
        ("var", "opaque"),
        ("var/log", "removed"),
        ("tmp/ghost", "removed"),
    ],
    ids=[
        "added",
        "content",
        "mode",
        "link-target",
        "whiteout-file",
        "whiteout-dir",
        "whiteout-dir-child",
        "opaque",
        "opaque-child",
        "whiteout-missing",
    ],
)
def test_diff_layers_reports(path: str, change: str) -> None:
    assert (path, change) in _changes()


@pytest.mark.parametrize(
    ("path", "changed"),
    [("etc/hosts", "size,digest"), ("etc/passwd", "mode"), ("bin/sh", "link_target")],
    ids=["content", "mode", "link-target"],
)
def test_diff_layers_changed_fields(path: str, changed: str) -> None:
    assert _changes()[(path, "modified")]["changed"] == changed


def test_diff_layers_omits_unchanged() -> None:
    paths = {path for path, _ in _changes()}
    assert "etc" not in paths
    assert "var/keep" not in paths


def test_diff_layers_names_whiteout() -> None:
    changes = _changes()
    assert changes[("opt/app/bin", "removed")]["whiteout"] == "opt/.wh.app"
    assert changes[("var/log", "removed")]["whiteout"] == "var/.wh..wh..opq"


def test_diff_layers_missing_whiteout_target() -> None:
    row = _changes()[("tmp/ghost", "removed")]
    assert pd.isna(row["lower_type"])


def test_diff_layers_compare_mtime() -> None:
    frame = diff_layers(_lower(), _upper(), compare_mtime=True)
    rows = frame.set_index(["path", "change"])
    assert rows.loc[("etc", "modified"), "changed"] == "mtime"
    assert rows.loc[("etc/hosts", "modified"), "changed"] == "size,digest,mtime"


class _FailingSource(io.RawIOBase):
    """A stream that returns one chunk, then raises, as a corrupt gzip stream does."""

    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        self.reads += 1
        if self.reads == 1:
            return b"x" * 10
        raise zlib.error("invalid block type")


class _StalledSource(io.RawIOBase):
    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        time.sleep(3)
        return b""


def test_read_ahead_raises_again_after_error() -> None:
    reader = layers._ReadAheadReader(_FailingSource())
    try:
        assert reader.read(10) == b"x" * 10
        with pytest.raises(zlib.error):
            reader.read(10)
        # A caller that catches the error and reads on must not see a clean end.
        with pytest.raises(zlib.error):
            reader.read(10)
        with pytest.raises(zlib.error):
            reader.readinto(bytearray(4))
    finally:
        reader.close()


def test_read_ahead_close_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(layers, "_CLOSE_WAIT", 0.2)
    reader = layers._ReadAheadReader(_StalledSource())
    started = time.monotonic()
    reader.close()
    assert time.monotonic() - started < 1.5
    assert reader.closed
