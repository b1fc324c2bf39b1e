"""`make bench`: every benchmark against the emulator, each beside its baseline from the same run.

Prints markdown tables and writes bench_output/results.json. Options: --quick (smaller sizes),
--only triggers,files,requests,demo.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from common import machine, print_table, save  # noqa: E402


def ratio(rows, key, case_a, case_b, field):
    a = next((r for r in rows if r[key] == case_a), None)
    b = next((r for r in rows if r[key] == case_b), None)
    if a and b and b.get(field):
        return a[field] / b[field]
    return None


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", default="requests,files,triggers,demo")
    args = parser.parse_args()
    only = set(args.only.split(","))
    out_dir = Path(__file__).resolve().parent.parent / "bench_output"
    out_dir.mkdir(exist_ok=True)
    results: dict = {"machine": machine(), "started": time.strftime("%Y-%m-%d %H:%M:%S"), "quick": args.quick}

    if "requests" in only:
        import bench_requests
        rows = bench_requests.run(200_000 if args.quick else 1_000_000)
        results["requests"] = rows
        print_table("Request building and validation (target >= 200,000 requests/s)", rows,
                    ["case", "requests", "seconds", "requests_per_s", "cpu_requests_per_s", "MB_written"])

    if "files" in only:
        import bench_files
        rows = bench_files.run(*((300, 200) if args.quick else (2000, 1000)))
        results["files"] = rows
        print_table("Upload and download (targets: >= 0.8x the raw baseline, flat memory)", rows,
                    ["case", "MB", "seconds", "MB_per_s", "peak_rss_mb", "rss_growth_mb"])
        results["files_ratios"] = {
            "upload_vs_raw": ratio(rows, "case", "upload: hook.upload_file", "upload: raw 8 MiB chunks (baseline)", "MB_per_s"),
            "download_vs_raw": ratio(rows, "case", "download: hook.download_file -> local path",
                                     "download: raw streaming GET (baseline)", "MB_per_s"),
            "download_osp_vs_raw": ratio(rows, "case", "download: hook.download_file -> file:// ObjectStoragePath",
                                         "download: raw streaming GET (baseline)", "MB_per_s"),
        }
        print("\nratios:", json.dumps({k: round(v, 2) if v else v for k, v in results["files_ratios"].items()}))

    if "triggers" in only:
        import bench_triggers
        sizes = [100, 1000] if args.quick else [100, 1000, 5000]
        rows = bench_triggers.run(sizes)
        results["triggers"] = rows
        print_table("Triggerer scale: N waits in one event loop (poll 2 s, jobs of 20 s)", rows,
                    ["variant", "N", "lag_p50_ms", "lag_p99_ms", "lag_max_ms", "detect_p50_s", "detect_p99_s",
                     "rss_per_wait_kib", "gets_per_poll", "sessions_built"])
        ratios = {}
        for n in sizes:
            at = [r for r in rows if r["N"] == n]
            ours = next(r for r in at if r["variant"] == "ours")
            bare = next(r for r in at if r["variant"] == "bare_aiohttp")
            thread = next(r for r in at if r["variant"] == "sync_thread")
            ratios[n] = {
                "lag_p99_vs_bare": ours["lag_p99_ms"] / bare["lag_p99_ms"] if bare["lag_p99_ms"] else None,
                "detect_p50_vs_bare": ours["detect_p50_s"] / bare["detect_p50_s"] if bare["detect_p50_s"] else None,
                "rss_per_wait_vs_bare": (ours["rss_per_wait_kib"] / bare["rss_per_wait_kib"]
                                         if bare["rss_per_wait_kib"] > 0 else None),
                "detect_speedup_vs_thread": thread["detect_p50_s"] / ours["detect_p50_s"] if ours["detect_p50_s"] else None,
            }
        results["trigger_ratios"] = ratios
        print("\nratios (targets: <= 1.5x bare on lag p99, detection p50 and RSS per wait; >= 3x faster detection"
              " than sync_thread):")
        print(json.dumps({n: {k: round(v, 2) if v else v for k, v in r.items()} for n, r in ratios.items()}, indent=1))

    if "demo" in only:
        import bench_demo
        rows = bench_demo.run(1 if args.quick else 2)
        results["demo"] = rows
        print_table("Main job wall time (emulator)", rows, ["case", "seconds"])

    save(str(out_dir / "results.json"), results)
    print(f"\nwritten: {out_dir / 'results.json'}")


if __name__ == "__main__":
    os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
    main()
