"""A throwaway single-node SLURM cluster for the cluster-profile tests.

Everything runs on localhost from a temporary folder and stops when the test session ends:

- ``munged`` with a fresh key (authentication between the SLURM daemons and commands);
- MariaDB and ``slurmdbd`` (job accounting, so that ``sacct`` answers as on a real cluster);
- ``slurmctld`` (the controller) and ``slurmd`` (the one compute node). The node declares one
  GPU through ``gres.conf`` with ``File=/dev/null``, so that a job asking for ``--gpus=1`` is
  schedulable on a machine without one; the job then sees ``CUDA_VISIBLE_DEVICES=0``.

Two partitions, ``cpu`` (the default) and ``gpu``, hold the same node; they carry the names the
shipped ``profiles/slurm`` profile uses, so the tests run that profile as a user would.

The daemons come from Debian's ``slurm-wlm``, ``slurmdbd``, ``munge`` and ``mariadb-server``;
:func:`install` adds them where apt and root are at hand (as in CI). SLURM's job steps (``srun``
inside a job) read the configuration only at its default place, so ``/etc/slurm/slurm.conf``
points at the temporary one while the cluster runs; it is removed again by :meth:`stop`.
See ``../shared/notes/slurm-single-node.md`` for the facts behind these choices.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

PACKAGES = ("slurm-wlm", "slurmdbd", "munge", "mariadb-server")
DAEMONS = ("munged", "mariadbd", "mariadb-install-db", "slurmdbd", "slurmctld", "slurmd", "sacct", "sbatch")
SYSTEM_CONF = Path("/etc/slurm/slurm.conf")
CLUSTER = "rvaetest"
# GPUs of the test node (gres without devices: the jobs run on the CPU): two, so that two GPU jobs of
# tiny movies run side by side as on a node of several GPUs
GPUS = 2
FAKE_GPU_DEVICES = ("/dev/null", "/dev/zero")
# the low-priority partition beside each of the node's partitions
LOW_PRIORITY = {"cpu": "cpu_low", "gpu": "gpu_low"}


def missing_programs() -> list[str]:
    """The daemons and commands of the cluster that are not on the PATH (sbin included)."""
    path = os.environ.get("PATH", "") + ":/usr/sbin:/sbin"
    return [name for name in DAEMONS if shutil.which(name, path=path) is None]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _sbin(name: str) -> str:
    return shutil.which(name, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")


class ThrowawaySlurm:
    """Start with :meth:`start`, stop with :meth:`stop` (also after a failed start).

    Parameters
    ----------
    folder : Path
        An empty folder for configuration, state, sockets and logs.
    """

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.conf = self.folder / "slurm.conf"
        self.processes: list[tuple[str, subprocess.Popen]] = []
        self.host = socket.gethostname()  # replaced by slurmd's own view in _write_config
        self.linked_system_conf = False

    # -- environment of SLURM commands -----------------------------------------------------------
    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "SLURM_CONF": str(self.conf), "PATH": os.environ["PATH"] + ":/usr/sbin:/sbin"}

    def run(self, *command: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(command, env=self.env, capture_output=True, text=True, check=check, timeout=60)

    # -- start and stop ---------------------------------------------------------------------------
    def start(self, timeout: float = 60) -> None:
        if SYSTEM_CONF.exists() or SYSTEM_CONF.is_symlink():
            raise RuntimeError(f"{SYSTEM_CONF} exists: a SLURM is configured here already; not touching it")
        for name in ("spool", "state", "munge", "db", "logs"):
            (self.folder / name).mkdir(parents=True, exist_ok=True)
        (self.folder / "munge").chmod(0o755)
        self._start_munge()
        self._start_database()
        self._write_config()
        self._start("slurmdbd", [_sbin("slurmdbd"), "-D"])
        self._wait(lambda: self.run("sacctmgr", "-n", "list", "cluster", check=False).returncode == 0,
                   "slurmdbd to answer", timeout)
        self.run("sacctmgr", "-i", "add", "cluster", CLUSTER, check=False)
        SYSTEM_CONF.parent.mkdir(parents=True, exist_ok=True)
        SYSTEM_CONF.symlink_to(self.conf)
        self.linked_system_conf = True
        self._start("slurmctld", [_sbin("slurmctld"), "-D", "-i", "-f", str(self.conf)])
        self._start("slurmd", [_sbin("slurmd"), "-D", "-f", str(self.conf)])
        self._wait(self._node_idle, "the node to become idle", timeout)

    def stop(self) -> None:
        """Cancel any job left, then stop every daemon this object started, node first (slurmd hangs
        without its controller), and remove the link in /etc/slurm."""
        if any(name == "slurmctld" and process.poll() is None for name, process in self.processes):
            jobs = self.run("squeue", "-h", "-o", "%i", check=False).stdout.split()
            if jobs:
                self.run("scancel", *jobs, check=False)
                time.sleep(2)
        for name, process in reversed(self.processes):
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=10)
        self.processes.clear()
        if self.linked_system_conf and SYSTEM_CONF.is_symlink():
            SYSTEM_CONF.unlink()
        self.linked_system_conf = False

    def __enter__(self) -> "ThrowawaySlurm":
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- pieces -----------------------------------------------------------------------------------
    def _start(self, name: str, command: list[str]) -> None:
        log = (self.folder / "logs" / f"{name}.out").open("w")
        process = subprocess.Popen(command, env=self.env, stdout=log, stderr=subprocess.STDOUT, cwd=self.folder)
        self.processes.append((name, process))
        time.sleep(0.2)
        if process.poll() is not None:
            raise RuntimeError(f"{name} stopped at start; see {self.folder / 'logs'}")

    def _wait(self, ready, what: str, timeout: float) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            for name, process in self.processes:
                if process.poll() is not None:
                    raise RuntimeError(f"{name} stopped while waiting for {what}; see {self.folder / 'logs'}")
            if ready():
                return
            time.sleep(0.5)
        raise RuntimeError(f"timed out after {timeout} s waiting for {what}; see {self.folder / 'logs'}")

    def _start_munge(self) -> None:
        key = self.folder / "munge" / "munge.key"
        subprocess.run([_sbin("mungekey"), "--create", f"--keyfile={key}"], check=True, capture_output=True)
        self.munge_socket = self.folder / "munge" / "munge.socket"
        self._start("munged", [
            _sbin("munged"), "-F", "--force", f"--socket={self.munge_socket}", f"--key-file={key}",
            f"--log-file={self.folder / 'logs' / 'munged.log'}", f"--pid-file={self.folder / 'munge' / 'munged.pid'}",
            f"--seed-file={self.folder / 'munge' / 'munged.seed'}",
        ])
        self._wait(self.munge_socket.exists, "munged's socket", 20)

    def _start_database(self) -> None:
        data = self.folder / "db"
        self.db_socket = self.folder / "db.sock"
        self.db_port = _free_port()
        subprocess.run([
            _sbin("mariadb-install-db"), "--no-defaults", "--user=root", f"--datadir={data}",
            "--auth-root-authentication-method=normal", "--skip-test-db",
        ], check=True, capture_output=True, cwd=self.folder)
        self._start("mariadbd", [
            _sbin("mariadbd"), "--no-defaults", "--user=root", f"--datadir={data}", f"--socket={self.db_socket}",
            f"--port={self.db_port}", "--bind-address=127.0.0.1", f"--pid-file={self.folder / 'db.pid'}",
            f"--log-error={self.folder / 'logs' / 'mariadb.log'}", "--innodb-buffer-pool-size=64M",
        ])
        self._wait(self.db_socket.exists, "MariaDB's socket", 60)

    def _write_config(self) -> None:
        f = self.folder
        ports = {name: _free_port() for name in ("ctld", "slurmd", "dbd")}
        node = self.run(_sbin("slurmd"), "-C").stdout.splitlines()[0]  # NodeName=... CPUs=... RealMemory=...
        fields = dict(item.split("=", 1) for item in node.split())
        self.host = fields["NodeName"]  # the name slurmd will know itself by
        fields["RealMemory"] = str(int(int(fields["RealMemory"]) * 0.9))
        node_line = " ".join(f"{k}={v}" for k, v in fields.items() if k != "NodeName")
        auth = f"AuthType=auth/munge\nAuthInfo=socket={self.munge_socket}\n"
        (f / "slurm.conf").write_text(
            f"ClusterName={CLUSTER}\nSlurmctldHost={self.host}(127.0.0.1)\n{auth}"
            f"SlurmUser=root\nSlurmdUser=root\nSlurmctldPort={ports['ctld']}\nSlurmdPort={ports['slurmd']}\n"
            f"StateSaveLocation={f / 'state'}\nSlurmdSpoolDir={f / 'spool'}\n"
            f"SlurmctldPidFile={f / 'slurmctld.pid'}\nSlurmdPidFile={f / 'slurmd.pid'}\n"
            f"SlurmctldLogFile={f / 'logs' / 'slurmctld.log'}\nSlurmdLogFile={f / 'logs' / 'slurmd.log'}\n"
            "ProctrackType=proctrack/linuxproc\nTaskPlugin=task/none\nJobAcctGatherType=jobacct_gather/none\n"
            "SelectType=select/cons_tres\nSelectTypeParameters=CR_Core_Memory\nGresTypes=gpu\n"
            "ReturnToService=2\nDefMemPerCPU=1000\nMpiDefault=none\nSchedulerType=sched/backfill\n"
            "AccountingStorageType=accounting_storage/slurmdbd\nAccountingStorageHost=localhost\n"
            f"AccountingStoragePort={ports['dbd']}\nAccountingStoragePass={self.munge_socket}\n"
            "AccountingStorageTRES=gres/gpu\nAccountingStoreFlags=job_comment\n"
            f"NodeName={self.host} NodeAddr=127.0.0.1 {node_line} Gres=gpu:{GPUS} State=UNKNOWN\n"
            f"PartitionName=cpu Nodes={self.host} Default=YES MaxTime=INFINITE State=UP PriorityTier=2\n"
            f"PartitionName=gpu Nodes={self.host} MaxTime=INFINITE State=UP PriorityTier=2\n"
            # low-priority queues (a site's "bulk" or "scavenger"): their jobs start when cpu and gpu have none waiting
            f"PartitionName={LOW_PRIORITY['cpu']} Nodes={self.host} MaxTime=INFINITE State=UP PriorityTier=1\n"
            f"PartitionName={LOW_PRIORITY['gpu']} Nodes={self.host} MaxTime=INFINITE State=UP PriorityTier=1\n"
        )
        # the "devices" are harmless character devices: nothing opens them
        (f / "gres.conf").write_text(f"NodeName={self.host} Name=gpu File={','.join(FAKE_GPU_DEVICES[:GPUS])}\n")
        dbd = f / "slurmdbd.conf"
        dbd.write_text(
            f"{auth}DbdHost=localhost\nDbdPort={ports['dbd']}\nSlurmUser=root\n"
            f"PidFile={f / 'slurmdbd.pid'}\nLogFile={f / 'logs' / 'slurmdbd.log'}\n"
            "StorageType=accounting_storage/mysql\nStorageHost=127.0.0.1\n"
            f"StoragePort={self.db_port}\nStorageUser=root\nStorageLoc=slurm_acct_db\n"
        )
        dbd.chmod(0o600)

    def _node_idle(self) -> bool:
        result = self.run("sinfo", "-h", "-N", "-o", "%T", check=False)
        states = {line.strip().rstrip("*") for line in result.stdout.splitlines() if line.strip()}
        return result.returncode == 0 and states == {"idle"}  # one line per partition

    # -- what happened ----------------------------------------------------------------------------
    def sacct(self, fields: tuple[str, ...], *args: str) -> list[dict[str, str]]:
        """Accounting rows of the allocations (not their steps), one dict per job."""
        result = self.run("sacct", "-a", "-X", "-n", "-P", "-S", "now-1days", "--format", ",".join(fields), *args)
        return [dict(zip(fields, line.split("|"))) for line in result.stdout.splitlines() if line.strip()]
