"""The host side of the throwaway PostgreSQL cluster: where the server binaries are, which
OS user runs them when the tests run as root, free ports, log tails and quoted names."""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import shutil
import socket
import subprocess
from pathlib import Path

ENV_PG_BIN = "KPIBOT_PG_BIN"
ENV_REQUIRE = "KPIBOT_REQUIRE_POSTGRES"
ENV_EXTERNAL_URL = "KPIBOT_TEST_POSTGRES_URL"
ENV_OS_USER = "KPIBOT_PG_OS_USER"
FALLBACK_OS_USER = "kpibot-pg"
DB_SUPERUSER = "postgres"

DB_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


class PostgresError(RuntimeError):
    """The cluster could not be initialised, started or stopped."""


class PostgresNotAvailable(PostgresError):
    """No PostgreSQL server binaries were found."""


# ---------------------------------------------------------------------------- binaries
def has_server_binaries(path: Path) -> bool:
    return all((path / name).is_file() for name in ("initdb", "pg_ctl", "postgres"))


def version_key(path: Path) -> tuple[int, ...]:
    # /usr/lib/postgresql/<version>/bin
    return tuple(int(p) for p in re.findall(r"\d+", path.parent.name)) or (0,)


def find_pg_bin() -> Path:
    """Directory holding initdb/pg_ctl/postgres; raises PostgresNotAvailable."""
    explicit = os.environ.get(ENV_PG_BIN)
    if explicit:
        path = Path(explicit)
        if has_server_binaries(path):
            return path
        raise PostgresNotAvailable(f"${ENV_PG_BIN}={explicit} has no initdb/pg_ctl/postgres")

    pg_config = shutil.which("pg_config")
    if pg_config:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run(
                [pg_config, "--bindir"],
                capture_output=True,
                text=True,
                timeout=10,
                check=True,
            ).stdout.strip()
            if out and has_server_binaries(Path(out)):
                return Path(out)

    candidates = [p for p in Path("/usr/lib/postgresql").glob("*/bin") if has_server_binaries(p)]
    if candidates:
        return max(candidates, key=version_key)

    initdb = shutil.which("initdb")
    if initdb and has_server_binaries(Path(initdb).parent):
        return Path(initdb).parent

    raise PostgresNotAvailable(
        "no PostgreSQL server binaries (initdb, pg_ctl, postgres): set "
        f"${ENV_PG_BIN}, or install them (Debian: apt-get install postgresql)"
    )


# ---------------------------------------------------------------------------- helpers
def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def log_tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return f"(no {path.name})"
    return "\n".join(text.splitlines()[-lines:])


def os_user_for_root() -> pwd.struct_passwd:
    """The unprivileged OS account that runs PostgreSQL when we are root."""
    wanted = os.environ.get(ENV_OS_USER)
    for name in [wanted] if wanted else [DB_SUPERUSER, FALLBACK_OS_USER]:
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    if wanted:
        raise PostgresError(f"${ENV_OS_USER}={wanted}: no such user")
    commands = [
        [
            "useradd",
            "--system",
            "--no-create-home",
            "--user-group",
            "--shell",
            "/usr/sbin/nologin",
            FALLBACK_OS_USER,
        ],
        ["adduser", "-S", "-D", "-H", FALLBACK_OS_USER],  # busybox
    ]
    errors = []
    for cmd in commands:
        if not shutil.which(cmd[0]):
            continue
        result = subprocess.run(cmd, capture_output=True, text=True, check=False)
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(FALLBACK_OS_USER)  # created (maybe by a parallel run)
        errors.append(f"{' '.join(cmd)}: {result.stderr.strip()}")
    raise PostgresError(
        f"running as root and could not create the OS user {FALLBACK_OS_USER!r} for "
        f"PostgreSQL: {'; '.join(errors) or 'no useradd/adduser'}"
    )


def quote_ident(name: str) -> str:
    if not DB_NAME.match(name):
        raise ValueError(f"invalid database name {name!r} (letters, digits, _; max 63)")
    return f'"{name}"'
