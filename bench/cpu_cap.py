"""A process held to a share of one core (a Linux cgroup's CPU quota), for the scale-out bench.

On a 2-core machine the bots share the cores with PostgreSQL, the emulator and the members, so a second
`serve` process finds no idle core to add. Held each to the same small share of a core, one process is
bound by its own CPU and two have twice the CPU: what they then carry together shows whether anything they
share (the database's locks, the claims, the shared sending limit) stops the second from adding its part.
Needs a writable cgroup CPU controller (root, v1's `cpu` hierarchy or v2 with `cpu` enabled); otherwise
`CpuCaps.open` says why not.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

PERIOD_US = 100_000
_V1 = Path("/sys/fs/cgroup/cpu")
_V2 = Path("/sys/fs/cgroup")


class CpuCaps:
    """Cgroups under one parent, one per capped process, removed by `close`."""

    def __init__(self, parent: Path, version: int) -> None:
        self.parent, self.version = parent, version
        self._made: list[Path] = []

    @classmethod
    def open(cls, name: str) -> CpuCaps | str:
        """The caps, or the reason there are none on this machine."""
        if (_V1 / "cpu.cfs_quota_us").exists():
            parent, version = _V1 / name, 1
        elif "cpu" in _read(_V2 / "cgroup.controllers").split():
            parent, version = _V2 / name, 2
        else:
            return "no cgroup CPU controller is mounted"
        try:
            parent.mkdir(exist_ok=True)
            if version == 2:
                (parent / "cgroup.subtree_control").write_text("+cpu")
        except OSError as error:
            with contextlib.suppress(OSError):
                parent.rmdir()
            return f"cgroups are not writable here ({error.strerror})"
        return cls(parent, version)

    def cap(self, pid: int, share_of_a_core: float) -> None:
        """Hold the process, and the processes it starts from now on, to `share_of_a_core` of one core."""
        group = self.parent / str(pid)
        group.mkdir()
        self._made.append(group)
        quota = int(share_of_a_core * PERIOD_US)
        if self.version == 1:
            (group / "cpu.cfs_period_us").write_text(str(PERIOD_US))
            (group / "cpu.cfs_quota_us").write_text(str(quota))
        else:
            (group / "cpu.max").write_text(f"{quota} {PERIOD_US}")
        (group / "cgroup.procs").write_text(str(pid))

    def close(self) -> None:
        """Remove the groups (each emptied when its processes ended) and the parent."""
        for group in [*reversed(self._made), self.parent]:
            with contextlib.suppress(OSError):
                group.rmdir()


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""
