import json

import pytest

from airflow_provider_gemini_batch.exceptions import GeminiRequestError
from airflow_provider_gemini_batch.jsonl_shards import merge_jsonl, split_jsonl


def write_input(path, n, dup_at=None):
    with open(path, "w") as fh:
        for i in range(n):
            key = "dup" if dup_at is not None and i in (0, dup_at) else f"k{i}"
            fh.write(json.dumps({"key": key, "request": {"contents": [{"parts": [{"text": f"q{i}"}]}]}}) + "\n")


def keys(paths):
    return [json.loads(l)["key"] for p in paths for l in open(p)]


def test_split_by_request_count_and_merge_back(tmp_path):
    write_input(tmp_path / "in.jsonl", 60)
    shards = split_jsonl(tmp_path / "in.jsonl", tmp_path / "shards", max_requests=25)
    assert [len(open(s).readlines()) for s in shards] == [25, 25, 10]
    assert keys(shards) == [f"k{i}" for i in range(60)]
    assert merge_jsonl(shards, tmp_path / "merged.jsonl") == 60
    assert keys([tmp_path / "merged.jsonl"]) == [f"k{i}" for i in range(60)]


def test_split_by_bytes_keeps_every_shard_under_the_limit(tmp_path):
    write_input(tmp_path / "in.jsonl", 100)
    line = len(open(tmp_path / "in.jsonl").readline().encode())
    shards = split_jsonl(tmp_path / "in.jsonl", tmp_path / "s", max_bytes=line * 7)
    assert all((tmp_path / "s" / p.split("/")[-1]).stat().st_size <= line * 7 for p in shards)
    assert len(keys(shards)) == 100


def test_duplicate_keys_across_shards_fail_before_anything_is_submitted(tmp_path):
    write_input(tmp_path / "in.jsonl", 60, dup_at=50)
    with pytest.raises(GeminiRequestError, match="line 51.*duplicate key 'dup'"):
        split_jsonl(tmp_path / "in.jsonl", tmp_path / "s", max_requests=25)


def test_split_to_object_storage(tmp_path):
    from airflow.sdk import ObjectStoragePath

    write_input(tmp_path / "in.jsonl", 10)
    shards = split_jsonl(f"file://{tmp_path}/in.jsonl", f"file://{tmp_path}/shards", max_requests=4)
    assert len(shards) == 3 and shards[0].startswith("file://")
    assert sum(len(ObjectStoragePath(s).read_text().splitlines()) for s in shards) == 10
