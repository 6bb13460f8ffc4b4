"""Peak memory of the running process, for the benchmarks' child processes."""

import resource


def peak_rss_mib() -> float:
    """This process's own peak RSS in MiB.

    Linux carries `ru_maxrss` across fork and exec, so a child of a large
    process (pytest, late in a run) would report its parent's peak; VmHWM is
    the peak of this process's own memory map.
    """
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux, bytes on macOS
