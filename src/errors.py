"""Errors caused by what the user gave us: a config, a folder, an image.

The entry points print these as one line (no traceback) and exit non-zero;
anything else is a bug in the toolkit and keeps its traceback.
"""


class UserError(Exception):
    """An error the user can fix; the message says what and where."""

    exit_code = 1


class ConfigError(UserError):
    """A config value, key or section is wrong."""


class ConfigFileError(ConfigError):
    """The config file itself is missing or unreadable."""

    exit_code = 2


class DataError(UserError):
    """A data file or folder is missing, unreadable or inconsistent."""


class RunLockedError(UserError):
    """Another run is training into the same `model_dir`."""


class ToolkitWarning(UserWarning):
    """Something the user should know; the entry points print it as one line."""


class OutputWarning(ToolkitWarning):
    """An output that can be rewritten later (a curve, a preview) could not be written."""
