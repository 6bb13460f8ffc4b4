"""Runs a training command until it has used a fixed CPU time, then stops it the way Ctrl-C does.

Usage:
    python benchmarks/cpu_budget.py SECONDS -- python src/TensorflowUNetTrainer.py ./train_eval_infer.config

The command's CPU time (user + system, all its threads, and its waited-for
children) is read from /proc every second; past SECONDS it gets one SIGINT,
which the trainer turns into "stop when this epoch is saved" (StopOnInterrupt).
A trainer stopped that way exits 130; this script then exits 0, as the run did
what was asked. Fair between configs on a busy machine: other work slows a run
down but does not shorten its training. `cpu_budget.json` in the working
directory records the CPU and wall seconds used (added up over resumed runs).
Linux only (/proc).
"""

import json
import os
import signal
import subprocess
import sys
import time

RECORD = "cpu_budget.json"
TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def cpu_seconds(pid: int) -> float:
    """utime + stime + cutime + cstime of `pid`, in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return sum(int(v) for v in fields[11:15]) / TICKS  # fields 14-17 of proc(5), after pid and comm


def run(seconds: float, command: list[str]) -> int:
    spent = {"cpu_s": 0.0, "wall_s": 0.0, "stopped_by_budget": False}
    if os.path.exists(RECORD):  # a resumed run counts what it already used
        with open(RECORD) as f:
            spent.update(json.load(f))
    left = seconds - spent["cpu_s"]
    started = time.perf_counter()
    process = subprocess.Popen(command)
    used, interrupted = 0.0, False
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:  # exited: its exact CPU time, which a last look at /proc may have missed
            used = usage.ru_utime + usage.ru_stime
            process.returncode = os.waitstatus_to_exitcode(status)
            break
        try:
            used = cpu_seconds(process.pid)
        except (OSError, ValueError):
            pass
        if used > left and not interrupted:
            print(f"=== cpu_budget: {spent['cpu_s'] + used:.0f} CPU s used of {seconds:.0f}: stopping "
                  "when this epoch is saved", flush=True)
            process.send_signal(signal.SIGINT)
            interrupted = True
        time.sleep(1.0)
    spent["cpu_s"] += used
    spent["wall_s"] += time.perf_counter() - started
    spent["stopped_by_budget"] = interrupted
    with open(RECORD + ".tmp", "w") as f:
        json.dump(spent, f)
    os.replace(RECORD + ".tmp", RECORD)
    code = process.returncode
    return 0 if interrupted and code in (130, -signal.SIGINT) else code


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[1] != "--":
        print(__doc__, file=sys.stderr)
        return 2
    return run(float(argv[0]), argv[2:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
