"""Writing files so that a crash never leaves a truncated one behind.

Everything is written under a temporary name in the destination folder and
then renamed over the destination with `os.replace`, which is atomic on one
file system: a reader sees the old file or the new one, never half of one.
With `fsync`, the data and then the rename are flushed to the disk, so that
the new file also survives a power loss, not only a kill.
"""

import contextlib
import errno
import os
import re
import threading


def _temporary_name(path: str) -> str:
    folder, name = os.path.split(path)
    stem, dot, suffix = name.partition(".")
    # Keep the full suffix chain (".weights.h5", ".jpg"): libraries pick the
    # format from it. The leading dot hides leftovers of a killed run.
    unique = f"{os.getpid()}-{threading.get_native_id()}"  # threads may write the same name
    return os.path.join(folder, f".{stem}.tmp{unique}{dot}{suffix}")


# What `_temporary_name` makes: `.<stem>.tmp<pid>-<thread><suffix>`.
_LEFTOVER = re.compile(r"^\..+\.tmp\d+-\d+(\..*)?$")

# Windows cannot open a folder with `os.open`, so its entries cannot be
# flushed this way; NTFS journals the rename itself.
_CAN_SYNC_FOLDERS = os.name != "nt"


def remove_leftovers(folder: str) -> None:
    """Deletes temporary files a killed run left in `folder` (ours only)."""
    if os.path.isdir(folder):
        for name in os.listdir(folder):
            if _LEFTOVER.match(name):
                os.remove(os.path.join(folder, name))


def _fsync_folder(folder: str) -> None:
    """Flushes a folder's entries, so that a rename into it is on the disk."""
    if not _CAN_SYNC_FOLDERS:
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError as e:
        # Some network and FUSE file systems cannot sync a folder; the file
        # itself is already on the disk, and failing would stop the run.
        if e.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EBADF):
            raise
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(path: str, fsync: bool = False):
    """Yields a temporary path to write; on success it replaces `path`.

    With `fsync`, the written file is flushed before the rename and its
    folder after it, so that `path` survives a power loss.

    Example:
        with atomic_path("eval/train_losses.png") as tmp:
            figure.savefig(tmp)
    """
    path = os.fspath(path)
    tmp = _temporary_name(path)
    try:
        yield tmp
        if fsync:
            with open(tmp, "rb+") as f:
                os.fsync(f.fileno())
        os.replace(tmp, path)
        if fsync:
            _fsync_folder(os.path.dirname(path) or ".")
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def write_text(path: str, text: str) -> None:
    """Writes `text` to `path` atomically."""
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)


def write_image(path: str, array, params=()) -> None:
    """Encodes an OpenCV (BGR) image in the format its extension names and
    writes it atomically.

    Raises:
        OSError: the format is unknown or the file cannot be written.
    """
    import cv2  # only the image writers need OpenCV

    folder = os.path.dirname(path) or "."
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"folder {folder} does not exist: cannot write {path}")
    try:
        ok, encoded = cv2.imencode(os.path.splitext(path)[1], array, list(params))
    except cv2.error:
        ok = False
    if not ok:
        raise OSError(f"cannot encode an image as {os.path.splitext(path)[1]!r}: {path}")
    with atomic_path(path) as tmp:
        encoded.tofile(tmp)
