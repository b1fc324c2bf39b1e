"""Multimodal batches in real DAG runs (dag.test(), deferrals inline) against the emulator: one keyed
answer per file, each distinct content uploaded once, answers from the right bytes, shards under a
storage quota, image answers written out, and every uploaded file deleted after."""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import json
import os
from pathlib import Path

import pytest

from tests.conftest import DAGS_FOLDER, SENTINEL_KEY

pytestmark = pytest.mark.usefixtures("airflow_db")


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    from _media_samples import pdf, png

    root = tmp_path_factory.mktemp("media")
    mixed = root / "mixed"
    (mixed / "docs").mkdir(parents=True)
    for i in range(500):  # even: 852-byte PNGs (inline under 1000 bytes); odd: 1820-byte PNGs (uploaded)
        (mixed / f"product-{i:04d}.png").write_bytes(png(f"product-{i}", 16 if i % 2 == 0 else 24))
    (mixed / "product-0003.png").write_bytes((mixed / "product-0001.png").read_bytes())  # same content
    for i in range(20):
        (mixed / "docs" / f"invoice-{i:03d}.pdf").write_bytes(pdf(f"INV-{i}", f"Customer {i}", f"{i}.00", 2000))
    (mixed / "docs" / "invoice-001.pdf").write_bytes((mixed / "docs" / "invoice-000.pdf").read_bytes())
    (mixed / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")  # hidden: never a request
    quota = root / "quota"
    quota.mkdir()
    for i in range(9):  # ~10 KB each; 3 fit in the 40,000-byte quota with their requests
        (quota / f"invoice-{i}.pdf").write_bytes(pdf(f"Q-{i}", f"Client {i}", f"{i}.50", 10_000))
    sketches = root / "sketches"
    sketches.mkdir()
    for i in range(3):
        (sketches / f"sketch-{i}.png").write_bytes(png(f"sketch-{i}"))
    os.environ["GB_MEDIA_DIR"] = str(root)
    os.environ["GB_TEST_RESULTS_DIR"] = str(root / "results")
    spec = importlib.util.spec_from_file_location("gemini_test_media", DAGS_FOLDER / "gemini_test_media.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.root = root
    return module


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def run(dag):
    dr = dag.test()
    return dr, dr.get_task_instance("media")


def records(path):
    return [json.loads(line) for line in Path(path).read_text().splitlines()]


def leftover_media(emu, digests):
    from airflow_provider_gemini_batch.core.media import sha256_hex_of_api
    from airflow_provider_gemini_batch.hooks.gemini_batch import GeminiBatchHook

    return [f["name"] for f in GeminiBatchHook().iter_files() if sha256_hex_of_api(f.get("sha256Hash")) in digests]


def test_500_images_and_20_pdfs_one_keyed_answer_per_file_each_content_uploaded_once(gemini_conn, media, caplog):
    dr, ti = run(media.photos_and_invoices)
    assert dr.state == "success", caplog.text[-3000:]
    summary = ti.xcom_pull(task_ids="media")
    files = sorted(p for p in (media.root / "mixed").rglob("*") if p.is_file() and not p.name.startswith("."))
    assert len(files) == 520
    expected = {f"file://{p}": p for p in files}

    rows = records(summary["results"]["path"])
    assert len(rows) == 520 and {r["key"] for r in rows} == set(expected)  # one request per file, keyed by path
    assert all(r["status"] == "ok" for r in rows)
    for row in rows:  # each answer came from its own file's bytes
        assert f"[media sha256 {sha(expected[row['key']])[:16]}]" in row["text"], row
        assert Path(expected[row["key"]]).name in row["text"]  # the prompt template saw the file name

    uploaded_kinds = {sha(p) for i, p in enumerate(files) if p.suffix == ".pdf" or p.stat().st_size > 1000}
    assert len(uploaded_kinds) == 250 - 1 + 20 - 1  # odd-numbered photos and the PDFs, minus two duplicates
    ledger = gemini_conn.admin("GET", "media")["by_sha256"]
    assert all(ledger.get(d) == 1 for d in uploaded_kinds)  # each distinct content uploaded exactly once
    inline_kinds = {sha(p) for p in files} - uploaded_kinds
    assert not inline_kinds & set(ledger)  # small files went inline, never uploaded
    assert ledger[sha(media.root / "mixed" / "product-0001.png")] == 1  # the identical pair shared one upload
    assert summary["media"] == {"files": 520, "requests": 520, "distinct": 518, "uploaded": 268, "deleted": 268, "inline": 250}
    assert summary["shards"] == 1 and gemini_conn.stats()["jobs_created"] == 1
    assert leftover_media(gemini_conn, uploaded_kinds) == []  # every uploaded media file deleted after
    assert SENTINEL_KEY not in caplog.text


def test_media_over_the_storage_quota_run_in_shards_that_each_fit(gemini_conn, media, caplog):
    dr, ti = run(media.over_quota)
    assert dr.state == "success", caplog.text[-3000:]
    summary = ti.xcom_pull(task_ids="media")
    pdfs = sorted((media.root / "quota").glob("*.pdf"))
    assert summary["shards"] == 3 and len(summary["jobs"]) == 3 and gemini_conn.stats()["jobs_created"] == 3
    rows = records(summary["results"]["path"])
    assert sorted(r["key"] for r in rows) == [str(p) for p in pdfs]
    for row in rows:
        assert f"[media sha256 {sha(Path(row['key']))[:16]}]" in row["text"]
    ledger = gemini_conn.admin("GET", "media")
    assert ledger["peak_storage_bytes"] <= 40_000  # never more stored at once than the quota
    assert ledger["peak_storage_bytes"] >= 3 * 10_000  # ... and the shards did fill it
    assert leftover_media(gemini_conn, {sha(p) for p in pdfs}) == []
    assert not list((media.root / "results" / "gb_media_quota").glob("*.shard-*"))  # merged, then removed


def test_image_answers_are_written_as_files_beside_the_results(gemini_conn, media, caplog):
    dr, ti = run(media.images_out)
    assert dr.state == "success", caplog.text[-3000:]
    summary = ti.xcom_pull(task_ids="media")
    assert summary["results"]["media_files"] == 3
    results = Path(summary["results"]["path"])
    rows = records(results)
    pictures = set()
    for row in rows:
        (written,) = row["media"]
        assert Path(written).parent.parent == results.parent and Path(written).suffix == ".png"
        assert Path(written).read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
        parts = row["response"]["candidates"][0]["content"]["parts"]
        assert parts[1]["inlineData"] == {"mimeType": "image/png", "path": written}  # a path, no base64
        assert "data" not in json.dumps(parts[1])
        pictures.add(Path(written).read_bytes())
    assert len(pictures) == 3  # each file's answer is its own picture
    assert base64.b64encode(next(iter(pictures)))[:20] not in results.read_bytes()


def test_the_decorator_takes_a_media_spec_from_the_function(gemini_conn, media, caplog):
    dr = media.media_decorated.test()
    assert dr.state == "success", caplog.text[-3000:]
    summary = dr.get_task_instance("sketches").xcom_pull(task_ids="sketches")
    pngs = sorted((media.root / "sketches").glob("*.png"))
    rows = records(summary["results"]["path"])
    assert sorted(r["key"] for r in rows) == [str(p) for p in pngs]
    for row in rows:
        assert f"[media sha256 {sha(Path(row['key']))[:16]}]" in row["text"] and "Name the colours of" in row["text"]
    assert summary["media"]["uploaded"] == 3 and summary["media"]["deleted"] == 3
