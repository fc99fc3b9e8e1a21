"""Exercise checks for lesson 07 (from files to a running pod)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..cri import CRIClient, decode_info
from ..errors import CRICallError
from ..image import chain_ids
from . import CheckResult, Solution, not_answered, solution_lookup

__all__ = ["SOLUTIONS", "check_added_env", "check_top_chain_id", "solution"]


def check_added_env(
    answer: str | Iterable[str] | None, cri: CRIClient, container_id: str | None
) -> CheckResult:
    """Exercise 1: the variable of process.env that neither the image nor the ContainerConfig set.

    ``answer`` is a variable name ("NAME" or "NAME=value"), or a collection
    of names when the learner found several.
    """
    name = "Exercise 1"
    hint = (
        "list the names in process.env of cri.container_runtime_spec(container_id), then "
        "remove those in the image config's Env and those in the envs of "
        "cri.container_info(container_id)['config']"
    )
    if answer is None or container_id is None:
        return not_answered(name, hint)
    given_names = _variable_names(answer)
    if given_names is None:
        return CheckResult(
            name,
            False,
            f"{answer!r} is not a variable name: give a string such as 'NAME', "
            "or a set of such strings.",
        )
    try:
        info = cri.container_info(container_id)
        image_ref = cri.container_status(container_id).status.image_ref
        image_env = cri.image_config(image_ref).get("config", {}).get("Env") or []
    except CRICallError as error:
        return CheckResult(
            name,
            False,
            f"the runtime cannot show that container or its image ({error}). "
            "Run the notebook again from the top, up to the exercises.",
        )
    spec_names = _names(info.get("runtimeSpec", {}).get("process", {}).get("env"))
    image_names = _names(image_env)
    config_envs = info.get("config", {}).get("envs") or []
    config_names = {str(entry.get("key")) for entry in config_envs}
    expected = spec_names - image_names - config_names

    if given_names == expected:
        return CheckResult(
            name,
            True,
            "containerd's CRI plugin adds it from the pod sandbox's hostname, "
            "so every container of the pod reports the same value.",
        )
    if given_names & image_names:
        listed = ", ".join(sorted(given_names & image_names))
        return CheckResult(
            name, False, f"{listed} comes from the image config's Env. Hint: {hint}"
        )
    if given_names & config_names:
        listed = ", ".join(sorted(given_names & config_names))
        return CheckResult(
            name, False, f"{listed} comes from your ContainerConfig. Hint: {hint}"
        )
    if given_names - spec_names:
        listed = ", ".join(sorted(given_names - spec_names))
        return CheckResult(
            name, False, f"{listed} is not in process.env at all. Hint: {hint}"
        )
    return CheckResult(
        name, False, f"{answer!r} is not the complete answer. Hint: {hint}"
    )


def check_top_chain_id(
    answer: str | None, cri: CRIClient, reference: str
) -> CheckResult:
    """Exercise 2: the ChainID of the image's top layer, as containerd reports it."""
    name = "Exercise 2"
    hint = (
        "take rootfs.diff_ids from cri.image_config(reference) and apply the image "
        "spec's rule: ChainID(L0) = DiffID(L0), and ChainID(L0..Ln) is the sha256 of "
        "the text 'ChainID(L0..Ln-1) DiffID(Ln)', written as 'sha256:<hex>'"
    )
    if answer is None:
        return not_answered(name, hint)
    if not isinstance(answer, str):
        return CheckResult(
            name,
            False,
            f"{answer!r} is not a digest: give a string such as 'sha256:<64 hex digits>'.",
        )

    info = _image_info(cri, reference)
    if info is None:
        return CheckResult(
            name,
            False,
            f"the runtime has no image {reference!r}: pull it again with "
            "cri.pull_image(reference), then run this cell again.",
        )
    diff_ids = list(info.get("imageSpec", {}).get("rootfs", {}).get("diff_ids") or [])
    computed = chain_ids(diff_ids)
    # containerd 1.6 reports the top layer's ChainID as "chainID" in the verbose
    # ImageStatus; other runtimes may not, so fall back to the rule itself.
    expected = info.get("chainID") or (computed[-1] if computed else None)
    digest = answer.strip().lower()

    if expected is not None and digest == expected:
        return CheckResult(
            name,
            True,
            "containerd names the unpacked layer stack by it, so images that share "
            "their lower layers share those snapshots too.",
        )
    if diff_ids and digest == diff_ids[-1]:
        return CheckResult(
            name,
            False,
            "that is the top layer's diff_id, which names that layer alone; a ChainID "
            f"also covers every layer below it. Hint: {hint}",
        )
    if digest in diff_ids[:-1] or digest in computed[:-1]:
        return CheckResult(
            name,
            False,
            f"that names a lower layer, one of the base image's. Hint: {hint}",
        )
    return CheckResult(
        name, False, f"{answer!r} is not the top layer's ChainID. Hint: {hint}"
    )


def _variable_names(answer: Any) -> set[str] | None:
    """Return the names in a learner's answer, or None when it is not text."""
    items = [answer] if isinstance(answer, str) else answer
    try:
        names = {item.split("=", 1)[0].strip() for item in items}
    except (AttributeError, TypeError):
        return None
    return names if names and all(names) else None


def _names(env: Any) -> set[str]:
    return {str(entry).split("=", 1)[0] for entry in env or []}


def _image_info(cri: CRIClient, reference: str) -> dict[str, Any] | None:
    """Return the runtime's verbose ImageStatus info, or None when the image is absent."""
    reply = cri.image_status(reference, verbose=True)
    if not reply.image.id:
        return None
    info = decode_info(dict(reply.info))
    # containerd nests everything under one "info" key.
    nested = info.get("info")
    if isinstance(nested, dict) and len(info) == 1:
        return nested
    return info


SOLUTIONS = {
    1: Solution(
        lesson="07",
        exercise=1,
        answer="answer_1",
        code="""\
spec_env = cri.container_runtime_spec(container_id)["process"]["env"]
image_env = cri.image_config(reference)["config"]["Env"]
config_envs = cri.container_info(container_id)["config"].get("envs", [])
added = {entry.split("=", 1)[0] for entry in spec_env}
added -= {entry.split("=", 1)[0] for entry in image_env}
added -= {entry["key"] for entry in config_envs}
answer_1 = added.pop()
answer_1
""",
        explanation=(
            "containerd's CRI plugin builds process.env from three sources: the "
            "image config's Env, the ContainerConfig's envs, and a HOSTNAME "
            "variable that it sets to the pod sandbox's hostname."
        ),
    ),
    2: Solution(
        lesson="07",
        exercise=2,
        answer="answer_2",
        code="""\
import hashlib

diff_ids = cri.image_config(reference)["rootfs"]["diff_ids"]
chain_id = diff_ids[0]
for diff_id in diff_ids[1:]:
    chain_id = "sha256:" + hashlib.sha256(f"{chain_id} {diff_id}".encode()).hexdigest()
answer_2 = chain_id
answer_2
""",
        explanation=(
            "A ChainID names a layer together with every layer below it, so the "
            "same diff_id on top of different bases gets different ChainIDs; "
            "ocilab.image.chain_ids applies the same rule."
        ),
    ),
}
solution = solution_lookup("07", SOLUTIONS)
