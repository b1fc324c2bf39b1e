"""The pure decisions of multimodal batches: MIME type, limits, requests, shards, sha256 forms."""

from __future__ import annotations

import base64
import hashlib

import pytest

from airflow_provider_gemini_batch.core.media import (
    MB,
    MediaItem,
    build_request,
    check_size,
    detect_mime,
    file_part,
    inline_part,
    plan_shards,
    safe_name,
    sha256_hex_of_api,
    wait_bound_seconds,
)
from airflow_provider_gemini_batch.exceptions import GeminiMediaError

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"


def test_magic_bytes_win_over_a_wrong_extension_and_the_override_wins_over_both():
    assert detect_mime("photo.jpg", PNG) == "image/png"
    assert detect_mime("scan.bin", b"%PDF-1.7\n") == "application/pdf"
    assert detect_mime("notes.md", b"# title") == "text/markdown"
    assert detect_mime("x.png", PNG, override="image/webp") == "image/webp"
    assert detect_mime("rec.raw1", b"\x00", override={"*.raw1": "audio/wav"}) == "audio/wav"
    assert detect_mime("rec.raw1", b"\x00", override={".raw1": "audio/aac"}) == "audio/aac"
    assert detect_mime("a/b/rec.raw1", b"\x00", override=lambda p: "audio/flac" if "/b/" in p else None) == "audio/flac"
    assert detect_mime("song.wav", b"RIFF\x00\x00\x00\x00WAVEfmt ") == "audio/wav"
    assert detect_mime("clip.mp4", b"\x00\x00\x00\x18ftypisom") == "video/mp4"


def test_undetectable_and_unsupported_types_are_refused_by_name():
    with pytest.raises(GeminiMediaError, match=r"^data/blob\.qqq: cannot tell the MIME type") as info:
        detect_mime("data/blob.qqq", b"\x00\x01")
    assert info.value.path == "data/blob.qqq"
    with pytest.raises(GeminiMediaError, match=r"image/gif \(from the file contents\) is not one Gemini accepts"):
        detect_mime("anim.png", b"GIF89a...")
    with pytest.raises(GeminiMediaError, match=r"application/zip \(from the mime_type override\)"):
        detect_mime("x.png", PNG, override="application/zip")


def test_per_file_limits():
    check_size("a.pdf", 50 * MB, "application/pdf")
    with pytest.raises(GeminiMediaError, match=r"a\.pdf: 52428801 bytes is over the 50 MB per-file limit"):
        check_size("a.pdf", 50 * MB + 1, "application/pdf")
    with pytest.raises(GeminiMediaError, match="over the 2 GB per-file limit for video/mp4"):
        check_size("v.mp4", 2 * 1024 * MB + 1, "video/mp4")
    with pytest.raises(GeminiMediaError, match="empty"):
        check_size("e.png", 0, "image/png")


def test_the_api_sha256_forms():
    digest = hashlib.sha256(b"x").hexdigest()
    assert sha256_hex_of_api(base64.b64encode(digest.encode()).decode()) == digest  # what the API sends
    assert sha256_hex_of_api(base64.b64encode(bytes.fromhex(digest)).decode()) == digest
    assert sha256_hex_of_api(digest.upper()) == digest
    assert sha256_hex_of_api("") is None and sha256_hex_of_api("bm90IGEgaGFzaA==") is None


ITEM = MediaItem("s3://bucket/in/cat.png", 10, "image/png", "ab" * 32)


def test_requests_put_the_media_first_and_fill_the_template():
    request = build_request(ITEM, file_part(ITEM, "https://x/v1beta/files/1"), "Describe {name} ({stem}, {mime_type}).")
    parts = request["contents"][0]["parts"]
    assert parts[0] == {"fileData": {"mimeType": "image/png", "fileUri": "https://x/v1beta/files/1"}}
    assert parts[1] == {"text": "Describe cat.png (cat, image/png)."}
    inline = inline_part(ITEM, b"\x89PNG")
    assert inline["inlineData"]["data"] == base64.b64encode(b"\x89PNG").decode()
    placed = build_request(ITEM, inline, lambda item: [f"Look at {item.key}:", "{media}", "Now answer."])
    assert [list(p)[0] for p in placed["contents"][0]["parts"]] == ["text", "inlineData", "text"]
    with pytest.raises(GeminiMediaError, match=r"names \{filename\}"):
        build_request(ITEM, inline, "Describe {filename}")
    with pytest.raises(GeminiMediaError, match="malformed"):
        build_request(ITEM, inline, "Describe {")


