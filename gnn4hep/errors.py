"""Error types that carry the file, column or config key a problem is about.

Every error a user can cause with bad input derives from :class:`Gnn4hepError`, so the CLI can print
one clear line instead of a traceback.
"""

from __future__ import annotations

from pathlib import Path


class Gnn4hepError(Exception):
    """Base class of all errors caused by user input (files, configs, arguments)."""


class InputFileError(Gnn4hepError, ValueError):
    """A data file is missing, malformed or inconsistent.

    The message always names the file and, where it applies, the column.
    """

    def __init__(self, path: str | Path, problem: str, column: str | None = None):
        self.path = str(path)
        self.column = column
        self.problem = problem
        where = f"{self.path}" + (f", column '{column}'" if column else "")
        super().__init__(f"{where}: {problem}")

    def __reduce__(self):  # pickles whole across worker processes (the default would lose the arguments)
        return (type(self), (self.path, self.problem, self.column))


class SubmissionError(Gnn4hepError, ValueError):
    """A track-candidate table (hit_id, track_id) does not match the event it is scored against."""


class ConfigError(Gnn4hepError, ValueError):
    """An experiment config has an unknown key, a missing key or a value of the wrong type."""


class OutputPathError(Gnn4hepError, ValueError):
    """An output path cannot take what is to be written there: a folder where a file is expected, a
    file in place of a parent folder, a folder that refuses new files. The message names the path."""

    def __init__(self, path: str | Path, problem: str):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")

    def __reduce__(self):
        return (type(self), (self.path, self.problem))
