"""Unpacking layers into a root filesystem: whiteouts, links and hostile archives.

Every hostile test puts the root filesystem four levels below tmp_path, so
that each ``..`` escape would land inside tmp_path, and checks with a snapshot
that nothing in tmp_path outside the root filesystem changed.
"""

from __future__ import annotations

import os
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from ocilab.errors import ImageError
from ocilab.image.unpack import Cleaned, UnpackReport, unpack_layers

from .layer_sandbox import (
    MTIME,
    Member,
    Sandbox,
    device,
    directory,
    fifo,
    file,
    hardlink,
    layer,
    sandbox,
    symlink,
)

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")


@pytest.fixture
def box(tmp_path: Path) -> Iterator[Sandbox]:
    with sandbox(tmp_path) as created:
        yield created


def _rejected_names(report: UnpackReport) -> list[str]:
    return [item.member_name for item in report.rejected]


def _on_disk(rootfs: Path) -> list[str]:
    return sorted(str(path.relative_to(rootfs)) for path in rootfs.rglob("*"))


# --- symlink and name traversal --------------------------------------------


def _traversal_layer(box: Sandbox) -> bytes:
    return layer(
        symlink("pwn", str(box.outside)),
        file("pwn/escaped.txt", b"x"),
        symlink("up", "../../.."),
        directory("up/etc/"),
        file("up/etc/x", b"etc"),
        file("../evil.txt", b"evil"),
        file(f"/{box.escape}.txt", b"abs"),
    )


def test_traversal_writes_nothing_outside(box: Sandbox) -> None:
    box.unpack(_traversal_layer(box))
    assert box.changed_outside() == {}
    assert box.escaped_to_host() == []


def test_traversal_keeps_symlink_text(box: Sandbox) -> None:
    box.unpack(_traversal_layer(box))
    assert os.readlink(box.rootfs / "pwn") == str(box.outside)
    assert os.readlink(box.rootfs / "up") == "../../.."


def test_traversal_resolves_inside_root(box: Sandbox) -> None:
    box.unpack(_traversal_layer(box))
    assert (box.inside(box.outside) / "escaped.txt").read_text() == "x"
    assert (box.rootfs / "etc" / "x").read_text() == "etc"


def test_traversal_dotdot_rejected(box: Sandbox) -> None:
    report = box.unpack(_traversal_layer(box))
    assert _rejected_names(report) == ["../evil.txt"]
    assert "'..'" in report.rejected[0].reason


def test_traversal_absolute_cleaned(box: Sandbox) -> None:
    report = box.unpack(_traversal_layer(box))
    name = f"{box.escape}.txt"
    assert report.cleaned == (Cleaned(0, f"/{name}", name),)
    assert (box.rootfs / name).read_text() == "abs"


@pytest.mark.parametrize("target", ["/", "../../../.."], ids=["absolute", "dotdot"])
def test_traversal_across_layers(box: Sandbox, target: str) -> None:
    upper = layer(file(f"lib/{box.escape}", b"2"), directory(f"lib/{box.escape}-d/"))
    report = box.unpack(layer(symlink("lib", target)), upper)
    assert box.changed_outside() == {}
    assert box.escaped_to_host() == []
    assert (box.rootfs / box.escape).read_text() == "2"
    assert (box.rootfs / f"{box.escape}-d").is_dir()
    assert report.rejected == ()


def test_traversal_symlink_chain(box: Sandbox) -> None:
    box.unpack(
        layer(symlink("a", "b"), symlink("b", "c/../../.."), symlink("c", "/")),
        layer(file(f"a/{box.escape}", b"c")),
    )
    assert box.changed_outside() == {}
    assert box.escaped_to_host() == []
    assert (box.rootfs / box.escape).read_text() == "c"


def test_traversal_symlink_loop_rejected(box: Sandbox) -> None:
    report = box.unpack(
        layer(symlink("loop1", "loop2"), symlink("loop2", "loop1"), file("loop1/x"))
    )
    assert _rejected_names(report) == ["loop1/x"]
    assert "too many levels" in report.rejected[0].reason


