"""Fixtures for the Python suite on the generated bindings: a real saferound-server on a
loopback port with a fresh database per test, and the app-side callbacks (secret store,
progress listener, logger) implemented in Python as a phone app implements them.

Run through scripts/test.sh (or scripts/bindings.sh, then pytest) with
SAFEROUND_BINDINGS = the folder with saferound_mobile.py and libsaferound_mobile.so, and
SAFEROUND_SERVER = the saferound-server binary of the same build.
"""

import json
import os
import pathlib
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[3]
TARGET = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
BINDINGS = pathlib.Path(os.environ.get("SAFEROUND_BINDINGS", TARGET / "bindings" / "python"))
SERVER = pathlib.Path(os.environ.get("SAFEROUND_SERVER", TARGET / "debug" / "saferound-server"))
DEMO_PASSWORD = "saferound-demo"

sys.path.insert(0, str(BINDINGS))
import saferound_mobile as sr  # noqa: E402


class Server:
    """A saferound-server process; `url` is where it listens."""

    def __init__(self, directory: pathlib.Path):
        self.dir = directory
        self.proc = subprocess.Popen(
            [
                str(SERVER),
                "--demo",
                "--listen", "127.0.0.1:0",
                "--db", str(directory / "server.db"),
                "--blobs", str(directory / "blobs"),
                "--log", os.environ.get("SAFEROUND_TEST_LOG", "warn"),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        found = {}

        def read():
            for line in self.proc.stdout:
                if line.startswith("listening on ") and "url" not in found:
                    found["url"] = line[len("listening on "):].strip()
            # Keep draining until the process ends so it never blocks on a full pipe.

        self.reader = threading.Thread(target=read, daemon=True)
        self.reader.start()
        deadline = time.monotonic() + 60
        while "url" not in found:
            if self.proc.poll() is not None:
                raise RuntimeError(f"saferound-server exited with {self.proc.returncode}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("saferound-server did not start listening")
            time.sleep(0.02)
        self.url = found["url"]

    def get(self, path: str, token: str):
        """GET a JSON route of the server's API with a device's bearer token."""
        req = urllib.request.Request(self.url + path, headers={"Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(req, timeout=30) as r:
            body = r.read()
            return json.loads(body) if r.headers.get_content_type() == "application/json" else body

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def server(tmp_path):
    # The server's files in a folder of their own; tests put phone stores in tmp_path.
    directory = tmp_path / "server"
    directory.mkdir()
    s = Server(directory)
    try:
        yield s
    finally:
        s.stop()


class MemorySecretStore(sr.SecretStore):
    """The app's secret store (Keystore/Keychain on a phone), here a dict."""

    def __init__(self):
        self.tokens = {}

    def save_token(self, device_id, token):
        self.tokens[device_id] = token

    def load_token(self, device_id):
        return self.tokens.get(device_id)

    def delete_token(self, device_id):
        self.tokens.pop(device_id, None)


class Progress(sr.SyncProgressListener):
    """Collects progress reports; optionally cancels after the first one."""

    def __init__(self, cancel_after_first=None):
        self.seen = []
        self.cancel = cancel_after_first

    def on_progress(self, progress):
        self.seen.append(progress)
        if self.cancel is not None:
            self.cancel.cancel()


class Log(sr.Logger):
    """The platform logger (Logcat/os_log on a phone)."""

    def __init__(self):
        self.lines = []
        self.lock = threading.Lock()

    def log(self, level, target, message):
        with self.lock:
            self.lines.append((level, target, message))


def jpeg(seed: int, size: int = 2048) -> bytes:
    """Bytes that are a JPEG by their signature (what the store and server check)."""
    body = bytes((seed * 31 + i * 7) % 256 for i in range(size))
    return b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + body + b"\xff\xd9"
