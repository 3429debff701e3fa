"""Annotate's inputs without decoding videos: path safety, manifests, upstream import, hostile files."""

from __future__ import annotations

import json

import pytest
from curate_builders import visual
from PIL import Image

from o3v.curate.annotate import annotate
from o3v.curate.dataset import DatasetError
from o3v.curate.media import MediaError, safe_relpath, split_gcs
from o3v.curate.sources import detect_source, read_manifest


@pytest.mark.parametrize(
    "path, root, expected",
    [
        ("videos/a.mp4", None, "videos/a.mp4"),
        ("./videos//a.mp4", None, "videos/a.mp4"),
        ("videos/../a.mp4", None, "a.mp4"),
        ("../../etc/passwd", None, None),
        ("videos/../../x.mp4", None, None),
        ("..", None, None),
        ("", None, None),
        ("/etc/passwd", None, None),
        ("/etc/passwd", "/data", None),
        ("/data/v/a.mp4", "/data", "v/a.mp4"),
        ("/data/../etc/passwd", "/data", None),
        ("a\x00.mp4", None, None),
        ("..\\..\\windows\\x", None, None),
    ],
)
def test_safe_relpath_table(path, root, expected):
    assert safe_relpath(path, root) == expected


@pytest.mark.parametrize("uri", ["gs://", "gs://bucket", "gs://bucket/", "gs://b/../x", "gs://b/a//b", "s3://b/x"])
def test_bad_gcs_uris(uri):
    with pytest.raises(MediaError):
        split_gcs(uri)


def test_manifest_lines_become_entries_or_rejects(tmp_path):
    lines = [
        '{"id": "v0", "video": "videos/v0.mp4"}',
        '{"id": "v1", "video": "../../etc/passwd"}',
        '{"id": "v2", "video": 5}',
        '{"id": "v0", "video": "videos/dup.mp4"}',
        '{"id": "v3", "vid',
        '["not", "an", "object"]',
    ]
    (tmp_path / "m.jsonl").write_text("\n".join(lines) + "\n")
    root, entries, bad = read_manifest(tmp_path / "m.jsonl", None)
    assert root == str(tmp_path.resolve()) and [e.id for e in entries] == ["v0"]
    got = {(b["index"], b["reason"], b["field"]) for b in bad}
    assert got == {(1, "unsafe_path", "video"), (2, "manifest_schema", "video"), (3, "duplicate_id", "id"),
                   (4, "malformed_json", None), (5, "manifest_schema", None)}  # fmt: skip
    assert all(str(tmp_path / "m.jsonl") in b["message"] for b in bad)


def test_gcs_manifest_root_is_the_common_prefix(tmp_path):
    (tmp_path / "m.jsonl").write_text('{"id": "a", "video": "gs://bkt/data/x/a.mp4"}\n'
                                      '{"id": "b", "video": "gs://bkt/data/y/b.mp4"}\n')  # fmt: skip
    root, entries, bad = read_manifest(tmp_path / "m.jsonl", None)
    assert root == "gs://bkt/data" and [e.rel_path for e in entries] == ["x/a.mp4", "y/b.mp4"] and not bad


def test_mixed_or_multi_bucket_manifests_are_errors(tmp_path):
    (tmp_path / "m.jsonl").write_text('{"id": "a", "video": "gs://bkt/a.mp4"}\n{"id": "b", "video": "b.mp4"}\n')
    with pytest.raises(DatasetError, match="either local paths or gs://"):
        read_manifest(tmp_path / "m.jsonl", None)
    (tmp_path / "m.jsonl").write_text('{"id": "a", "video": "gs://b1/a.mp4"}\n{"id": "b", "video": "gs://b2/b.mp4"}\n')
    with pytest.raises(DatasetError, match="one bucket"):
        read_manifest(tmp_path / "m.jsonl", None)


def test_detect_source(tmp_path):
    (tmp_path / "up.json").write_text("[]")
    (tmp_path / "recs.jsonl").write_text('{"task": "temporal QA"}\n')
    (tmp_path / "man.jsonl").write_text('{"id": "a", "video": "a.mp4"}\n')
    assert detect_source(tmp_path / "up.json").kind == "import"
    assert detect_source(tmp_path / "recs.jsonl").kind == "import"
    assert detect_source(tmp_path / "man.jsonl").kind == "manifest"
    with pytest.raises(DatasetError, match="source not found"):
        detect_source(tmp_path / "nope")
    with pytest.raises(DatasetError, match="manifest.jsonl"):
        detect_source(tmp_path)


def _rejects(out):
    return [json.loads(line) for line in (out / "rejects.jsonl").read_text().splitlines()]


def test_import_checks_media_and_schema_and_keeps_every_record_accounted(tmp_path):
    media = tmp_path / "media"
    (media / "images").mkdir(parents=True)
    Image.new("RGB", (160, 120)).save(media / "images" / "i0.png")
    (media / "images" / "broken.png").write_bytes(b"not a png")
    good = visual("good")
    del good["id"]  # upstream records carry no id: one is assigned from the file name and position
    records = [
        good,
        {**visual("trav"), "image_path": "../../etc/passwd"},
        {**visual("missing"), "image_path": "images/nope.png"},
        {**visual("broken"), "image_path": "images/broken.png"},
        {**visual("size"), "image_size": [320, 240]},
        {**visual("typed"), "question": ["not", "text"]},
        {**visual("dup"), "id": "up-000000"},
    ]
    (tmp_path / "up.json").write_text(json.dumps(records))
    stats = annotate(tmp_path / "up.json", tmp_path / "out", {"annotate": {"media_root": str(media)}})
    assert (stats["in"], stats["kept"], stats["rejected"]) == (7, 1, 6)
    kept = json.loads((tmp_path / "out" / "records.jsonl").read_text())
    assert kept["id"] == "up-000000" and kept["media_meta"] == {"kind": "image", "width": 160, "height": 120}
    got = {r["id"]: (r["reason"], r["field"]) for r in _rejects(tmp_path / "out")}
    assert got == {
        "trav": ("unsafe_path", "image_path"),
        "missing": ("image_missing", "image_path"),
        "broken": ("image_undecodable", "image_path"),
        "size": ("image_size_mismatch", "image_size"),
        "typed": ("schema", "question"),
        "up-000000": ("duplicate_id", "id"),
    }
    meta = json.loads((tmp_path / "out" / "dataset.json").read_text())
    assert meta["media_root"] == str(media.resolve()) and meta["stage"] == "annotate"


def test_truncated_upstream_file_is_one_reject_naming_the_file(tmp_path):
    (tmp_path / "up.json").write_text('[{"task": "temporal QA", "question": "q"')
    stats = annotate(tmp_path / "up.json", tmp_path / "out")
    [rej] = _rejects(tmp_path / "out")
    assert (stats["in"], stats["rejected"]) == (1, 1)
    assert rej["reason"] == "malformed_json" and "up.json" in rej["message"] and "line 1" in rej["message"]
