"""Exceptions raised by matting-data.

Every error a user can cause (bad file, bad recipe, bad argument) is a
:class:`MattingDataError`; the CLI prints its message on one line and exits
non-zero.  The subclasses also derive from the matching built-in exception so
that ``except ValueError`` keeps working for library users.
"""

from __future__ import annotations


class MattingDataError(Exception):
    """Base class of every error caused by user input."""


class InputError(MattingDataError, ValueError):
    """A file or array is missing, unreadable, or has the wrong content."""


class MissingFileError(InputError, FileNotFoundError):
    """A required file does not exist."""


class SizeMismatchError(InputError):
    """Two arrays or files that must have the same height and width do not."""


class RecipeError(MattingDataError, ValueError):
    """A recipe or preset (TOML) has an unknown key, step or bad value."""


class ManifestError(InputError):
    """A manifest has one or more invalid rows; the message lists all of them."""
