"""Where a record's video or image lives: safe relative paths under a media root, gs:// downloads.

A dataset names one `media_root` (a local folder or a `gs://bucket/prefix` URI) and every record
stores its media path relative to it. Paths from manifests and imported annotations are untrusted:
`safe_relpath` refuses absolute paths outside the root and anything that climbs out of it
(`../../etc/passwd`), so a reject names the field instead of the pipeline reading an arbitrary file.

gs:// media are downloaded once (google-cloud-storage; `STORAGE_EMULATOR_HOST` is honoured) into
`<cache_dir>/gcs/<bucket>/<object>` and reused from there.
"""

from __future__ import annotations

import logging
import os
import posixpath
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


class MediaError(ValueError):
    """A media path that is unsafe, missing or cannot be fetched; the message names the path.

    `reason` is the stable reject code (`unsafe_path`, `download_failed`, `video_missing`, ...).
    """

    def __init__(self, message: str, reason: str = "unsafe_path"):
        super().__init__(message)
        self.reason = reason


def default_cache_dir(configured: str | None) -> Path:
    """The configured cache folder, else `$O3V_CACHE` or `~/.cache/o3v`."""
    if configured:
        return Path(configured).expanduser()
    return Path(os.environ.get("O3V_CACHE") or Path.home() / ".cache" / "o3v")


def is_gcs(uri: str) -> bool:
    return uri.startswith("gs://")


def split_gcs(uri: str) -> tuple[str, str]:
    """`gs://bucket/a/b.mp4` -> ("bucket", "a/b.mp4"); raises `MediaError` for a malformed or unsafe URI."""
    if not is_gcs(uri):
        raise MediaError(f"{uri!r} is not a gs:// URI")
    bucket, _, name = uri[5:].partition("/")
    if not bucket or not name:
        raise MediaError(f"{uri!r}: a gs:// URI needs a bucket and an object name")
    if safe_relpath(name) != name.rstrip("/"):
        raise MediaError(f"{uri!r}: object name must not contain '.', '..' or empty segments")
    return bucket, name


def safe_relpath(path: str, root: str | None = None) -> str | None:
    """A normalized path relative to `root`, or None when it would leave the root.

    Relative paths must not climb out (`a/../../b`); absolute local paths are accepted only when they
    lie under `root`. Symlinks are not resolved: a link the user placed inside the root is theirs.

    Example:
        >>> safe_relpath("videos/a.mp4"), safe_relpath("../../etc/passwd"), safe_relpath("/data/v/a.mp4", "/data")
        ('videos/a.mp4', None, 'v/a.mp4')
    """
    if not path or "\x00" in path:
        return None
    path = path.replace("\\", "/")  # a Windows-style separator must not hide an absolute path or a '..'
    if posixpath.isabs(path) or os.path.isabs(path):
        if root is None or is_gcs(root):
            return None
        rel = os.path.relpath(os.path.normpath(path), os.path.normpath(root))
    else:
        rel = posixpath.normpath(path)
    rel = rel.replace(os.sep, "/")
    if rel in (".", "") or rel == ".." or rel.startswith("../"):
        return None
    return rel


def join_media(media_root: str, rel: str) -> str:
    """`media_root` + relative path, as a local path or a gs:// URI."""
    if is_gcs(media_root):
        return media_root.rstrip("/") + "/" + rel
    return str(Path(media_root) / rel)


def gcs_client() -> Any:  # pragma: no cover - trivial factory, exercised against the emulator in tests
    """A google-cloud-storage client (anonymous against `STORAGE_EMULATOR_HOST`, default credentials otherwise)."""
    from google.cloud import storage

    return storage.Client(project=os.environ.get("GOOGLE_CLOUD_PROJECT") or "o3v")


def fetch(uri: str, cache_dir: Path, client: Any = None) -> Path:
    """Local path of `uri`: a local path as is, a gs:// object downloaded into the cache (once)."""
    if not is_gcs(uri):
        return Path(uri)
    bucket, name = split_gcs(uri)
    dest = cache_dir / "gcs" / bucket / name
    if dest.is_file():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + f".part{os.getpid()}")
    try:
        client = client or gcs_client()
        client.bucket(bucket).blob(name).download_to_filename(str(tmp))
    except Exception as exc:  # NotFound, Forbidden, transport errors: all become a reject naming the URI
        tmp.unlink(missing_ok=True)
        raise MediaError(f"{uri}: download failed: {type(exc).__name__}: {exc}", "download_failed") from exc
    os.replace(tmp, dest)
    log.debug("downloaded %s -> %s", uri, dest)
    return dest


def local_media(media_root: str, rel: str, cache_dir: Path, client: Any = None) -> Path:
    """Local path of a record's media (downloading from gs:// when the root is a bucket)."""
    return fetch(join_media(media_root, rel), cache_dir, client)