def test_file_replaces_symlink_to_outside(box: Sandbox) -> None:
    box.unpack(
        layer(symlink("f", str(box.outside / "keep.txt"))),
        layer(file("f", b"new", mode=0o600)),
    )
    assert box.changed_outside() == {}
    assert not (box.rootfs / "f").is_symlink()
    assert (box.rootfs / "f").read_text() == "new"


def test_directory_replaces_symlink_to_outside(box: Sandbox) -> None:
    box.unpack(
        layer(symlink("d", str(box.outside))),
        layer(directory("d/", mode=0o700)),
    )
    assert box.changed_outside() == {}
    assert not (box.rootfs / "d").is_symlink()
    assert stat.S_IMODE((box.rootfs / "d").stat().st_mode) == 0o700


def test_directory_metadata_skips_later_symlink(box: Sandbox) -> None:
    # The directory's metadata is set at the end of the layer, when a later
    # entry has already replaced it with a symlink to the sentinel.
    report = box.unpack(
        layer(directory("d/", mode=0o700), symlink("d", str(box.outside)))
    )
    assert box.changed_outside() == {}
    assert (box.rootfs / "d").is_symlink()
    assert report.applied == 2


def test_whiteout_through_symlink(box: Sandbox) -> None:
    box.unpack(
        layer(symlink("lnk", str(box.outside))),
        layer(file("lnk/.wh.keep.txt", b""), file("lnk/.wh..wh..opq", b"")),
    )
    assert box.changed_outside() == {}
    assert box.inside(box.outside).is_dir()


def test_whiteout_removes_symlink_not_target(box: Sandbox) -> None:
    box.unpack(layer(symlink("lnk", str(box.outside))), layer(file(".wh.lnk", b"")))
    assert box.changed_outside() == {}
    assert not (box.rootfs / "lnk").is_symlink()


def test_device_through_symlink(box: Sandbox) -> None:
    report = box.unpack(
        layer(symlink("dev", str(box.outside)), fifo("dev/pipe")),
    )
    assert box.changed_outside() == {}
    assert stat.S_ISFIFO((box.inside(box.outside) / "pipe").lstat().st_mode)
    assert report.rejected == ()


# --- hardlinks -------------------------------------------------------------


def test_hardlink_inside(box: Sandbox) -> None:
    report = box.unpack(layer(file("a", b"data"), hardlink("b", "a")))
    first, second = (box.rootfs / "a").stat(), (box.rootfs / "b").stat()
    assert first.st_ino == second.st_ino
    assert first.st_nlink == 2
    assert report.applied == 2


def test_hardlink_absolute_target(box: Sandbox) -> None:
    box.unpack(layer(file("etc/a", b"data"), hardlink("b", "/etc/a")))
    assert (box.rootfs / "b").stat().st_ino == (box.rootfs / "etc/a").stat().st_ino


@pytest.mark.parametrize(
    ("members", "reason"),
    [
        pytest.param(
            lambda box: [hardlink("h", "../../etc/passwd")], "'..'", id="dotdot"
        ),
        pytest.param(
            lambda box: [
                symlink("s", str(box.outside / "keep.txt")),
                hardlink("h", "s"),
            ],
            "symbolic link",
            id="to-symlink",
        ),
        pytest.param(
            lambda box: [
                symlink("lnk", str(box.outside)),
                hardlink("h", "lnk/keep.txt"),
            ],
            "not found",
            id="through-symlink",
        ),
        pytest.param(
            lambda box: [hardlink("h", "later"), file("later", b"l")],
            "not found",
            id="later-entry",
        ),
        pytest.param(
            lambda box: [directory("d/"), hardlink("h", "d")],
            "not a regular file",
            id="to-directory",
        ),
        pytest.param(
            lambda box: [file("h", b"h"), hardlink("h", "h")],
            "itself",
            id="to-itself",
        ),
    ],
)
def test_hardlink_rejected(box: Sandbox, members, reason: str) -> None:
    report = box.unpack(layer(*members(box)))
    assert box.changed_outside() == {}
    assert _rejected_names(report) == ["h"]
    assert reason in report.rejected[0].reason


