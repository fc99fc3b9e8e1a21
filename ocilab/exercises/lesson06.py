"""Exercise checks for lesson 06 (the distribution protocol, exchange by exchange)."""

from __future__ import annotations

from ..distribution.client import RegistryClient
from . import CheckResult, Solution, not_answered, solution_lookup

__all__ = ["SOLUTIONS", "check_patch_count", "check_tag_digest", "solution"]


def check_patch_count(answer: int | None, client: RegistryClient) -> CheckResult:
    """Exercise 1: how many PATCH requests the chunked upload in the log sent."""
    name = "Exercise 1"
    hint = "filter client.exchanges_frame() on the method column"
    if answer is None:
        return not_answered(name, hint)
    frame = client.exchanges_frame()
    expected = int((frame["method"] == "PATCH").sum())
    if answer == expected:
        return CheckResult(
            name, True, "one PATCH per chunk, each answered 202 with the next Range."
        )
    return CheckResult(
        name,
        False,
        f"{answer!r} is not the number of PATCH requests in the log. Hint: {hint}",
    )


def check_tag_digest(
    answer: str | None, client: RegistryClient, repository: str, tag: str
) -> CheckResult:
    """Exercise 2: the digest the registry reports for a tag, read with a HEAD request."""
    name = "Exercise 2"
    hint = "client.head_manifest(repository, tag) returns a descriptor whose digest comes from Docker-Content-Digest"
    if answer is None:
        return not_answered(name, hint)
    descriptor = client.head_manifest(repository, tag)
    if descriptor is not None and answer == descriptor.digest:
        return CheckResult(
            name,
            True,
            "a HEAD request resolves a tag without downloading the manifest.",
        )
    return CheckResult(
        name, False, f"{answer!r} is not that tag's digest. Hint: {hint}"
    )


SOLUTIONS = {
    1: Solution(
        lesson="06",
        exercise=1,
        answer="answer_1",
        code="""\
exchanges = client.exchanges_frame()
answer_1 = int((exchanges["method"] == "PATCH").sum())
answer_1
""",
        explanation=(
            "The exchange log keeps every request the client sent; a chunked "
            "upload sends one PATCH per chunk between the POST that opens the "
            "session and the PUT that closes it."
        ),
    ),
    2: Solution(
        lesson="06",
        exercise=2,
        answer="answer_2",
        code="""\
answer_2 = client.head_manifest(repository, "v2").digest
answer_2
""",
        explanation=(
            "A HEAD request on a manifest returns the Docker-Content-Digest "
            "header without the body, which is how clients resolve a tag to a "
            "digest cheaply."
        ),
    ),
}
solution = solution_lookup("06", SOLUTIONS)
