"""Checks for the lessons' exercises, and worked solutions kept apart from them.

A check reports whether an answer is right and gives a hint, never the
solution. Each lesson module also has ``SOLUTIONS`` and ``solution(n)``,
which an instructor or a stuck learner reveals on purpose.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from .._html import code_block, details

__all__ = ["CheckResult", "Solution", "not_answered", "solution_lookup"]


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


@dataclass(frozen=True)
class Solution:
    """A worked solution: code that sets the exercise's answer variable, and why it works.

    ``code`` runs in the lesson notebook's namespace, after the cells above
    the exercise, and assigns ``answer`` (plus any other variable the check
    reads). In a notebook it shows collapsed, so it is revealed by a click.
    """

    lesson: str
    exercise: int
    answer: str
    code: str
    explanation: str

    def __str__(self) -> str:
        return (
            f"Lesson {self.lesson}, exercise {self.exercise}, worked solution:\n"
            f"{self.code}\n\n{self.explanation}"
        )

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        body = code_block(self.code) + f"<p>{html.escape(self.explanation)}</p>"
        return details(
            f"Lesson {self.lesson}, exercise {self.exercise}: worked solution "
            "(click to reveal)",
            body,
        )


def solution_lookup(
    lesson: str, solutions: Mapping[int, Solution]
) -> Callable[[int], Solution]:
    """Build a lesson module's ``solution(n)`` function over its SOLUTIONS."""

    def solution(exercise: int) -> Solution:
        """Return the worked solution of exercise n of this lesson."""
        try:
            return solutions[exercise]
        except KeyError:
            numbers = ", ".join(str(number) for number in sorted(solutions))
            raise ValueError(
                f"lesson {lesson} has no worked solution for exercise {exercise!r}; "
                f"exercises with one: {numbers}"
            ) from None

    return solution
