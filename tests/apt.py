"""Debian packages the tests need (the throwaway SLURM cluster, headless Chromium), installed with
apt-get where the tests run as root (as in CI).

Both installs may run at once (the SLURM run starts in the background when the tests are
collected, and so does Chromium's): apt takes one at a time, so :func:`install` holds a lock of the
test process and asks apt to wait for its own lock as well.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from pathlib import Path

_ONE_AT_A_TIME = threading.Lock()
LOCK_WAIT_S = 600  # apt waits this long for another apt or dpkg (e.g. an unattended upgrade)


def can_install() -> bool:
    """Whether :func:`install` may work here: root and apt-get."""
    return os.geteuid() == 0 and shutil.which("apt-get") is not None


def install(packages, log: Path) -> None:
    """Install Debian ``packages`` (refreshing the package lists once if the first try fails)."""
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    apt = ["apt-get", "-o", f"DPkg::Lock::Timeout={LOCK_WAIT_S}", "-q"]
    command = [*apt, "install", "-y", "--no-install-recommends", *packages]
    with _ONE_AT_A_TIME, Path(log).open("a") as out:
        if subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, env=env).returncode == 0:
            return
        subprocess.run([*apt, "update"], stdout=out, stderr=subprocess.STDOUT, env=env, check=True)
        subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, env=env, check=True)
