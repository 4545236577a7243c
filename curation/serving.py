"""Who serves a project: `<project>/.curation/serve.json`, written by the server while it runs.

DuckDB lets one process write a project's database, so while `curation serve` holds a project every
other client (a command, a notebook) talks to that server. The file records the server's port, pid
and a random token, readable by the project folder's owner only (mode 0600): whoever can read the
project may use the API, nobody else. A server killed with SIGKILL leaves the file behind; a client
sees through it (the pid is gone or the port does not answer) and the next server replaces it.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
from dataclasses import asdict, dataclass
from pathlib import Path

FOLDER = ".curation"
FILE = "serve.json"


@dataclass(frozen=True)
class ServeInfo:
    host: str
    port: int
    pid: int
    token: str

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        return f"http://{host}:{self.port}"


def serve_file(root: Path) -> Path:
    return Path(root) / FOLDER / FILE


def new_token() -> str:
    return secrets.token_urlsafe(32)


def write_serve_info(root: Path, info: ServeInfo) -> None:
    """Write the file atomically, created with mode 0600 (never readable by others, not even briefly)."""
    path = serve_file(root)
    path.parent.mkdir(mode=0o700, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(asdict(info), out)
    os.replace(tmp, path)


def remove_serve_info(root: Path, pid: int) -> None:
    """Remove the file if it is still this server's (a newer server may have replaced it)."""
    info = read_serve_info(root)
    if info is not None and info.pid == pid:
        serve_file(root).unlink(missing_ok=True)


def read_serve_info(root: Path) -> ServeInfo | None:
    try:
        data = json.loads(serve_file(root).read_text())
        return ServeInfo(str(data["host"]), int(data["port"]), int(data["pid"]), str(data["token"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def live_server(root: Path) -> ServeInfo | None:
    """The server recorded for the project if it still runs and listens; None when there is none."""
    info = read_serve_info(root)
    if info is None or not pid_alive(info.pid) or not port_open(info):
        return None
    return info


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def port_open(info: ServeInfo, timeout: float = 1.0) -> bool:
    host = info.url.split("//", 1)[1].rsplit(":", 1)[0]
    try:
        with socket.create_connection((host, info.port), timeout=timeout):
            return True
    except OSError:
        return False
