"""A real single-node SLURM cluster for tests: munge, slurmctld and slurmd, started in a
temporary directory and stopped by pid. Installs Debian's slurm-wlm and munge if missing
(root only)."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

SYSTEM_CONF = Path("/etc/slurm/slurm.conf")  # what srun inside a job falls back to


class SlurmUnavailable(RuntimeError):
    """SLURM cannot be started here; the message says why."""


def _run(*cmd: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, **kwargs)  # type: ignore[call-overload]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def ensure_installed() -> None:
    if shutil.which("slurmctld") and shutil.which("munged"):
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise SlurmUnavailable("slurmctld/munged missing and cannot apt-get install them")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    _run("apt-get", "update", "-qq", env=env)
    proc = _run("apt-get", "install", "-y", "-qq", "slurm-wlm", "munge", env=env)
    if proc.returncode != 0 or not shutil.which("slurmctld"):
        raise SlurmUnavailable(f"apt-get install slurm-wlm munge failed: {proc.stderr[-500:]}")


class SlurmCluster:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.conf = root / "slurm.conf"
        self.procs: list[subprocess.Popen[bytes]] = []
        self.munged_pid: int | None = None
        self.linked_system_conf = False
        self.env = {**os.environ, "SLURM_CONF": str(self.conf)}

    # -- start -----------------------------------------------------------------------
    def start(self) -> SlurmCluster:
        ensure_installed()
        try:
            self._start_munge()
            self._write_conf()
            self._link_system_conf()
            for daemon in ("slurmctld", "slurmd"):
                log = open(self.root / f"{daemon}.out", "wb")  # noqa: SIM115 (kept open)
                self.procs.append(
                    subprocess.Popen(
                        [f"/usr/sbin/{daemon}", "-D", "-f", str(self.conf)],
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        env=self.env,
                        start_new_session=True,
                    )
                )
            self._wait_idle()
        except BaseException:
            self.stop()
            raise
        return self

    def _start_munge(self) -> None:
        if _run("sh", "-c", "munge -n | unmunge").returncode == 0:
            return  # a munged is already serving; leave it alone
        key = Path("/etc/munge/munge.key")
        if not key.exists():
            key.parent.mkdir(parents=True, exist_ok=True)
            key.write_bytes(os.urandom(1024))
            shutil.chown(key, "munge", "munge")
            key.chmod(0o400)
        rundir = Path("/run/munge")
        rundir.mkdir(parents=True, exist_ok=True)
        shutil.chown(rundir, "munge", "munge")
        proc = _run("runuser", "-u", "munge", "--", "/usr/sbin/munged")
        pidfile = rundir / "munged.pid"
        for _ in range(50):
            if pidfile.exists() and _run("sh", "-c", "munge -n | unmunge").returncode == 0:
                self.munged_pid = int(pidfile.read_text().split()[0])
                return
            time.sleep(0.1)
        raise SlurmUnavailable(f"munged did not start: {proc.stderr.strip()}")

    def _write_conf(self) -> None:
        host = socket.gethostname().split(".")[0]
        free_mb = int(Path("/proc/meminfo").read_text().split("MemAvailable:")[1].split()[0])
        memory = max(1000, free_mb // 1024 - 2000)
        for sub in ("state", "spool"):
            (self.root / sub).mkdir(exist_ok=True)
        r = self.root
        self.conf.write_text(
            "\n".join(
                [
                    "ClusterName=tracemetrics-test",
                    f"SlurmctldHost={host}",
                    "SlurmUser=root",
                    "SlurmdUser=root",
                    "AuthType=auth/munge",
                    "ProctrackType=proctrack/linuxproc",
                    "TaskPlugin=task/none",
                    "SelectType=select/cons_tres",
                    "SelectTypeParameters=CR_Core_Memory",
                    "AccountingStorageType=accounting_storage/none",
                    "JobAcctGatherType=jobacct_gather/none",
                    "JobCompType=jobcomp/none",
                    "MpiDefault=none",
                    "ReturnToService=2",
                    "MinJobAge=3600",  # keep finished jobs visible to scontrol
                    f"SlurmctldPort={_free_port()}",
                    f"SlurmdPort={_free_port()}",
                    f"StateSaveLocation={r}/state",
                    f"SlurmdSpoolDir={r}/spool",
                    f"SlurmctldPidFile={r}/slurmctld.pid",
                    f"SlurmdPidFile={r}/slurmd.pid",
                    f"SlurmctldLogFile={r}/slurmctld.log",
                    f"SlurmdLogFile={r}/slurmd.log",
                    # Features=cpu: Perlmutter-style constraint the profile can ask for
                    f"NodeName={host} CPUs={os.cpu_count()} RealMemory={memory} "
                    "Features=cpu State=UNKNOWN",
                    "PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP",
                    "",
                ]
            )
        )

    def _link_system_conf(self) -> None:
        # The jobstep plugin strips SLURM_* (SLURM_CONF too) before calling srun inside
        # a job, so srun needs the default path; point it at this cluster for the test.
        if SYSTEM_CONF.exists() and not SYSTEM_CONF.is_symlink():
            raise SlurmUnavailable(f"{SYSTEM_CONF} exists; refusing to replace a real config")
        SYSTEM_CONF.parent.mkdir(parents=True, exist_ok=True)
        if SYSTEM_CONF.is_symlink():
            SYSTEM_CONF.unlink()
        SYSTEM_CONF.symlink_to(self.conf)
        self.linked_system_conf = True

    def _wait_idle(self) -> None:
        for _ in range(300):
            proc = _run("sinfo", "-h", "-o", "%t", env=self.env)
            if proc.returncode == 0 and proc.stdout.strip() == "idle":
                return
            if any(p.poll() is not None for p in self.procs):
                break
            time.sleep(0.2)
        logs = "".join(
            f"\n--- {name}\n" + (self.root / name).read_text(errors="replace")[-1500:]
            for name in ("slurmctld.out", "slurmd.out", "slurmctld.log", "slurmd.log")
            if (self.root / name).exists()
        )
        raise SlurmUnavailable(f"SLURM node never became idle{logs}")

    # -- use -------------------------------------------------------------------------
    def scontrol_job(self, job_id: str) -> dict[str, str]:
        out = _run("scontrol", "show", "job", "-o", job_id, env=self.env).stdout
        return dict(f.split("=", 1) for f in out.split() if "=" in f)

    # -- stop ------------------------------------------------------------------------
    def stop(self) -> None:
        """Stop exactly what start() started, by pid."""
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        self.procs.clear()
        if self.munged_pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.munged_pid, 15)
            self.munged_pid = None
        if self.linked_system_conf and SYSTEM_CONF.is_symlink():
            SYSTEM_CONF.unlink()
            self.linked_system_conf = False
