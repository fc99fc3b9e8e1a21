"""Exercise checks for lesson 04 (inside an OCI image)."""

from __future__ import annotations

import gzip
import hashlib

from ..image import OCILayout, list_layer
from . import CheckResult, Solution, not_answered, solution_lookup

__all__ = ["SOLUTIONS", "check_deleted_path", "check_diff_id", "solution"]


def check_diff_id(answer: str | None, layout: OCILayout, ref_name: str) -> CheckResult:
    """Exercise 1: the diff_id of the image's first layer, computed by hand."""
    name = "Exercise 1"
    hint = (
        "a diff_id hashes the layer's UNCOMPRESSED tar: gunzip the blob, then sha256 it"
    )
    if answer is None:
        return not_answered(name, hint)
    image = next(i for i in layout.images() if i.ref_name == ref_name)
    blob = layout.read_blob(image.manifest.layers[0], max_bytes=1 << 30)
    expected = "sha256:" + hashlib.sha256(gzip.decompress(blob)).hexdigest()
    if answer == expected:
        return CheckResult(
            name, True, "it matches rootfs.diff_ids[0] in the image config."
        )
    if answer == image.manifest.layers[0].digest:
        return CheckResult(
            name, False, f"that is the compressed blob's digest. Hint: {hint}"
        )
    return CheckResult(
        name, False, f"{answer!r} is not the first layer's diff_id. Hint: {hint}"
    )


def check_deleted_path(
    answer: str | None, layout: OCILayout, ref_name: str
) -> CheckResult:
    """Exercise 2: the path that the image's second layer deletes with a whiteout."""
    name = "Exercise 2"
    hint = "list the second layer with list_layer() and read the whiteout_target column"
    if answer is None:
        return not_answered(name, hint)
    image = next(i for i in layout.images() if i.ref_name == ref_name)
    with layout.open_blob(image.manifest.layers[1]) as stream:
        frame = list_layer(stream)
    targets = set(frame.loc[frame["whiteout"] == "file", "whiteout_target"])
    if str(answer).strip("/") in targets:
        return CheckResult(
            name,
            True,
            "the .wh. entry hides it; the file stays in the lower layer's blob.",
        )
    return CheckResult(
        name, False, f"{answer!r} is not deleted by that layer. Hint: {hint}"
    )


SOLUTIONS = {
    1: Solution(
        lesson="04",
        exercise=1,
        answer="answer_1",
        code="""\
import gzip
import hashlib

entry = next(one for one in layout.images() if one.ref_name == ref_name)
blob = layout.read_blob(entry.manifest.layers[0], max_bytes=1 << 30)
answer_1 = "sha256:" + hashlib.sha256(gzip.decompress(blob)).hexdigest()
answer_1
""",
        explanation=(
            "The layer's digest in the manifest hashes the gzip bytes; the "
            "diff_id in the config hashes the tar inside, so that a layer keeps "
            "its identity whatever the compression."
        ),
    ),
    2: Solution(
        lesson="04",
        exercise=2,
        answer="answer_2",
        code="""\
entry = next(one for one in layout.images() if one.ref_name == ref_name)
with layout.open_blob(entry.manifest.layers[1]) as stream:
    entries = list_layer(stream)
deleted = entries.loc[entries["whiteout"] == "file", "whiteout_target"]
answer_2 = deleted.iloc[0]
answer_2
""",
        explanation=(
            "A whiteout is an empty file named .wh.<name> beside the path it "
            "deletes; list_layer decodes the name into whiteout_target."
        ),
    ),
}
solution = solution_lookup("04", SOLUTIONS)
