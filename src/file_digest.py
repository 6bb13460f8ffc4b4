"""The SHA-256 of a file, for recording which config produced a result."""

import hashlib
import os


def sha256(path: str) -> str | None:
    """The hex SHA-256 of the file's bytes, or None when there is no such file (a config from a string)."""
    if not path or not os.path.isfile(path):
        return None
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()