def test_hardlink_through_symlink_leaves_outside(box: Sandbox) -> None:
    box.unpack(layer(symlink("lnk", str(box.outside)), hardlink("h", "lnk/keep.txt")))
    assert (box.outside / "keep.txt").stat().st_nlink == 1
    assert not (box.rootfs / "h").exists()


def test_hardlink_replaces_existing(box: Sandbox) -> None:
    box.unpack(
        layer(file("b", b"old"), directory("d/"), file("d/child", b"c")),
        layer(file("a", b"new"), hardlink("b", "a"), hardlink("d", "a")),
    )
    assert (box.rootfs / "b").read_text() == "new"
    assert (box.rootfs / "b").stat().st_ino == (box.rootfs / "a").stat().st_ino
    assert (box.rootfs / "d").is_file()


def test_hardlink_repeated(box: Sandbox) -> None:
    report = box.unpack(layer(file("a", b"1"), hardlink("b", "a"), hardlink("b", "a")))
    assert report.rejected == ()
    assert _on_disk(box.rootfs) == ["a", "b"]


# --- devices, owners and modes ---------------------------------------------


@needs_root
def test_device_rejected_by_default_option(box: Sandbox) -> None:
    report = box.unpack(layer(device("dev/null")), allow_devices=False)
    assert _rejected_names(report) == ["dev/null"]
    assert "allow_devices" in report.rejected[0].reason
    assert not (box.rootfs / "dev" / "null").exists()


@needs_root
def test_device_created_when_allowed(box: Sandbox) -> None:
    report = box.unpack(layer(device("dev/null", 1, 3)), allow_devices=True)
    info = (box.rootfs / "dev" / "null").lstat()
    assert stat.S_ISCHR(info.st_mode)
    assert os.major(info.st_rdev) == 1
    assert os.minor(info.st_rdev) == 3
    assert stat.S_IMODE(info.st_mode) == 0o666
    assert report.rejected == ()


@needs_root
def test_device_through_symlink_stays_inside(box: Sandbox) -> None:
    box.unpack(
        layer(symlink("dev", str(box.outside)), device("dev/null")),
        allow_devices=True,
    )
    assert box.changed_outside() == {}
    assert stat.S_ISCHR((box.inside(box.outside) / "null").lstat().st_mode)


@needs_root
def test_setuid_kept_with_same_owner(box: Sandbox) -> None:
    box.unpack(
        layer(file("bin/su", b"#!", mode=0o4755, uid=1234, gid=5678)),
        same_owner=True,
    )
    info = (box.rootfs / "bin" / "su").stat()
    assert stat.S_IMODE(info.st_mode) == 0o4755
    assert info.st_uid == 1234
    assert info.st_gid == 5678


def test_setuid_cleared_without_same_owner(box: Sandbox) -> None:
    box.unpack(
        layer(file("bin/su", b"#!", mode=0o6755, uid=1234, gid=5678)),
        same_owner=False,
    )
    info = (box.rootfs / "bin" / "su").stat()
    assert stat.S_IMODE(info.st_mode) == 0o755
    assert info.st_uid == os.geteuid()


@needs_root
def test_symlink_owner_set(box: Sandbox) -> None:
    box.unpack(layer(symlink("s", "/nowhere")), same_owner=True)
    assert (box.rootfs / "s").lstat().st_uid == 0


def test_fifo_created(box: Sandbox) -> None:
    box.unpack(layer(fifo("run/pipe")))
    info = (box.rootfs / "run" / "pipe").lstat()
    assert stat.S_ISFIFO(info.st_mode)
    assert stat.S_IMODE(info.st_mode) == 0o640


def test_missing_parent_created_0755(box: Sandbox) -> None:
    box.unpack(layer(file("x/y/z", b"z")))
    assert stat.S_IMODE((box.rootfs / "x").stat().st_mode) == 0o755
    assert stat.S_IMODE((box.rootfs / "x" / "y").stat().st_mode) == 0o755


