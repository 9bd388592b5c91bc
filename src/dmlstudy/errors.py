"""Errors a user can act on. Each message names the problem and the fix."""

from __future__ import annotations


class DmlStudyError(Exception):
    """Base class: an error whose message is meant for the user, not a traceback."""


class ConfigError(DmlStudyError):
    """The config is invalid. The message names the key, the value and what is allowed."""


class DataNotFoundError(DmlStudyError):
    """A dataset's files are missing. The message says where we looked and how to get them."""

    def __init__(self, dataset: str, searched: str, expected: list[str], how_to_get: str):
        self.dataset = dataset
        self.searched = searched
        self.expected = list(expected)
        self.how_to_get = how_to_get
        files = "\n".join(f"    - {e}" for e in self.expected)
        super().__init__(
            f"dataset '{dataset}': required files not found.\n"
            f"  searched: {searched}\n"
            f"  expected:\n{files}\n"
            f"  how to get them: {how_to_get}"
        )


class CorruptFileError(DmlStudyError):
    """An input file exists but cannot be read (truncated, corrupt, wrong layout)."""


class TrainingDivergedError(DmlStudyError):
    """The loss became NaN or infinite. The message names the epoch and batch."""


class BackboneUnavailableError(DmlStudyError):
    """Backbone weights cannot be loaded (hub unreachable, folder missing)."""
