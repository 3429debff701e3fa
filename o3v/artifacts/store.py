"""Named, immutable versions of datasets and checkpoints in a `file://` folder or a `gs://bucket/prefix`.

Layout under the store root (the same on both backends):

    <name>/versions/<version>/files/<relpath>    the artifact's files, create-only
    <name>/versions/<version>/manifest.json      written last (create-only): a version exists iff this exists
    <name>/latest.json                           {"version", "tree_hash", "published_at"}: moved forward with a
                                                 generation precondition (read generation, write if it still holds)

Rules: a published version is never overwritten (every object is written with `if_generation_match=0`);
republishing identical content under the same version is a no-op (so retried publishes are safe); different
content under an existing version raises `VersionExistsError`. Without an explicit version the next `v<N>` is
taken, and a writer that loses the race for `v<N>` moves on to `v<N+1>`. References: `name`, `name@latest`,
`name@v3`, or a version URI `<store>/<name>/versions/<version>`.

    o3v artifacts publish out/curated --name stgr-curated --kind dataset
    o3v artifacts resolve stgr-curated@latest

(Longer than the house 300-line aim: publish, its retry/resume paths and the latest pointer's
compare-and-swap share private helpers and read best together.)
"""

from __future__ import annotations

import json
import logging
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from o3v.artifacts.backends import (
    FileBackend,
    NotFound,
    ObjectBackend,
    PreconditionFailed,
    StoreError,
    open_backend,
)
from o3v.artifacts.provenance import (
    PROVENANCE_FILE,
    Parent,
    Provenance,
    file_sha256,
    hash_tree,
    read_local,
    utc_now,
)
from o3v.artifacts.provenance import SCHEMA as PROVENANCE_SCHEMA

log = logging.getLogger(__name__)

MANIFEST_SCHEMA = "o3v.manifest/1"
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,127}$")
_VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_AUTO = re.compile(r"^v(\d+)$")
KINDS = ("dataset", "model", "metrics", "report", "world")


class VersionExistsError(StoreError):
    """A different artifact is already published under this name and version."""


@dataclass
class Manifest:
    """A published version: the artifact's provenance plus its name, version, kind and where it was copied from."""

    name: str
    version: str
    kind: str
    provenance: Provenance  # provenance.uri is the version URI; parents/config/code are the source artifact's
    source_uri: str | None
    published_at: str
    # Other versions this one belongs with, by role (a curated dataset names the media version its
    # records' videos are in, so a later run fetches the pair that was published together).
    links: dict[str, str] = field(default_factory=dict)

    @property
    def uri(self) -> str:
        return self.provenance.uri

    @property
    def tree_hash(self) -> str:
        return self.provenance.tree_hash

    def to_json(self) -> dict[str, Any]:
        """The manifest.json form: provenance fields plus the version's identity."""
        data = self.provenance.to_json()
        data.update(
            schema=MANIFEST_SCHEMA,
            name=self.name,
            version=self.version,
            kind=self.kind,
            source_uri=self.source_uri,
            published_at=self.published_at,
            links=dict(self.links),
        )
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any], source: str) -> Manifest:
        """Parse manifest.json; ValueError naming `source` on bad input."""
        if not isinstance(data, dict) or data.get("schema") != MANIFEST_SCHEMA:
            raise ValueError(f"{source}: not an o3v version manifest (schema must be {MANIFEST_SCHEMA!r})")
        data = dict(data)
        try:
            extra = {k: data.pop(k) for k in ("name", "version", "kind", "source_uri", "published_at")}
        except KeyError as exc:
            raise ValueError(f"{source}: manifest misses field {exc}") from exc
        links = data.pop("links", {}) or {}
        data["schema"] = PROVENANCE_SCHEMA
        return cls(provenance=Provenance.from_json(data, source), links=dict(links), **extra)


def parse_ref(ref: str) -> tuple[str, str]:
    """Split `name[@version]` into (name, version); the version defaults to "latest".

    >>> parse_ref("stgr-curated@v3")
    ('stgr-curated', 'v3')
    """
    name, _, version = ref.partition("@")
    version = version or "latest"
    if not _NAME.match(name):
        raise StoreError(f"{ref!r}: artifact names are lowercase letters, digits, '.', '_' or '-'")
    if version != "latest" and not _VERSION.match(version):
        raise StoreError(f"{ref!r}: bad version {version!r}")
    return name, version


