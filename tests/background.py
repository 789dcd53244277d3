"""The slow end-to-end runs, started in the background as soon as the tests are collected.

The tiny workflow run (``test_workflow``), the tiny group's run (``test_groups``) and the run
through a throwaway SLURM cluster (``test_slurm_profile``) spend much of their time waiting: on
Snakemake starting a Python per job, on apt, on SLURM's status checks. Started when the session's tests are collected, with one
thread per job, they run while the unit tests do, and a test that needs one waits for its
result. The tiny run, which keeps the cores busy, runs at the lowest CPU priority, so it fills
what the unit tests leave idle (so does the group's run). The SLURM runs, with a group of 20 movies
beside the first runs' chain of jobs (each a Snakemake start, a short script and a wait for the
cluster's status check), take about 260 s alone on 2 cores and run at normal priority. A run whose
fixture no collected test uses is not started. Temporary folders and the cluster are removed when the
session ends.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Callable


class Background:
    """Named pieces of work, each run once in a thread, given a fresh temporary folder."""

    def __init__(self):
        self._work: dict[str, Callable] = {}
        self._nice: dict[str, int] = {}
        self._futures: dict[str, Future] = {}
        self._folders: list[Path] = []
        self._on_exit: list[Callable[[], None]] = []
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="background-run")

    def register(self, name: str, work: Callable[["Background", Path], object], nice: int = 19) -> None:
        """``work(background, folder)`` computes the result of ``name``, at CPU priority ``nice``
        (19, the lowest, for work that keeps the cores busy; 0 for the session's critical path)."""
        self._work[name] = work
        self._nice[name] = nice

    def names(self) -> set[str]:
        return set(self._work)

    def start(self, name: str) -> None:
        if name not in self._futures:
            folder = Path(tempfile.mkdtemp(prefix=f"rvae-{name}-"))
            self._folders.append(folder)
            self._futures[name] = self._pool.submit(self._run, name, folder)

    def _run(self, name: str, folder: Path):
        # the CPU priority of this thread and of every process it starts (on Linux the nice value is
        # per thread and inherited); the thread pool runs each piece of work in its own thread
        try:
            os.nice(self._nice[name] - os.nice(0))
        except PermissionError:  # only root may raise a priority; run as it is
            pass
        return self._work[name](self, folder)

    def result(self, name: str):
        """The result of ``name`` (started now if it was not), re-raising what the work raised."""
        self.start(name)
        return self._futures[name].result()

    def on_exit(self, cleanup: Callable[[], None]) -> None:
        """Run ``cleanup`` when the session ends (e.g. stop a cluster the work started)."""
        self._on_exit.append(cleanup)

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        for cleanup in reversed(self._on_exit):
            cleanup()
        for folder in self._folders:
            shutil.rmtree(folder, ignore_errors=True)


BACKGROUND = Background()
