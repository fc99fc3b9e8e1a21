"""Checks for the lessons' exercises, which report whether an answer is right with a hint, never the solution."""

from __future__ import annotations

import html
from dataclasses import dataclass

__all__ = ["CheckResult", "not_answered"]


@dataclass(frozen=True)
class CheckResult:
    """The verdict on one exercise answer; ``passed`` is None while unanswered."""

    exercise: str
    passed: bool | None
    message: str

    def __str__(self) -> str:
        mark = {True: "correct", False: "not yet", None: "not answered"}[self.passed]
        return f"{self.exercise}: {mark}. {self.message}"

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        colour = {True: "#1a7f37", False: "#b35900", None: "#57606a"}[self.passed]
        return f'<p style="color:{colour}"><b>{html.escape(str(self))}</b></p>'


def not_answered(exercise: str, hint: str) -> CheckResult:
    return CheckResult(
        exercise,
        None,
        f"Set the answer variable, then run this cell again. Hint: {hint}",
    )
