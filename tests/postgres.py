"""A throwaway PostgreSQL cluster from Debian's packages, for the tests that need one.

``initdb`` into a fresh directory, a server on a free loopback port with trust
authentication, stopped and removed at the end. As root the cluster runs as the
``postgres`` user (PostgreSQL refuses root). Without the packages the tests skip, except in
CI (``CI=true``) where ``scripts/test`` has installed them and a skip would hide a failure.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest


def _bin(name: str) -> str | None:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else shutil.which(name)


class Cluster:
    def __init__(self) -> None:
        initdb, self.pg_ctl = _bin("initdb"), _bin("pg_ctl")
        if initdb is None or self.pg_ctl is None:
            if os.environ.get("CI") == "true":
                raise RuntimeError("PostgreSQL is not installed (scripts/test installs it)")
            pytest.skip("PostgreSQL (Debian's postgresql package) is not installed")
        self.root = Path(tempfile.mkdtemp(prefix="tcpladder-pg-"))
        self.data = self.root / "data"
        self.user: list[str] = []
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")
            os.chown(self.root, pw.pw_uid, pw.pw_gid)
            self.user = ["runuser", "-u", "postgres", "--"]
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = int(s.getsockname()[1])
        self._run(initdb, "-D", str(self.data), "-U", "tcpladder", "--auth=trust", "-E", "UTF8")
        self.url = f"postgresql://tcpladder@127.0.0.1:{self.port}/postgres"
        self.start()

    def database(self, name: str) -> str:
        """A new, empty database on this cluster (for a test that must see only its own
        sessions); its URL."""
        import psycopg

        with psycopg.connect(self.url) as conn:
            conn.autocommit = True
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url.rsplit("/", 1)[0] + "/" + name

    def _run(self, *args: str) -> None:
        subprocess.run([*self.user, *args], check=True, capture_output=True, cwd=self.root)

    def start(self) -> None:
        assert self.pg_ctl is not None
        opts = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root} -c fsync=off"
        self._run(self.pg_ctl, "-D", str(self.data), "-o", opts, "-w", "-l",
                  str(self.root / "log"), "start")  # fmt: skip

    def stop(self) -> None:
        assert self.pg_ctl is not None
        self._run(self.pg_ctl, "-D", str(self.data), "-m", "fast", "-w", "stop")

    def close(self) -> None:
        try:
            self.stop()
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres() -> Iterator[Cluster]:
    cluster = Cluster()
    try:
        yield cluster
    finally:
        cluster.close()
