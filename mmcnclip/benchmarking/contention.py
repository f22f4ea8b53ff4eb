"""CPU contention for benchmarks: other CPU-bound processes running."""
import contextlib
import subprocess
import sys


@contextlib.contextmanager
def cpu_burners(count: int):
    """Run ``count`` busy-looping Python processes for the ``with`` block.

    They stand for "a second CPU-bound process" on the same machine, so
    that a benchmark shows how each candidate degrades when it does not own
    the cores. The processes are killed on exit, also on errors.

    Args:
        count (int): Number of processes (0: none).

    Yields:
        list[int]: Their process ids.
    """
    procs = [subprocess.Popen([sys.executable, '-c', 'while True: pass'])
             for _ in range(count)]
    try:
        yield [p.pid for p in procs]
    finally:
        for proc in procs:
            proc.kill()
        for proc in procs:
            proc.wait()
