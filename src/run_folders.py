"""Decides whether a training run resumes or starts afresh, and never deletes.

The original deleted `model_dir` and `eval_dir` at every start (unless
`create_backup`), so a typo could cost a finished model. Here an unfinished
run of the same config is resumed; anything else found in the run's folders
(a finished run, another config's run, a run of the original toolkit) is
moved aside to `<path>_<stamp>_bak` with the original's stamp format.
"""

import datetime
import os

from TrainingState import TrainingState


def backup_stamp() -> str:
    """`str(datetime.now())` with ':' and ' ' replaced by '_' (spec §1.2)."""
    return str(datetime.datetime.now()).replace(":", "_").replace(" ", "_")


def backup_path(path: str, stamp: str) -> str:
    """`dir_<stamp>_bak`, or `name_<stamp>_bak.ext` for a file."""
    path = path.rstrip("/\\")
    if os.path.isdir(path):
        return f"{path}_{stamp}_bak"
    root, extension = os.path.splitext(path)
    return f"{root}_{stamp}_bak{extension}"


def has_content(path: str) -> bool:
    if os.path.isdir(path):
        return bool(os.listdir(path))
    return os.path.exists(path)


def move_aside(paths: list[str], stamp: str | None = None) -> list[tuple[str, str]]:
    """Renames each existing, non-empty path to its backup name."""
    stamp = stamp or backup_stamp()
    moved = []
    for path in paths:
        if has_content(path):
            target = backup_path(path, stamp)
            os.replace(path, target)
            moved.append((path, target))
            print(f"=== Moved the previous run's {path} to {target}")
    return moved


def read_state(state_folder: str) -> dict | None:
    """The saved state of a previous run, or None if absent or unreadable."""
    try:
        return TrainingState.read(state_folder)
    except (OSError, ValueError, KeyError):
        return None


def should_resume(document: dict | None, fingerprint: str, allowed: bool) -> bool:
    """Resume only an unfinished run of the same config, unless disallowed."""
    return bool(
        allowed
        and document
        and document.get("fingerprint") == fingerprint
        and not document.get("finished")
        and document.get("epochs_done", 0) > 0
    )
