"""Progress of long loops: a tqdm bar on a terminal, plain lines in a log.

A bar's carriage returns make a log file unreadable, so where stderr is not
a terminal a line is printed at every tenth of the work instead.
"""

import sys


def progress(items, total: int, unit: str, enabled: bool = True, step: int = 1, desc: str | None = None):
    """Yields `items`, reporting `step` units of `total` per item (a batch of 4 images: step 4)."""
    if not enabled or total <= step:
        yield from items
        return
    if sys.stderr.isatty():
        from tqdm import tqdm

        with tqdm(total=total, unit=unit, desc=desc, leave=False) as bar:
            for item in items:
                yield item
                bar.update(min(step, total - bar.n))
        return
    done, reported = 0, 0
    for item in items:
        yield item
        done = min(total, done + step)
        if done * 10 // total > reported or done == total:
            reported = done * 10 // total
            print(f"=== {desc + ': ' if desc else ''}{done}/{total} {unit}", flush=True)
