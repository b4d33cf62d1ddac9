"""The peak RSS of a command run as a child process, for the benchmarks' memory figures.

Why a launcher between the benchmark and the child: Linux carries a process's RSS
high-water mark over `exec` into the new program's `ru_maxrss` (`exec_mmap` keeps the old
memory's peak), so a child started by the benchmark itself, which holds gigabytes by then,
would report the benchmark's peak. The launcher is small (the standard library only), so its
child's figure is the child's own.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping, Sequence

LAUNCHER = """\
import resource, subprocess, sys
done = subprocess.run(sys.argv[1:], check=False)
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(f"peak_rss_mib={peak:.3f}", flush=True)
sys.exit(done.returncode)
"""


def run_measured(
    command: Sequence[str], env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `command` through the launcher; its stdout ends with `peak_rss_mib=...`."""
    return subprocess.run(
        [sys.executable, "-c", LAUNCHER, *command],
        stdout=subprocess.PIPE,
        text=True,
        check=False,
        env=env,
    )