class ArtifactStore:
    """Publish and resolve named versions under one store root URI."""

    def __init__(self, uri: str, backend: ObjectBackend | None = None) -> None:
        self.backend = backend or open_backend(uri)
        self.uri = self.backend.uri

    # -- reading -----------------------------------------------------------------------------------------
    def version_uri(self, name: str, version: str) -> str:
        """The URI of a version folder."""
        return f"{self.uri}/{name}/versions/{version}"

    def names(self) -> list[str]:
        """Every artifact name with at least one published version."""
        return sorted({k.split("/")[0] for k in self.backend.list("") if k.endswith("/manifest.json")})

    def versions(self, name: str) -> list[str]:
        """Published versions of `name`, oldest first."""
        keys = self.backend.list(f"{name}/versions/")
        found = [k.split("/")[2] for k in keys if k.count("/") == 3 and k.endswith("/manifest.json")]
        return sorted(found, key=lambda v: (0, int(_AUTO.match(v)[1])) if _AUTO.match(v) else (1, v))

    def latest(self, name: str) -> str | None:
        """The version the latest pointer names, or None when nothing was published."""
        try:
            data, _ = self.backend.read(f"{name}/latest.json")
        except NotFound:
            return None
        return json.loads(data)["version"]

    def resolve(self, ref: str) -> Manifest:
        """The manifest of `name`, `name@latest`, `name@<version>` or a version URI.

        Raises:
            StoreError: naming the reference when it does not resolve.
        """
        name, version = self._split(ref)
        if version == "latest":
            version = self.latest(name)
            if version is None:
                raise StoreError(f"{ref}: nothing published under {name!r} in {self.uri}")
        key = f"{name}/versions/{version}/manifest.json"
        try:
            data, _ = self.backend.read(key)
        except NotFound as exc:
            known = ", ".join(self.versions(name)) or "none"
            raise StoreError(f"{ref}: no version {version!r} of {name!r} in {self.uri} (published: {known})") from exc
        return Manifest.from_json(json.loads(data), source=f"{self.uri}/{key}")

    def fetch(self, ref: str, dest: Path) -> Path:
        """Copy a version's files into `dest`, verify every sha256, and write its provenance there.

        Raises:
            StoreError: naming the file whose content does not match the manifest.
        """
        manifest = self.resolve(ref)
        dest = Path(dest)
        dest.mkdir(parents=True, exist_ok=True)
        prefix = f"{manifest.name}/versions/{manifest.version}/files/"
        for rel, entry in sorted(manifest.provenance.files.items()):
            target = dest / rel
            self.backend.download(prefix + rel, target)
            if file_sha256(target) != entry["sha256"]:
                raise StoreError(f"{manifest.uri}/files/{rel}: content does not match the manifest's sha256")
        fetched = self._fetched_provenance(manifest, dest)
        (dest / PROVENANCE_FILE).write_text(json.dumps(fetched, indent=2) + "\n")
        log.info(
            "fetched %s@%s (%d files) into %s", manifest.name, manifest.version, len(manifest.provenance.files), dest
        )
        return dest

    # -- writing -----------------------------------------------------------------------------------------
    def publish(
        self,
        src: Path,
        name: str,
        *,
        version: str | None = None,
        kind: str = "dataset",
        stage: str | None = None,
        config: dict[str, Any] | None = None,
        parents: list[Parent] | None = None,
        run_id: str | None = None,
        summary: dict[str, Any] | None = None,
        links: dict[str, str] | None = None,
        set_latest: bool = True,
    ) -> Manifest:
        """Publish a folder (or file) as an immutable version and move the latest pointer to it.

        When `src` carries an o3v provenance record, its stage, config, parents, code version and run id are
        the manifest's (explicit arguments win); `source_uri` records where it was copied from; `links`
        names related versions by role (e.g. {"media": <version URI>}).

        Raises:
            VersionExistsError: `version` already holds different content.
            StoreError: bad name/version/kind or a storage failure (after retries).
        """
        parse_ref(f"{name}@{version or 'latest'}")
        if kind not in KINDS:
            raise StoreError(f"{name}: kind must be one of {KINDS}, got {kind!r}")
        src = Path(src)
        tree, files = hash_tree(src)
        own = read_local(src)
        prov = Provenance(
            stage=stage or (own.stage if own else "import"),
            uri="",
            tree_hash=tree,
            files=files,
            parents=list(parents if parents is not None else (own.parents if own else [])),
            config=dict(config if config is not None else (own.config if own else {})),
            run_id=run_id or (own.run_id if own else None),
            summary=dict(summary if summary is not None else (own.summary if own else {})),
        )
        if own is not None:
            prov.code, prov.created_at = own.code, own.created_at
        root = src if src.is_dir() else src.parent
        source = own.uri if own else str(src.absolute())
        manifest = self._publish_files(root, files, name, version, kind, prov, source, dict(links or {}))
        if set_latest:
            self._advance_latest(manifest)
        return manifest

    def promote(self, ref: str) -> Manifest:
        """Point `latest` at an existing version (e.g. a rollback), whatever its age."""
        manifest = self.resolve(ref)
        self._advance_latest(manifest, force=True)
        return manifest

    def _publish_files(
        self,
        root: Path,
        files: dict,
        name: str,
        version: str | None,
        kind: str,
        prov: Provenance,
        source: str,
        links: dict[str, str],
    ) -> Manifest:
        auto = version is None
        candidate = version or f"v{self._next_auto(name)}"
        for _ in range(50):
            try:
                return self._publish_as(root, files, name, candidate, kind, prov, source, links)
            except VersionExistsError:
                if not auto:
                    raise
                log.info("%s@%s was taken by another writer; trying the next version", name, candidate)
                candidate = f"v{int(candidate[1:]) + 1}"
        raise StoreError(f"{name}: could not find a free version after 50 tries")

    def _publish_as(
        self,
        root: Path,
        files: dict,
        name: str,
        version: str,
        kind: str,
        prov: Provenance,
        source: str,
        links: dict[str, str],
    ) -> Manifest:
        base = f"{name}/versions/{version}"
        existing = self._existing_manifest(base)
        if existing is not None:
            return self._same_or_raise(existing, prov.tree_hash)
        for rel in sorted(files):
            local = root / rel if root.is_dir() and (root / rel).is_file() else root / Path(rel).name
            self._put_create_only(f"{base}/files/{rel}", local, files[rel]["sha256"])
        prov.uri = self.version_uri(name, version)
        manifest = Manifest(name, version, kind, prov, source_uri=source, published_at=utc_now(), links=links)
        body = json.dumps(manifest.to_json(), indent=2, sort_keys=True, default=str).encode()
        try:
            self.backend.write(f"{base}/manifest.json", body, if_generation_match=0)
        except PreconditionFailed:
            # Another writer committed this version between our check and our write.
            return self._same_or_raise(self._existing_manifest(base), prov.tree_hash)
        log.info("published %s (%d files, tree %s)", prov.uri, len(files), prov.tree_hash[:12])
        return manifest

    def _same_or_raise(self, existing: Manifest | None, tree: str) -> Manifest:
        if existing is not None and existing.tree_hash == tree:
            log.info("%s already holds this content; nothing to publish", existing.uri)
            return existing
        where = existing.uri if existing else "this version"
        raise VersionExistsError(f"{where} is already published with different content (tree hashes differ)")

    def _existing_manifest(self, base: str) -> Manifest | None:
        try:
            data, _ = self.backend.read(f"{base}/manifest.json")
        except NotFound:
            return None
        return Manifest.from_json(json.loads(data), source=f"{self.uri}/{base}/manifest.json")

    def _put_create_only(self, key: str, local: Path, sha: str) -> None:
        try:
            self.backend.upload(key, local, if_generation_match=0)
        except PreconditionFailed as exc:
            # Present already: fine when it is our own content (a retried or resumed publish), fatal otherwise.
            if self._object_sha(key) != sha:
                raise VersionExistsError(f"{self.uri}/{key} exists with different content") from exc

    def _object_sha(self, key: str) -> str:
        if isinstance(self.backend, FileBackend):
            return file_sha256(self.backend.local_path(key))
        with tempfile.TemporaryDirectory() as tmp:
            target = Path(tmp) / "obj"
            self.backend.download(key, target)
            return file_sha256(target)

    def _next_auto(self, name: str) -> int:
        numbers = [int(m[1]) for k in self.backend.list(f"{name}/versions/") if (m := _AUTO.match(k.split("/")[2]))]
        return max(numbers, default=0) + 1

    def _advance_latest(self, manifest: Manifest, *, force: bool = False, attempts: int = 20) -> None:
        key = f"{manifest.name}/latest.json"
        body = {"version": manifest.version, "tree_hash": manifest.tree_hash, "published_at": manifest.published_at}
        for _ in range(attempts):
            try:
                data, generation = self.backend.read(key)
                current = json.loads(data)
            except NotFound:
                generation, current = 0, None
            if current and not force and current["published_at"] > manifest.published_at:
                log.info("%s: latest stays at newer %s", manifest.name, current["version"])
                return
            try:
                self.backend.write(key, json.dumps(body).encode(), if_generation_match=generation)
                log.info("%s: latest -> %s", manifest.name, manifest.version)
                return
            except PreconditionFailed:
                continue  # someone moved it between our read and write: re-read and decide again
        raise StoreError(f"{self.uri}/{key}: could not update the latest pointer after {attempts} tries")

    def _split(self, ref: str) -> tuple[str, str]:
        prefix = self.uri + "/"
        if ref.startswith(prefix) and "/versions/" in ref:
            name, _, version = ref[len(prefix) :].rstrip("/").partition("/versions/")
            return parse_ref(f"{name}@{version}")
        return parse_ref(ref)

    @staticmethod
    def _fetched_provenance(manifest: Manifest, dest: Path) -> dict[str, Any]:
        """A copy's provenance: same content, one parent (the version it came from)."""
        prov = Provenance(
            stage="fetch",
            uri=str(dest.absolute()),
            tree_hash=manifest.tree_hash,
            files=manifest.provenance.files,
            parents=[Parent(role="version", uri=manifest.uri, tree_hash=manifest.tree_hash, stage=manifest.kind)],
        )
        return prov.to_json()


def local_version_dir(store: ArtifactStore, ref: str) -> Path | None:
    """The files folder of a version in a file:// store (no copy), or None for remote stores."""
    if not isinstance(store.backend, FileBackend):
        return None
    manifest = store.resolve(ref)
    return store.backend.local_path(f"{manifest.name}/versions/{manifest.version}/files")


__all__ = ["ArtifactStore", "Manifest", "StoreError", "VersionExistsError", "local_version_dir", "parse_ref"]
