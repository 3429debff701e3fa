"""gs:// manifests against gcp-storage-emulator on loopback: download once into the cache, missing objects rejected."""

from __future__ import annotations

import json

from openai_replay import ReplayServer, load_recording

from o3v.curate.annotate import annotate
from o3v.curate.media import local_media


def test_gcs_manifest_downloads_once_and_rejects_missing_objects(gcs_client, synth_world, tmp_path):
    bucket = gcs_client.create_bucket("o3v-media")
    videos = [json.loads(line)["video"] for line in (synth_world / "manifest.jsonl").read_text().splitlines()][:2]
    uris = []
    for i, v in enumerate(videos):
        name = f"raw/{'ab'[i]}/clip{i}.mp4"
        bucket.blob(name).upload_from_filename(str(synth_world / v))
        uris.append(f"gs://o3v-media/{name}")
    lines = [{"id": "c0", "video": uris[0]}, {"id": "c1", "video": uris[1]},
             {"id": "gone", "video": "gs://o3v-media/raw/a/missing.mp4"}]  # fmt: skip
    (tmp_path / "m.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    cache = tmp_path / "cache"
    with ReplayServer({"Frame 1 at": [{"content": load_recording("teacher_replies.json")["fenced"]}]}) as srv:
        cfg = {"annotate": {"teacher": "openai", "cache_dir": str(cache), "num_frames": 2},
               "openai": {"base_url": srv.url, "model": "replay", "api_key_env": None}}  # fmt: skip
        stats = annotate(tmp_path / "m.jsonl", tmp_path / "out", cfg)
    meta = json.loads((tmp_path / "out" / "dataset.json").read_text())
    assert meta["media_root"] == "gs://o3v-media/raw"
    assert (stats["kept"], stats["rejected"]) == (4, 1)
    [rej] = [json.loads(line) for line in (tmp_path / "out" / "rejects.jsonl").read_text().splitlines()]
    assert rej["id"] == "gone" and rej["reason"] == "download_failed"
    assert "gs://o3v-media/raw/a/missing.mp4" in rej["message"]
    kept = [json.loads(line) for line in (tmp_path / "out" / "records.jsonl").read_text().splitlines()]
    assert sorted({r["video_path"] for r in kept}) == ["a/clip0.mp4", "b/clip1.mp4"]
    local = cache / "gcs" / "o3v-media" / "raw" / "a" / "clip0.mp4"
    assert local.read_bytes() == (synth_world / videos[0]).read_bytes()
    bucket.blob("raw/a/clip0.mp4").delete()  # a second resolve is served from the cache, not the bucket
    assert local_media("gs://o3v-media/raw", "a/clip0.mp4", cache) == local
