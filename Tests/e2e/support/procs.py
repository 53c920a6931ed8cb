"""Process and port helpers: every wait is bounded, every process is torn down."""

from __future__ import annotations

import atexit
import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Callable, Optional


_handed_out: set[int] = set()


def free_port() -> int:
    """A currently free TCP port on 127.0.0.1 (the caller binds it soon after).

    The kernel may give the same ephemeral port to two binds in a row once the first socket is
    closed, so a port is never handed out twice in one test run: two listeners of one process
    asked for "a free port" each would otherwise collide (listen_address_conflict in CI).
    """
    for _ in range(1000):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _handed_out:
            _handed_out.add(port)
            return port
    raise RuntimeError("no free TCP port on 127.0.0.1 that this run has not used already")


def port_open(port: int, host: str = "127.0.0.1", timeout: float = 0.2) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_until(pred: Callable[[], object], timeout: float, interval: float = 0.05, what: str = "condition"):
    """Poll `pred` until it returns a truthy value (returned) or `timeout` seconds pass (TimeoutError)."""
    deadline = time.monotonic() + timeout
    last_exc: Optional[BaseException] = None
    while True:
        try:
            value = pred()
            if value:
                return value
        except Exception as exc:  # noqa: BLE001 - keep polling, report the last error
            last_exc = exc
        if time.monotonic() >= deadline:
            msg = f"timed out after {timeout:.1f}s waiting for {what}"
            if last_exc is not None:
                msg += f" (last error: {last_exc!r})"
            raise TimeoutError(msg)
        time.sleep(interval)


def tail(path: Path, max_bytes: int = 6000) -> str:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        return f"<unreadable {path}: {exc}>"
    if len(data) > max_bytes:
        data = b"...\n" + data[-max_bytes:]
    return data.decode("utf-8", "replace")


_LIVE: "set[ManagedProcess]" = set()


@atexit.register
def _stop_leftovers() -> None:
    """Last resort: no child of the suite outlives it (fixtures normally stop them first)."""
    for p in list(_LIVE):
        try:
            p.stop(timeout=2)
        except Exception:  # noqa: BLE001
            pass


class ManagedProcess:
    """A child process in its own process group with stdout/stderr captured to files."""

    def __init__(self, name: str, argv: list[str], workdir: Path, env: Optional[dict] = None):
        self.name = name
        self.argv = [str(a) for a in argv]
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.stdout_path = self.workdir / f"{name}.stdout"
        self.stderr_path = self.workdir / f"{name}.stderr"
        self.env = env
        self.proc: Optional[subprocess.Popen] = None

    def start(self) -> "ManagedProcess":
        out = open(self.stdout_path, "ab")
        err = open(self.stderr_path, "ab")
        try:
            self.proc = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                cwd=self.workdir,
                env=self.env,
                start_new_session=True,
            )
        finally:
            out.close()
            err.close()
        _LIVE.add(self)
        return self

    @property
    def pid(self) -> Optional[int]:
        return self.proc.pid if self.proc else None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def returncode(self) -> Optional[int]:
        return None if self.proc is None else self.proc.poll()

    def stop(self, timeout: float = 5.0) -> None:
        """SIGTERM the process group, then SIGKILL after `timeout` seconds."""
        _LIVE.discard(self)
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait(timeout=timeout)
        else:
            # Reap leftovers of the group (if any) without touching anything else.
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass

    def diagnostics(self) -> str:
        rc = self.returncode()
        state = "running" if rc is None else f"exited with {rc}"
        return (
            f"--- {self.name} ({' '.join(self.argv)}) {state}\n"
            f"--- stdout ({self.stdout_path}):\n{tail(self.stdout_path)}\n"
            f"--- stderr ({self.stderr_path}):\n{tail(self.stderr_path)}\n"
        )
