"""The one exception type for problems with input, and its not-applicable variant."""

from __future__ import annotations

from pathlib import Path


class TraceError(Exception):
    """Bad or unusable input: the message names the file and what is wrong.

    `status` is the value a workflow records for the trace: ``invalid`` when the input
    is broken, ``not_applicable`` when it is fine but cannot give this metric.
    """

    status = "invalid"

    def __init__(
        self,
        path: str | Path,
        problem: str,
        line: int | None = None,
        column: int | None = None,
    ) -> None:
        self.path = str(path)
        self.problem = problem
        self.line = line
        self.column = column
        super().__init__(self.message)

    @property
    def location(self) -> str:
        loc = self.path
        if self.line is not None:
            loc += f":{self.line}"
            if self.column is not None:
                loc += f":{self.column}"
        return loc

    @property
    def message(self) -> str:
        return f"{self.location}: {self.problem}"


class NotApplicable(TraceError):
    """The trace is valid but does not carry what this metric needs."""

    status = "not_applicable"
