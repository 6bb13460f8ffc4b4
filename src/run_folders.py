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
    """The original's backup stamp: `str(datetime.now())` with ':' and ' ' replaced by '_'."""
    return str(datetime.datetime.now()).replace(":", "_").replace(" ", "_")


def backup_path(path: str, stamp: str) -> str:
    """`dir_<stamp>_bak`, or `name_<stamp>_bak.ext` for a file."""
    path = path.rstrip("/\\")
    if os.path.isdir(path):
        return f"{path}_{stamp}_bak"
    root, extension = os.path.splitext(path)
    return f"{root}_{stamp}_bak{extension}"


def has_content(path: str, keep: tuple[str, ...] = ()) -> bool:
    """Whether a path holds anything besides the files in `keep` and empty
    folders (a run stopped before its first epoch leaves only those)."""
    if os.path.isdir(path):
        for root, _, files in os.walk(path):
            if any(os.path.join(root, f) not in keep for f in files):
                return True
        return False
    return os.path.exists(path)


def move_aside(paths: list[str], stamp: str | None = None, keep: list[str] = ()) -> list[tuple[str, str]]:
    """Renames each path that has content to its backup name.

    Files listed in `keep` (e.g. the config copy, rewritten anyway) do not
    count as content.
    """
    stamp = stamp or backup_stamp()
    keep = tuple(os.path.normpath(k) for k in keep)
    moved = []
    for path in paths:
        if has_content(os.path.normpath(path), keep):
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


def should_resume(document: dict | None, settings: dict, epochs: int, allowed: bool) -> tuple[bool, str]:
    """Whether to resume the saved run, and if not, why.

    A run resumes when it was trained with the same settings and either is
    unfinished or finished its epochs and `epochs` now asks for more.
    """
    if not document or not document.get("epochs_done"):
        return False, "no earlier run to resume"
    if not allowed:
        return False, "[train] resume = False"
    saved = document.get("settings", {})
    changed = sorted(k for k in set(saved) | set(settings) if saved.get(k) != settings.get(k))
    if changed:
        shown = "; ".join(f"{k}: {saved.get(k, 'unset')} -> {settings.get(k, 'unset')}" for k in changed[:3])
        more = f" and {len(changed) - 3} more" if len(changed) > 3 else ""
        return False, f"the earlier run was trained with other settings ({shown}{more})"
    finished = document.get("finished")
    if finished == "early_stopping":
        return False, f"the earlier run stopped early after epoch {document['epochs_done']}"
    if finished and epochs <= document["epochs_done"]:
        return False, f"the earlier run finished its {document['epochs_done']} epochs"
    return True, ""