def test_mtimes_from_tar(box: Sandbox) -> None:
    box.unpack(
        layer(
            directory("d/", mode=0o750),
            file("d/f", b"f", mtime=MTIME + 5),
            symlink("d/s", "f"),
            file("d/g", b"g"),
        )
    )
    assert (box.rootfs / "d").stat().st_mtime == MTIME
    assert (box.rootfs / "d" / "f").stat().st_mtime == MTIME + 5
    assert (box.rootfs / "d" / "s").lstat().st_mtime == MTIME
    assert stat.S_IMODE((box.rootfs / "d").stat().st_mode) == 0o750


def test_root_entry_applied(box: Sandbox) -> None:
    report = box.unpack(layer(directory("./", mode=0o755), file("./a", b"a")))
    assert report.rejected == ()
    assert report.applied == 2
    assert (box.rootfs / "a").read_text() == "a"


def test_root_as_file_rejected(box: Sandbox) -> None:
    report = box.unpack(layer(file("./", b"x")))
    assert _rejected_names(report) == ["./"]


# --- replacing paths -------------------------------------------------------


def test_duplicate_entry_later_wins(box: Sandbox) -> None:
    box.unpack(layer(file("f", b"first"), file("f", b"second", mode=0o600)))
    assert (box.rootfs / "f").read_text() == "second"
    assert stat.S_IMODE((box.rootfs / "f").stat().st_mode) == 0o600


@pytest.mark.parametrize("same_layer", [False, True], ids=["two-layers", "one-layer"])
def test_file_replaces_directory(box: Sandbox, same_layer: bool) -> None:
    lower = [directory("p/"), directory("p/q/"), file("p/q/r", b"r")]
    upper = [file("p", b"file")]
    layers = [layer(*lower, *upper)] if same_layer else [layer(*lower), layer(*upper)]
    box.unpack(*layers)
    assert (box.rootfs / "p").read_text() == "file"


@pytest.mark.parametrize("same_layer", [False, True], ids=["two-layers", "one-layer"])
def test_directory_replaces_file(box: Sandbox, same_layer: bool) -> None:
    lower = [file("p", b"file")]
    upper = [directory("p/", mode=0o711), file("p/inner", b"i")]
    layers = [layer(*lower, *upper)] if same_layer else [layer(*lower), layer(*upper)]
    box.unpack(*layers)
    assert (box.rootfs / "p").is_dir()
    assert (box.rootfs / "p" / "inner").read_text() == "i"
    assert stat.S_IMODE((box.rootfs / "p").stat().st_mode) == 0o711


def test_directory_over_directory_keeps_children(box: Sandbox) -> None:
    box.unpack(
        layer(directory("d/", mode=0o755), file("d/old", b"o")),
        layer(directory("d/", mode=0o700)),
    )
    assert (box.rootfs / "d" / "old").read_text() == "o"
    assert stat.S_IMODE((box.rootfs / "d").stat().st_mode) == 0o700


def test_parent_is_file_rejected(box: Sandbox) -> None:
    report = box.unpack(layer(file("f", b"f")), layer(file("f/child", b"c")))
    assert _rejected_names(report) == ["f/child"]
    assert "not a directory" in report.rejected[0].reason


# --- whiteouts -------------------------------------------------------------


def _opaque_lower() -> bytes:
    return layer(
        directory("a/"),
        directory("a/b/"),
        file("a/b/foo", b"foo"),
        file("a/keep-me-not", b"k"),
    )


@pytest.mark.parametrize(
    "upper",
    [
        [file("a/new.txt", b"n"), file("a/.wh..wh..opq", b"")],
        [file("a/.wh..wh..opq", b""), file("a/new.txt", b"n")],
    ],
    ids=["marker-after", "marker-before"],
)
def test_opaque_whiteout(box: Sandbox, upper: list[Member]) -> None:
    report = box.unpack(_opaque_lower(), layer(*upper))
    assert sorted(os.listdir(box.rootfs / "a")) == ["new.txt"]
    assert report.whiteouts == 1
    assert report.rejected == ()


