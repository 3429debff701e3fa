"""`o3v lineage` and `o3v artifacts ...` (argument definitions only; work is imported lazily).

o3v lineage <artifact path | URI | name@version> [--format text|json|dot] [--store URI]
o3v artifacts publish DIR --name NAME [--version V] [--kind dataset|model|...] [--store URI]
o3v artifacts resolve NAME[@VERSION] [--store URI]
o3v artifacts fetch NAME[@VERSION] --out DIR [--store URI]
o3v artifacts list [NAME] [--store URI]
o3v artifacts promote NAME@VERSION [--store URI]
"""

from __future__ import annotations

import argparse
import json
import os
import sys

DEFAULT_STORE = "file://artifacts"


def _store_uri(args: argparse.Namespace) -> str:
    uri = args.store or os.environ.get("O3V_STORE") or DEFAULT_STORE
    if uri.startswith("file://") and not uri.startswith("file:///"):
        # file://artifacts: relative to the working directory (the project folder by default).
        uri = "file://" + os.path.abspath(uri[len("file://") :])
    return uri


def _open(args: argparse.Namespace):
    from o3v.artifacts.store import ArtifactStore

    return ArtifactStore(_store_uri(args))


def _fail(msg: str) -> int:
    print(f"o3v: error: {msg}", file=sys.stderr)
    return 1


def _lineage(args: argparse.Namespace) -> int:
    from o3v.artifacts.lineage import render, trace
    from o3v.artifacts.store import StoreError

    try:
        lineage = trace(args.ref, _open(args), verify=not args.no_verify)
    except (OSError, StoreError, ValueError) as exc:
        return _fail(str(exc))
    print(render(lineage, args.format))
    bad = [n.uri for n in lineage.nodes.values() if n.status in ("missing", "hash-mismatch")]
    if bad:
        print(f"o3v: warning: {len(bad)} artifact(s) in the chain are missing or changed: {bad}", file=sys.stderr)
    return 0


def _publish(args: argparse.Namespace) -> int:
    from o3v.artifacts.store import StoreError

    try:
        manifest = _open(args).publish(
            args.path, args.name, version=args.version, kind=args.kind, set_latest=not args.no_latest
        )
    except (OSError, StoreError) as exc:
        return _fail(str(exc))
    print(json.dumps({"uri": manifest.uri, "version": manifest.version, "tree_hash": manifest.tree_hash}))
    return 0


def _resolve(args: argparse.Namespace) -> int:
    from o3v.artifacts.store import StoreError

    try:
        manifest = _open(args).resolve(args.ref)
    except StoreError as exc:
        return _fail(str(exc))
    data = manifest.to_json()
    if not args.files:
        data["files"] = len(data["files"])
    print(json.dumps(data, indent=2, sort_keys=True, default=str))
    return 0


def _fetch(args: argparse.Namespace) -> int:
    from o3v.artifacts.store import StoreError

    try:
        print(_open(args).fetch(args.ref, args.out))
    except (OSError, StoreError) as exc:
        return _fail(str(exc))
    return 0


def _list(args: argparse.Namespace) -> int:
    store = _open(args)
    for name in [args.name] if args.name else store.names():
        latest = store.latest(name)
        print(f"{name}: " + " ".join(v + ("*" if v == latest else "") for v in store.versions(name)))
    return 0


def _promote(args: argparse.Namespace) -> int:
    from o3v.artifacts.store import StoreError

    try:
        manifest = _open(args).promote(args.ref)
    except StoreError as exc:
        return _fail(str(exc))
    print(f"{manifest.name}: latest -> {manifest.version}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add `lineage` and `artifacts` to the `o3v` parser."""
    store_help = (
        f"store root: file:///abs/dir, file://rel/dir or gs://bucket/prefix (default $O3V_STORE or {DEFAULT_STORE})"
    )
    p = sub.add_parser(
        "lineage",
        help="print the chain an artifact was made from, back to the raw video manifest",
        description="Walk provenance records from an artifact (a path or URI of a pipeline output, e.g. the report's "
        "metrics, or a store version NAME@VERSION) back through eval, GSPO, SFT, the gates and curation to the raw "
        "video manifest. Parents whose content changed since are flagged HASH-MISMATCH.",
    )
    p.add_argument("ref", help="artifact path/URI (file://, gs://) or NAME[@VERSION] in the store")
    p.add_argument("--format", choices=("text", "json", "dot"), default="text", help="output format (default text)")
    p.add_argument("--store", help=store_help)
    p.add_argument("--no-verify", action="store_true", help="do not re-hash local artifacts (faster on big models)")
    p.set_defaults(func=_lineage)

    a = sub.add_parser("artifacts", help="publish and resolve named, immutable artifact versions")
    asub = a.add_subparsers(dest="artifacts_command", metavar="ACTION", required=True)
    pub = asub.add_parser("publish", help="publish a folder or file as a new immutable version")
    pub.add_argument("path", help="folder or file to publish")
    pub.add_argument("--name", required=True, help="artifact name (lowercase, digits, . _ -)")
    pub.add_argument("--version", help="explicit version (default: the next v<N>)")
    pub.add_argument("--kind", default="dataset", choices=("dataset", "model", "metrics", "report", "world"))
    pub.add_argument("--no-latest", action="store_true", help="do not move the latest pointer")
    pub.set_defaults(func=_publish)
    res = asub.add_parser("resolve", help="print a version's manifest (parents, hashes, config, code, run)")
    res.add_argument("ref", help="NAME[@VERSION] (default version: latest)")
    res.add_argument("--files", action="store_true", help="include the per-file sha256 listing")
    res.set_defaults(func=_resolve)
    fet = asub.add_parser("fetch", help="copy a version into a local folder, verifying every sha256")
    fet.add_argument("ref", help="NAME[@VERSION]")
    fet.add_argument("--out", required=True, help="destination folder")
    fet.set_defaults(func=_fetch)
    lst = asub.add_parser("list", help="list names and versions (* marks latest)")
    lst.add_argument("name", nargs="?", help="only this name")
    lst.set_defaults(func=_list)
    pro = asub.add_parser("promote", help="point latest at an existing version (rollback)")
    pro.add_argument("ref", help="NAME@VERSION")
    pro.set_defaults(func=_promote)
    for parser in (pub, res, fet, lst, pro):
        parser.add_argument("--store", help=store_help)
