"""atomic_path: the new file replaces the old one whole, and with fsync both
the file and the rename reach the disk."""

import errno
import os

import pytest

import atomic
from atomic import atomic_path


def _identity(stat_result):
    return stat_result.st_dev, stat_result.st_ino


@pytest.fixture
def events(monkeypatch):
    """Records every fsync (with the identity of what was synced) and rename, in order."""
    recorded = []
    fsync, replace = os.fsync, os.replace

    def recording_fsync(fd):
        recorded.append(("fsync", _identity(os.fstat(fd))))
        fsync(fd)

    def recording_replace(source, target):
        replace(source, target)
        recorded.append(("replace", _identity(os.stat(target))))

    monkeypatch.setattr(os, "fsync", recording_fsync)
    monkeypatch.setattr(os, "replace", recording_replace)
    return recorded


def _write(tmp, text):
    with open(tmp, "w") as f:
        f.write(text)


@pytest.mark.skipif(os.name == "nt", reason="Windows cannot sync folders")
def test_fsync_flushes_the_file_then_renames_then_flushes_its_folder(tmp_path, events):
    path = tmp_path / "state.weights.h5"
    with atomic_path(str(path), fsync=True) as tmp:
        _write(tmp, "new")
    file, folder = _identity(os.stat(path)), _identity(os.stat(tmp_path))
    assert events == [("fsync", file), ("replace", file), ("fsync", folder)]
    assert path.read_text() == "new"


def test_a_relative_path_syncs_the_working_directory(tmp_path, monkeypatch, events):
    monkeypatch.chdir(tmp_path)
    with atomic_path("a.txt", fsync=True) as tmp:
        _write(tmp, "x")
    if os.name != "nt":
        assert events[-1] == ("fsync", _identity(os.stat(tmp_path)))


def test_without_folder_sync_only_the_file_is_flushed(tmp_path, monkeypatch, events):
    monkeypatch.setattr(atomic, "_CAN_SYNC_FOLDERS", False)  # as on Windows
    path = tmp_path / "a.txt"
    with atomic_path(str(path), fsync=True) as tmp:
        _write(tmp, "x")
    file = _identity(os.stat(path))
    assert events == [("fsync", file), ("replace", file)]


def test_fsync_false_flushes_nothing(tmp_path, events):
    path = tmp_path / "a.txt"
    with atomic_path(str(path)) as tmp:
        _write(tmp, "x")
    assert [e[0] for e in events] == ["replace"]
    assert path.read_text() == "x"


@pytest.mark.parametrize("fsync", [False, True])
def test_a_failing_write_leaves_the_destination_and_no_temporary_file(tmp_path, events, fsync):
    path = tmp_path / "a.txt"
    path.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(str(path), fsync=fsync) as tmp:
            _write(tmp, "half")
            raise RuntimeError("killed mid-write")
    assert path.read_text() == "old"
    assert os.listdir(tmp_path) == ["a.txt"]
    assert events == []


@pytest.mark.skipif(os.name == "nt", reason="Windows cannot sync folders")
def test_a_file_system_that_cannot_sync_folders_still_commits(tmp_path, monkeypatch):
    fsync = os.fsync

    def no_folder_sync(fd):
        if _identity(os.fstat(fd)) == _identity(os.stat(tmp_path)):
            raise OSError(errno.EINVAL, "Invalid argument")
        fsync(fd)

    monkeypatch.setattr(os, "fsync", no_folder_sync)
    path = tmp_path / "a.txt"
    with atomic_path(str(path), fsync=True) as tmp:
        _write(tmp, "x")
    assert path.read_text() == "x"


@pytest.mark.skipif(os.name == "nt", reason="Windows cannot sync folders")
def test_a_disk_error_syncing_the_folder_is_raised(tmp_path, monkeypatch):
    fsync = os.fsync

    def failing_folder_sync(fd):
        if _identity(os.fstat(fd)) == _identity(os.stat(tmp_path)):
            raise OSError(errno.EIO, "Input/output error")
        fsync(fd)

    monkeypatch.setattr(os, "fsync", failing_folder_sync)
    with pytest.raises(OSError, match="Input/output"):
        with atomic_path(str(tmp_path / "a.txt"), fsync=True) as tmp:
            _write(tmp, "x")