def items(*sizes, same=()):
    out = []
    for i, size in enumerate(sizes):
        digest = "0" * 64 if i in same else hashlib.sha256(str(i).encode()).hexdigest()
        out.append(MediaItem(f"/in/f{i}.pdf", size, "application/pdf", digest))
    return out


def test_shards_fit_the_quota_and_identical_contents_travel_together():
    shards = plan_shards(items(10_000, 10_000, 10_000, 10_000, 10_000, same=(0, 4)), inline_max_bytes=0,
                         storage_bytes=25_000)
    assert [s.keys for s in shards] == [["/in/f0.pdf", "/in/f4.pdf", "/in/f1.pdf"], ["/in/f2.pdf", "/in/f3.pdf"]]
    assert [len(s.uploads) for s in shards] == [2, 2]  # f0 and f4 are one upload
    assert all(s.upload_bytes + s.jsonl_bytes <= 25_000 for s in shards)


def test_inline_media_cost_no_storage_but_count_against_the_jsonl_budget():
    # each line: 512 overhead + 2 x 11-char key + 1200 base64 bytes = 1734; two fit in 4000, three do not
    shards = plan_shards(items(900, 900, 900), inline_max_bytes=1000, storage_bytes=10**9, jsonl_budget=4000)
    assert [len(s.keys) for s in shards] == [2, 1] and all(s.uploads == [] for s in shards)


def test_one_content_bigger_than_the_free_storage_is_refused_by_name():
    with pytest.raises(GeminiMediaError, match=r"^/in/f1\.pdf: .*cannot fit"):
        plan_shards(items(100, 50_000), inline_max_bytes=0, storage_bytes=20_000)


def test_wait_bound_and_safe_names():
    assert wait_bound_seconds([], 0, 60) is None
    assert wait_bound_seconds([1000.0, 500.0], 100.0, 50.0) == 350.0
    a, b = safe_name("s3://b/x/y.png"), safe_name("s3://b/x_y.png")
    assert a != b and "/" not in a and a.startswith("b_x_y.png")


def test_lines_sharing_a_content_share_a_shard_and_one_upload():
    from airflow_provider_gemini_batch.core.media import plan_line_shards, replace_refs

    contents = {"a": (10_000, False), "b": (10_000, False), "c": (10_000, False), "i": (300, True)}
    lines = [("l1", ["a"], 100), ("l2", ["b"], 100), ("l3", ["a", "i"], 100), ("l4", ["c"], 100), ("l5", [], 100)]
    # {l1, l3}: 10,000 + 612 + 1,012; l2: 10,612; so 22,236 in the first shard, under 23,000
    shards = plan_line_shards(lines, contents, storage_bytes=23_000)
    assert [s.keys for s in shards] == [["l1", "l3", "l2"], ["l4", "l5"]]  # l1 and l3 both need a
    assert [s.uploads for s in shards] == [["a", "b"], ["c"]]
    with pytest.raises(GeminiMediaError, match=r"^l1: 2 line\(s\) sharing media need 11624 bytes"):
        plan_line_shards(lines, contents, storage_bytes=5_000)
    request = {"contents": [{"parts": [{"file": "x.png"}, {"text": "hi"}]}],
               "generationConfig": {"responseSchema": {"properties": {"file": "kept"}}}}
    replaced = replace_refs(request, lambda path: {"fileData": {"fileUri": path}})
    assert replaced["contents"][0]["parts"][0] == {"fileData": {"fileUri": "x.png"}}
    assert replaced["generationConfig"] == request["generationConfig"] and request["contents"][0]["parts"][0] == {
        "file": "x.png"}  # only parts are touched, and the caller's dict is not
