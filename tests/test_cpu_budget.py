"""benchmarks/cpu_budget.py: a command is stopped like Ctrl-C once it has used its CPU seconds."""

import json
import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(REPO, "benchmarks", "cpu_budget.py")
# Busy until SIGINT, then exits 130 as the trainer does after saving its epoch.
CHILD = ("import signal, sys\n"
         "def stop(*_): sys.exit(130)\n"
         "signal.signal(signal.SIGINT, stop)\n"
         "while True: sum(range(10000))\n")


def test_a_busy_command_is_interrupted_past_its_budget_and_counts_as_done(tmp_path):
    result = subprocess.run([sys.executable, SCRIPT, "1.5", "--", sys.executable, "-c", CHILD], cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "stopping when this epoch is saved" in result.stdout
    record = json.loads((tmp_path / "cpu_budget.json").read_text())
    assert record["stopped_by_budget"] is True and 1.5 <= record["cpu_s"] < 10


def test_a_failing_command_keeps_its_exit_code_and_a_resumed_one_counts_what_was_used(tmp_path):
    (tmp_path / "cpu_budget.json").write_text(json.dumps({"cpu_s": 0.5, "wall_s": 1.0}))
    result = subprocess.run([sys.executable, SCRIPT, "50", "--", sys.executable, "-c", "import sys; sys.exit(3)"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert result.returncode == 3 and "stopping" not in result.stdout
    record = json.loads((tmp_path / "cpu_budget.json").read_text())
    assert record["cpu_s"] > 0.5 and record["wall_s"] > 1.0 and record["stopped_by_budget"] is False
