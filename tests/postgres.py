"""A throwaway local PostgreSQL cluster for the storage tests (Debian's `postgresql` package).

Started once per test session in a temporary folder on a free loopback port; as root it runs the
server as the `postgres` system user (PostgreSQL refuses to run as root).
"""

from __future__ import annotations

import glob
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path


def _bin_dir() -> Path | None:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    return Path(candidates[0]).parent if candidates else None


def postgres_unavailable_reason() -> str | None:
    if _bin_dir() is None:
        return "PostgreSQL server binaries not installed (Debian package 'postgresql')"
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return "running as root without runuser"
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class PostgresServer:
    host: str
    port: int
    user: str
    data_dir: Path | None = None
    _names: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    base_url: str = ""

    @classmethod
    def external(cls, url: str) -> PostgresServer:
        return cls(host="", port=0, user="", base_url=url)

    @classmethod
    def start(cls) -> PostgresServer:
        """In its own folder directly under /tmp: the postgres user cannot enter pytest's root-only folders."""
        bin_dir = _bin_dir()
        assert bin_dir is not None
        folder = Path(tempfile.mkdtemp(prefix="sangkien-pg-"))
        data_dir, port = folder / "data", _free_port()
        as_postgres: list[str] = []
        if os.geteuid() == 0:
            shutil.chown(folder, "postgres")
            as_postgres = ["runuser", "-u", "postgres", "--"]
        run = lambda *args: subprocess.run([*as_postgres, *args], check=True, capture_output=True)  # noqa: E731
        run(str(bin_dir / "initdb"), "-D", str(data_dir), "-A", "trust", "-U", "postgres", "-E", "UTF8")
        options = f"-c listen_addresses=127.0.0.1 -p {port} -k {folder} -c fsync=off -c full_page_writes=off"
        run(str(bin_dir / "pg_ctl"), "-D", str(data_dir), "-o", options, "-l", str(folder / "log"), "-w", "start")
        return cls(host="127.0.0.1", port=port, user="postgres", data_dir=data_dir)

    def restart(self) -> None:
        """Stop at once (every connection cut, as in a crash) and start again on the same data and port."""
        bin_dir = _bin_dir()
        assert self.data_dir is not None and bin_dir is not None
        as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        command = [*as_postgres, str(bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-m", "immediate", "-w",
                   "-l", str(self.data_dir.parent / "log"), "restart"]  # fmt: skip
        subprocess.run(command, capture_output=True, check=True)

    def stop(self) -> None:
        bin_dir = _bin_dir()
        if self.data_dir is None or bin_dir is None:
            return
        as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run([*as_postgres, str(bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-m", "immediate", "stop"],
                       capture_output=True, check=False)  # fmt: skip
        shutil.rmtree(self.data_dir.parent, ignore_errors=True)

    def create_database(self) -> str:
        """A new empty database; returns its SQLAlchemy async URL."""
        name = f"sangkien_test_{os.getpid()}_{next(self._names)}"
        if self.base_url:
            return self._create_on_external(name)
        subprocess.run(
            ["psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", self.user, "-d", "postgres", "-q",
             "-c", f"CREATE DATABASE {name}"],
            check=True, capture_output=True,
        )  # fmt: skip
        return f"postgresql+asyncpg://{self.user}@127.0.0.1:{self.port}/{name}"

    def _create_on_external(self, name: str) -> str:
        plain = self.base_url.replace("+asyncpg", "")
        subprocess.run(["psql", plain, "-q", "-c", f"CREATE DATABASE {name}"], check=True, capture_output=True)
        return self.base_url.rsplit("/", 1)[0] + "/" + name
