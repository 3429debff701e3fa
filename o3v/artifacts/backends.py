"""Object backends of the artifact store: a local folder (`file://`) and Google Cloud Storage (`gs://`).

Both expose the same small object API with GCS semantics, so the store's publish/resolve logic exists once:

- every object has a *generation* (0 = absent); `write(..., if_generation_match=g)` succeeds only when the
  current generation is `g` (0 = create-only), otherwise `PreconditionFailed`;
- `read` returns the bytes and the generation they belong to (for read-modify-write with a precondition).

The file backend enforces preconditions itself (create-only through `os.link`, compare-and-swap under an
`flock`), so the store's concurrency logic is exercised for real by the file tests. The GCS backend delegates
them to the server; note that `gcp-storage-emulator` does **not** enforce preconditions (see
tests/o3v/artifacts/test_store_gcs.py for what that leaves untested).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import random
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Protocol, TypeVar
from urllib.parse import urlparse

log = logging.getLogger(__name__)
T = TypeVar("T")


class StoreError(RuntimeError):
    """Base error of the artifact store; messages name the store URI and object key."""


class NotFound(StoreError):
    """The object does not exist."""


class PreconditionFailed(StoreError):
    """A generation precondition did not hold (someone else wrote the object first)."""


class ObjectBackend(Protocol):
    """What the store needs from object storage (keys are '/'-separated, relative to the store root)."""

    uri: str

    def read(self, key: str) -> tuple[bytes, int]: ...

    def generation(self, key: str) -> int: ...

    def write(self, key: str, data: bytes, *, if_generation_match: int | None = None) -> int: ...

    def upload(self, key: str, path: Path, *, if_generation_match: int | None = None) -> int: ...

    def download(self, key: str, path: Path) -> None: ...

    def list(self, prefix: str) -> list[str]: ...


def retry_transient(
    fn: Callable[[], T],
    *,
    what: str,
    attempts: int = 5,
    base_delay: float = 0.5,
    max_delay: float = 16.0,
    is_transient: Callable[[BaseException], bool] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Call `fn`, retrying transient failures with exponential backoff and full jitter.

    Args:
        fn: the operation (no arguments).
        what: a short description for log lines and the final error ("upload gs://b/k").
        attempts: total tries, including the first.
        base_delay: delay before the second try; doubles each time, capped by `max_delay`.
        is_transient: decides what is retried; defaults to `is_transient_error`.
        sleep: injected for tests.

    Raises:
        The last exception when every attempt failed, or the first non-transient one immediately.
    """
    check = is_transient or is_transient_error
    for attempt in range(1, attempts + 1):
        try:
            return fn()
        except Exception as exc:  # noqa: BLE001 - classified just below
            if attempt == attempts or not check(exc):
                raise
            delay = random.uniform(0, min(max_delay, base_delay * 2 ** (attempt - 1)))
            log.warning(
                "%s failed (%s: %s); retry %d/%d in %.2fs", what, type(exc).__name__, exc, attempt, attempts - 1, delay
            )
            sleep(delay)
    raise AssertionError("unreachable")


def is_transient_error(exc: BaseException) -> bool:
    """True for errors worth retrying: 429/5xx from GCS, dropped connections and timeouts."""
    if isinstance(exc, (ConnectionError, TimeoutError)):
        return True
    try:
        import requests
        from google.api_core import exceptions as gexc
    except ImportError:  # pragma: no cover - google-cloud-storage is a core dependency
        return False
    transient = (
        gexc.TooManyRequests,
        gexc.InternalServerError,
        gexc.BadGateway,
        gexc.ServiceUnavailable,
        gexc.GatewayTimeout,
        requests.ConnectionError,
        requests.Timeout,
    )
    return isinstance(exc, transient)