def test_opaque_keeps_same_layer_subtree(box: Sandbox) -> None:
    box.unpack(
        _opaque_lower(),
        layer(
            directory("a/"),
            directory("a/b/"),
            file("a/b/c", b"c"),
            file("a/.wh..wh..opq", b""),
        ),
    )
    assert _on_disk(box.rootfs) == ["a", "a/b", "a/b/c"]


def test_opaque_at_root(box: Sandbox) -> None:
    box.unpack(
        layer(file("a", b"a"), directory("d/"), file("d/x", b"x")),
        layer(file("c", b"c"), file(".wh..wh..opq", b"")),
    )
    assert _on_disk(box.rootfs) == ["c"]


def test_opaque_creates_missing_directory(box: Sandbox) -> None:
    report = box.unpack(layer(file("m/.wh..wh..opq", b"")))
    assert (box.rootfs / "m").is_dir()
    assert report.rejected == ()


def test_opaque_lookalike_is_file_whiteout(box: Sandbox) -> None:
    box.unpack(_opaque_lower(), layer(file("a/.wh..wh..opqx", b"")))
    assert sorted(os.listdir(box.rootfs / "a")) == ["b", "keep-me-not"]


@pytest.mark.parametrize(
    ("whiteout", "gone"),
    [("a/.wh.keep-me-not", "a/keep-me-not"), ("a/.wh.b", "a/b")],
    ids=["file", "directory-tree"],
)
def test_file_whiteout_removes(box: Sandbox, whiteout: str, gone: str) -> None:
    report = box.unpack(_opaque_lower(), layer(file(whiteout, b"")))
    assert not (box.rootfs / gone).exists()
    assert (box.rootfs / "a").is_dir()
    assert report.removed == 1


def test_whiteout_then_readd(box: Sandbox) -> None:
    box.unpack(
        layer(file("f", b"one")),
        layer(file(".wh.f", b"")),
        layer(file("f", b"three")),
    )
    assert (box.rootfs / "f").read_text() == "three"


def test_whiteout_spares_same_layer(box: Sandbox) -> None:
    box.unpack(layer(file("f", b"one")), layer(file("f", b"two"), file(".wh.f", b"")))
    assert (box.rootfs / "f").read_text() == "two"


def test_whiteout_spares_same_layer_children(box: Sandbox) -> None:
    box.unpack(
        layer(file("d/old", b"o")),
        layer(file("d/new", b"n"), file(".wh.d", b"")),
    )
    assert _on_disk(box.rootfs) == ["d", "d/new"]


@pytest.mark.parametrize(
    "name",
    ["a/.wh.", "a/.wh..", "a/.wh...", ".wh.."],
    ids=["empty", "dot", "dotdot", "root"],
)
def test_invalid_whiteout_rejected(box: Sandbox, name: str) -> None:
    report = box.unpack(_opaque_lower(), layer(file(name, b"")))
    assert _rejected_names(report) == [name]
    assert (box.rootfs / "a" / "keep-me-not").exists()


@pytest.mark.parametrize(
    "name",
    ["nope/.wh.x", "a/.wh.missing", "a/keep-me-not/.wh.x"],
    ids=["missing-parent", "missing-path", "parent-is-file"],
)
def test_whiteout_of_missing_path(box: Sandbox, name: str) -> None:
    report = box.unpack(_opaque_lower(), layer(file(name, b"")))
    assert report.rejected == ()
    assert report.whiteouts == 1
    assert report.removed == 0


def test_whiteout_markers_not_written(box: Sandbox) -> None:
    box.unpack(
        _opaque_lower(),
        layer(
            file("a/.wh..wh..opq", b""),
            file("a/.wh.b", b""),
            file("a/.wh..wh..opqx", b""),
            file("a/.wh.", b""),
        ),
    )
    assert [path for path in _on_disk(box.rootfs) if ".wh." in path] == []


def test_whiteout_directory_name_rejected(box: Sandbox) -> None:
    report = box.unpack(layer(file("a/.wh.dir/inner", b"")))
    assert _rejected_names(report) == ["a/.wh.dir/inner"]
    assert not (box.rootfs / "a").exists()


