"""RunLock: one training run per model_dir, and a killed run's lock is taken over."""

import json
import os
import signal
import socket
import subprocess
import sys

import pytest
from conftest import REPO

from errors import RunLockedError, UserError
from run_lock import RunLock, lock_path

# A second run, as a separate process: takes the lock, says so, then holds it
# for argv[2] seconds; a user error is one line and its exit code, as in cli.py.
SECOND_RUN = """
import sys, time
sys.path.insert(0, {src!r})
from errors import UserError
from run_lock import RunLock
try:
    RunLock(sys.argv[1]).acquire()
except UserError as e:
    print(f"ERROR: {{e}}", file=sys.stderr)
    sys.exit(e.exit_code)
print("acquired", flush=True)
time.sleep(float(sys.argv[2]))
""".format(src=os.path.join(REPO, "src"))


def second_run(model_dir, hold=0.0, **kwargs):
    return subprocess.Popen(
        [sys.executable, "-c", SECOND_RUN, str(model_dir), str(hold)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs,
    )


def test_the_lock_file_sits_beside_model_dir(tmp_path):
    assert lock_path(str(tmp_path / "models") + os.sep) == str(tmp_path / "models.lock")


def test_acquire_writes_who_holds_it_and_release_removes_it(tmp_path):
    model_dir = tmp_path / "models"  # does not exist yet
    lock = RunLock(str(model_dir))
    lock.acquire()
    info = json.loads((tmp_path / "models.lock").read_text())
    assert info["pid"] == os.getpid()
    assert info["host"] == socket.gethostname()
    assert info["started"] and info["argv"] == sys.argv
    assert not model_dir.exists()
    lock.release()
    assert os.listdir(tmp_path) == []
    lock.release()  # a second release does nothing


def test_the_parent_folder_is_created(tmp_path):
    with RunLock(str(tmp_path / "runs" / "a" / "models")):
        assert (tmp_path / "runs" / "a" / "models.lock").exists()


def test_a_second_run_in_another_process_fails_naming_the_holder(tmp_path):
    model_dir = str(tmp_path / "models")
    with RunLock(model_dir):
        process = second_run(model_dir)
        stdout, stderr = process.communicate(timeout=30)
    assert process.returncode == RunLockedError.exit_code != 0
    assert stdout == ""
    [line] = stderr.splitlines()
    assert f"model_dir {model_dir} is being trained by process {os.getpid()} on {socket.gethostname()} since " in line
    assert "wait for it to finish or stop it" in line
    assert lock_path(model_dir) in line


def test_a_second_lock_in_the_same_process_fails_too(tmp_path):
    with RunLock(str(tmp_path / "models")):
        with pytest.raises(UserError, match=f"process {os.getpid()} "):
            RunLock(str(tmp_path / "models")).acquire()
        assert (tmp_path / "models.lock").exists()  # the failed attempt left it alone


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_the_lock_of_a_killed_run_is_taken_over(tmp_path, capsys):
    model_dir = str(tmp_path / "models")
    process = second_run(model_dir, hold=60)
    assert process.stdout.readline() == "acquired\n"
    os.kill(process.pid, signal.SIGKILL)
    process.communicate(timeout=30)
    assert json.loads((tmp_path / "models.lock").read_text())["pid"] == process.pid
    with RunLock(model_dir):
        out = capsys.readouterr().out
        assert out == (
            f"=== Took over the stale lock of process {process.pid} on {socket.gethostname()} "
            f"({lock_path(model_dir)})\n"
        )
        assert json.loads((tmp_path / "models.lock").read_text())["pid"] == os.getpid()
    assert not (tmp_path / "models.lock").exists()


@pytest.mark.parametrize("content", ["", '{"pid": 12', "[]"])
def test_a_corrupt_lock_file_is_taken_over(tmp_path, capsys, content):
    (tmp_path / "models.lock").write_text(content)  # a kill between creating and writing it
    with RunLock(str(tmp_path / "models")):
        assert capsys.readouterr().out.startswith("=== Took over the stale lock of an unknown process (")
        assert json.loads((tmp_path / "models.lock").read_text())["pid"] == os.getpid()
    assert not (tmp_path / "models.lock").exists()


def test_the_context_manager_releases_on_an_exception(tmp_path):
    with pytest.raises(ValueError):
        with RunLock(str(tmp_path / "models")):
            assert (tmp_path / "models.lock").exists()
            raise ValueError("training failed")
    assert not (tmp_path / "models.lock").exists()
    with RunLock(str(tmp_path / "models")):  # free again
        pass


@pytest.mark.skipif(os.name == "nt", reason="Windows cannot delete an open file")
def test_release_leaves_a_lock_file_that_is_no_longer_ours(tmp_path):
    lock = RunLock(str(tmp_path / "models"))
    lock.acquire()
    os.remove(lock.path)  # someone deleted it by hand, and another run took the name
    with RunLock(str(tmp_path / "models")) as other:
        lock.release()
        assert json.loads(open(other.path).read())["pid"] == os.getpid()
        assert os.path.exists(other.path)


def test_a_lock_released_by_another_process_can_be_taken(tmp_path):
    model_dir = str(tmp_path / "models")
    process = second_run(model_dir)
    assert process.communicate(timeout=30)[0] == "acquired\n"
    # It exited without releasing: the OS dropped its lock, the file stays.
    with RunLock(model_dir):
        pass