class FileBackend:
    """Objects as files under a local folder; generations kept in `.o3v-meta/` beside them."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root).absolute()
        self.uri = self.root.as_uri()
        self._meta = self.root / ".o3v-meta"

    def _path(self, key: str) -> Path:
        if not key or key.startswith("/") or ".." in key.split("/"):
            raise StoreError(f"{self.uri}: invalid object key {key!r}")
        return self.root / key

    @contextlib.contextmanager
    def _locked(self, key: str) -> Iterator[None]:
        lock = self._meta / (key + ".lock")
        lock.parent.mkdir(parents=True, exist_ok=True)
        with open(lock, "a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def _gen_file(self, key: str) -> Path:
        return self._meta / (key + ".gen")

    def generation(self, key: str) -> int:
        """Current generation of `key` (0 when absent)."""
        if not self._path(key).is_file():
            return 0
        gen = self._gen_file(key)
        return int(gen.read_text()) if gen.is_file() else 1

    def read(self, key: str) -> tuple[bytes, int]:
        """Bytes and generation of `key`; `NotFound` when absent."""
        with self._locked(key):
            path = self._path(key)
            if not path.is_file():
                raise NotFound(f"{self.uri}/{key}: no such object")
            return path.read_bytes(), self.generation(key)

    def write(self, key: str, data: bytes, *, if_generation_match: int | None = None) -> int:
        """Write bytes; see `upload` for the precondition semantics."""
        with tempfile.NamedTemporaryFile(dir=self._tmpdir(), delete=False) as fh:
            fh.write(data)
        try:
            return self.upload(key, Path(fh.name), if_generation_match=if_generation_match)
        finally:
            Path(fh.name).unlink(missing_ok=True)

    def upload(self, key: str, path: Path, *, if_generation_match: int | None = None) -> int:
        """Copy a local file to `key`; `if_generation_match=0` is create-only, `g > 0` is compare-and-swap."""
        dest = self._path(key)
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=self._tmpdir())
        os.close(fd)  # copyfile reopens it by name; an open descriptor per upload ran out at ~20k files (1,360 videos)
        staged = Path(name)
        try:
            shutil.copyfile(path, staged)
            with self._locked(key):
                current = self.generation(key)
                if if_generation_match is not None and current != if_generation_match:
                    raise PreconditionFailed(
                        f"{self.uri}/{key}: generation is {current}, expected {if_generation_match}"
                    )
                if current == 0:
                    try:  # link() refuses an existing name: create-only even against writers ignoring the lock
                        os.link(staged, dest)
                    except FileExistsError as exc:
                        raise PreconditionFailed(f"{self.uri}/{key}: already exists") from exc
                else:
                    os.replace(staged, dest)
                new = current + 1
                gen = self._gen_file(key)
                gen.parent.mkdir(parents=True, exist_ok=True)
                gen.write_text(str(new))
                return new
        finally:
            staged.unlink(missing_ok=True)

    def download(self, key: str, path: Path) -> None:
        """Copy `key` to a local file."""
        src = self._path(key)
        if not src.is_file():
            raise NotFound(f"{self.uri}/{key}: no such object")
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, path)

    def list(self, prefix: str) -> list[str]:
        """Every object key starting with `prefix` (a folder prefix ending in '/' or a key prefix)."""
        base = self.root / prefix.rsplit("/", 1)[0] if "/" in prefix else self.root
        if not base.is_dir():
            return []
        keys = []
        for path in base.rglob("*"):
            rel = path.relative_to(self.root).as_posix()
            if path.is_file() and rel.startswith(prefix) and not rel.startswith((".o3v-meta/", ".o3v-tmp/")):
                keys.append(rel)
        return sorted(keys)

    def local_path(self, key: str) -> Path:
        """The file behind `key` (file backend only: lets readers skip a copy)."""
        return self._path(key)

    def _tmpdir(self) -> Path:
        tmp = self.root / ".o3v-tmp"
        tmp.mkdir(parents=True, exist_ok=True)
        return tmp


class GCSBackend:
    """Objects in a GCS bucket under a prefix, through google-cloud-storage, with retries on transient errors."""

    def __init__(self, bucket: str, prefix: str = "", client: object | None = None) -> None:
        from google.cloud import storage

        self._client = client or storage.Client()
        self._bucket = self._client.bucket(bucket)
        self.prefix = prefix.strip("/")
        self.uri = f"gs://{bucket}" + (f"/{self.prefix}" if self.prefix else "")

    def _name(self, key: str) -> str:
        if not key or key.startswith("/") or ".." in key.split("/"):
            raise StoreError(f"{self.uri}: invalid object key {key!r}")
        return f"{self.prefix}/{key}" if self.prefix else key

    def _call(self, what: str, fn: Callable[[], T]) -> T:
        from google.api_core import exceptions as gexc

        try:
            return retry_transient(fn, what=what)
        except gexc.PreconditionFailed as exc:
            raise PreconditionFailed(f"{what}: precondition failed ({exc})") from exc
        except gexc.NotFound as exc:
            raise NotFound(f"{what}: no such object") from exc

    def generation(self, key: str) -> int:
        """Current generation of `key` (0 when absent)."""
        blob = self._call(f"stat {self.uri}/{key}", lambda: self._bucket.get_blob(self._name(key)))
        return int(blob.generation) if blob is not None else 0

    def read(self, key: str) -> tuple[bytes, int]:
        """Bytes and the generation they were read at (the download is pinned to that generation)."""
        gen = self.generation(key)
        if gen == 0:
            raise NotFound(f"{self.uri}/{key}: no such object")
        blob = self._bucket.blob(self._name(key))
        data = self._call(f"read {self.uri}/{key}", lambda: blob.download_as_bytes(if_generation_match=gen))
        return data, gen

    def write(self, key: str, data: bytes, *, if_generation_match: int | None = None) -> int:
        """Upload bytes with an optional generation precondition (0 = create-only)."""
        blob = self._bucket.blob(self._name(key))
        self._call(
            f"write {self.uri}/{key}",
            lambda: blob.upload_from_string(data, if_generation_match=if_generation_match),
        )
        return int(blob.generation or 0)

    def upload(self, key: str, path: Path, *, if_generation_match: int | None = None) -> int:
        """Upload a local file with an optional generation precondition (0 = create-only)."""
        blob = self._bucket.blob(self._name(key))
        self._call(
            f"upload {path} -> {self.uri}/{key}",
            lambda: blob.upload_from_filename(str(path), if_generation_match=if_generation_match),
        )
        return int(blob.generation or 0)

    def download(self, key: str, path: Path) -> None:
        """Download `key` to a local file."""
        path.parent.mkdir(parents=True, exist_ok=True)
        blob = self._bucket.blob(self._name(key))
        self._call(f"download {self.uri}/{key}", lambda: blob.download_to_filename(str(path)))

    def list(self, prefix: str) -> list[str]:
        """Every object key starting with `prefix`."""
        full = self._name(prefix) if prefix else (self.prefix + "/" if self.prefix else "")
        cut = len(self.prefix) + 1 if self.prefix else 0
        blobs = self._call(f"list {self.uri}/{prefix}", lambda: list(self._bucket.list_blobs(prefix=full)))
        return sorted(b.name[cut:] for b in blobs)


def open_backend(uri: str, client: object | None = None) -> ObjectBackend:
    """A backend for `file:///abs/dir`, a plain local path, or `gs://bucket/prefix`."""
    parsed = urlparse(uri)
    if parsed.scheme == "gs":
        if not parsed.netloc:
            raise StoreError(f"{uri}: a gs:// store URI needs a bucket (gs://bucket/prefix)")
        return GCSBackend(parsed.netloc, parsed.path, client=client)
    if parsed.scheme == "file":
        return FileBackend(Path(parsed.path))
    if parsed.scheme == "":
        return FileBackend(Path(uri))
    raise StoreError(f"{uri}: unsupported store scheme {parsed.scheme!r} (use file:// or gs://)")