# --- formats and damaged layers --------------------------------------------


@pytest.mark.parametrize("compress", [False, True], ids=["tar", "gzip"])
def test_unpack_compression(box: Sandbox, compress: bool) -> None:
    blob = layer(directory("etc/"), file("etc/hosts", b"h"), compress=compress)
    report = box.unpack(blob)
    assert (box.rootfs / "etc" / "hosts").read_text() == "h"
    assert report.applied == 2


def test_unpack_long_name(box: Sandbox) -> None:
    name = "d" * 90 + "/" + "e" * 90 + "/" + "f" * 120
    box.unpack(layer(file(name, b"long")))
    assert (box.rootfs / name).read_text() == "long"


def test_unpack_path_source(box: Sandbox) -> None:
    blob = box.top / "layer.tar"
    blob.write_bytes(layer(file("a", b"a")))
    unpack_layers([blob], box.rootfs, progress=False)
    assert (box.rootfs / "a").read_text() == "a"


def _truncated(blob: bytes, keep: int) -> bytes:
    return blob[:keep]


@pytest.mark.parametrize(
    "second",
    [
        _truncated(layer(file("big", b"b" * 4000), file("after", b"a")), 1536),
        _truncated(layer(file("a", b"a"), file("b", b"b")), 1024),
        _truncated(layer(file("big", b"b" * 40000), compress=True), 60),
    ],
    ids=["in-data", "at-header", "gzip"],
)
def test_truncated_layer_raises(box: Sandbox, second: bytes) -> None:
    with pytest.raises(ImageError) as caught:
        box.unpack(layer(file("first", b"1")), second)
    assert "layer 1" in str(caught.value)
    assert "layers completed: 1" in str(caught.value)
    assert (box.rootfs / "first").read_text() == "1"
    assert [name for name in os.listdir(box.rootfs) if name.startswith(".ocilab")] == []


def test_truncated_file_not_left(box: Sandbox) -> None:
    blob = layer(file("big", b"b" * 4000))[:1536]
    with pytest.raises(ImageError, match="layer 0"):
        box.unpack(blob)
    assert os.listdir(box.rootfs) == []


# --- report ----------------------------------------------------------------


def test_report_frame(box: Sandbox) -> None:
    report = box.unpack(layer(file("../up", b""), file("/abs", b"")))
    frame = report.frame()
    assert list(frame.columns) == ["layer_index", "member_name", "outcome", "detail"]
    assert frame["outcome"].tolist() == ["rejected", "cleaned"]
    assert frame["detail"].tolist()[1] == "abs"


def test_report_counts(box: Sandbox) -> None:
    report = box.unpack(_opaque_lower(), layer(file("a/.wh.b", b""), file("c", b"")))
    assert report.layers == 2
    assert report.applied == 5
    assert report.whiteouts == 1
    assert report.removed == 1


def test_progress_on_stderr(box: Sandbox, capsys: pytest.CaptureFixture[str]) -> None:
    box.unpack(layer(file("a", b"a")), progress=True)
    captured = capsys.readouterr()
    assert "layer 0" in captured.err
    assert captured.out == ""


def test_sparse_file_rejected(box: Sandbox, tmp_path: Path) -> None:
    # GNU tar stores a file of holes as a sparse entry of a few hundred bytes.
    work = tmp_path / "sparse-source"
    work.mkdir()
    subprocess.run(["truncate", "-s", "1G", str(work / "holes")], check=True)
    (work / "plain").write_text("kept")
    archive = tmp_path / "sparse.tar"
    subprocess.run(
        ["tar", "--sparse", "-cf", str(archive), "-C", str(work), "holes", "plain"],
        check=True,
    )
    assert archive.stat().st_size < 1 << 20

    report = box.unpack(archive.read_bytes())

    assert _rejected_names(report) == ["holes"]
    assert "sparse file" in report.rejected[0].reason
    assert not (box.rootfs / "holes").exists()
    assert (box.rootfs / "plain").read_text() == "kept"
