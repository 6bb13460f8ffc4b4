"""One training run per `model_dir` at a time.

Two runs training into one `model_dir` (a second terminal, a scheduler
retrying a job that still runs) would overwrite each other's checkpoints and
resume state, and a fresh run would move the other's folders aside under it.
Training holds `RunLock(model_dir)` from before it decides whether to resume
or move the old run aside until it ends.

The lock is the file `<model_dir>.lock` beside `model_dir`, not inside it: a
fresh run renames `model_dir` aside while holding the lock, and `model_dir`
need not exist yet. The file says who holds it (JSON: pid, host, started,
argv), and the holder keeps an OS lock on it (`flock` on POSIX,
`msvcrt.locking` on Windows) that the OS drops when the process dies, however
it dies. A lock file whose OS lock can be taken was left by a killed run and
is taken over, so no one has to delete it by hand.
"""

import datetime
import errno
import json
import os
import socket
import sys
import time

from errors import RunLockedError

if os.name == "nt":
    import msvcrt
else:
    import fcntl

# Windows forbids other processes to read a locked byte range, and others
# must read the JSON to say who holds the lock: lock one byte far past it.
_WINDOWS_LOCK_OFFSET = 1 << 20
_HELD = (errno.EACCES, errno.EAGAIN, errno.EWOULDBLOCK, errno.EDEADLK)
_NO_LOCKS = (errno.ENOLCK, errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENOSYS)
_ATTEMPTS = 20  # each lost race (the file removed or replaced under us) costs one


def lock_path(model_dir: str) -> str:
    """The lock file of `model_dir`: `<model_dir>.lock` beside it."""
    return os.path.normpath(model_dir) + ".lock"


def _os_lock(fd: int) -> bool | None:
    """Takes the OS lock without waiting: True if taken, False if another
    process holds it, None if the file system cannot lock files."""
    try:
        if os.name == "nt":
            os.lseek(fd, _WINDOWS_LOCK_OFFSET, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        else:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except OSError as e:
        if e.errno in _HELD:
            return False
        if e.errno in _NO_LOCKS:
            return None
        raise


def _close(fd: int, locked: bool) -> None:
    """Drops the OS lock and closes the file."""
    try:
        if locked and os.name == "nt":  # Windows may keep a lock of a closed file for a while
            os.lseek(fd, _WINDOWS_LOCK_OFFSET, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
    finally:
        os.close(fd)  # closing drops a flock


def _read(path: str, wait: bool = False) -> dict | None:
    """The holder's JSON, or None if missing or unreadable.

    With `wait`, retries for a moment: a live holder may be writing it now.
    """
    for _ in range(20 if wait else 1):
        try:
            with open(path, encoding="utf-8") as f:
                info = json.load(f)
            if isinstance(info, dict):
                return info
        except (OSError, ValueError):
            pass
        if wait:
            time.sleep(0.05)
    return None


def _holder(info: dict | None) -> str:
    if not info:
        return "an unknown process (its lock file is unreadable)"
    return f"process {info.get('pid', '?')} on {info.get('host', '?')} since {info.get('started', '?')}"


class RunLock:
    """Holds `<model_dir>.lock` while a run trains into `model_dir`.

    Use as `with RunLock(model_dir): ...`, or call acquire() and release().

    Raises (from acquire):
        RunLockedError: a live process holds the lock.
    """

    def __init__(self, model_dir: str):
        self.model_dir = model_dir
        self.path = lock_path(model_dir)
        self._fd = None
        self._locked = False

    def __enter__(self):
        self.acquire()
        return self

    def __exit__(self, *exc_info):
        self.release()

    def acquire(self) -> None:
        if self._fd is not None:
            raise RuntimeError(f"{self.path} is already held by this RunLock")
        folder = os.path.dirname(self.path)
        if folder:
            os.makedirs(folder, exist_ok=True)
        for _ in range(_ATTEMPTS):
            if self._attempt():
                return
            time.sleep(0.01)
        raise RunLockedError(f"cannot take {self.path}: other runs keep creating and removing it")

    def _attempt(self) -> bool:
        """One try; False if the file changed under us and we must try again."""
        flags = os.O_RDWR | getattr(os, "O_BINARY", 0)
        try:
            fd, created = os.open(self.path, flags | os.O_CREAT | os.O_EXCL, 0o644), True
        except FileExistsError:
            try:
                fd, created = os.open(self.path, flags), False
            except FileNotFoundError:  # its holder just released it
                return False
        except PermissionError:
            if os.name == "nt":  # a file being deleted cannot be opened or created
                return False
            raise
        locked = False
        try:
            locked = _os_lock(fd)
            if locked is False:
                raise RunLockedError(
                    f"model_dir {self.model_dir} is being trained by {_holder(_read(self.path, wait=True))}; "
                    f"wait for it to finish or stop it (lock file {self.path})"
                )
            if not self._is_ours(fd):  # its holder released it between our open and our lock
                _close(fd, locked)
                return False
            if locked is None and not created:
                # Without OS locks a killed run cannot be told from a live one.
                raise RunLockedError(
                    f"model_dir {self.model_dir} may be being trained by {_holder(_read(self.path))}; "
                    f"this file system cannot lock files: if that run has ended, delete {self.path}"
                )
            stale = None if created else _read(self.path)
            self._write(fd)
        except BaseException:
            _close(fd, locked)
            raise
        if not created:
            who = f"process {stale.get('pid', '?')} on {stale.get('host', '?')}" if stale else "an unknown process"
            print(f"=== Took over the stale lock of {who} ({self.path})")
        self._fd, self._locked = fd, bool(locked)
        return True

    def _is_ours(self, fd: int) -> bool:
        """Whether `self.path` is still the file open as `fd`."""
        if os.name == "nt":  # Windows cannot delete or replace a file someone has open
            return True
        try:
            here, there = os.fstat(fd), os.stat(self.path)
        except FileNotFoundError:
            return False
        return (here.st_dev, here.st_ino) == (there.st_dev, there.st_ino)

    def _write(self, fd: int) -> None:
        info = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
            "argv": sys.argv,
        }
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, json.dumps(info).encode("utf-8"))

    def release(self) -> None:
        """Removes the lock file, if it is still ours, and drops the OS lock."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        if os.name == "nt":
            # An open file cannot be deleted: close first. If another run
            # opened it meanwhile, it is theirs now and the delete fails.
            _close(fd, self._locked)
            try:
                os.remove(self.path)
            except (FileNotFoundError, PermissionError):
                pass
            return
        try:
            # Remove before unlocking: a run that opened the file just before
            # finds it gone once it gets the lock (see `_is_ours`), instead
            # of holding a lock on a removed file.
            if self._is_ours(fd):
                os.remove(self.path)
        finally:
            _close(fd, self._locked)
