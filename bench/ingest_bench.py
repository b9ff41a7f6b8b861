#!/usr/bin/env python3
"""Ingest throughput of custos against DuckDB on the same CSV, in the same run.

    pip install -r bench/requirements.txt
    cargo build --release -p custos
    python3 bench/ingest_bench.py --rows 10000000

custos: `custos ingest transactions` into a fresh warehouse holding the accounts and FX rates
the log refers to, so every row is fully validated (types, enums, ISO codes, minor units,
accounts, FX conversion, id uniqueness), sorted per day and written as zstd Parquet.
DuckDB: `COPY (SELECT * FROM read_csv(...)) TO '...parquet'` (zstd), type inference only.
Each is a separate process; wall time and peak RSS come from wait4. The results replace the
ingest section of BENCHMARKS.md.
"""
import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def run(cmd, **kw):
    """Runs cmd, returns (seconds, peak RSS in MiB, stdout)."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)
    out = proc.stdout.read()
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{err.decode(errors='replace')}")
    return elapsed, usage.ru_maxrss / 1024, out.decode()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--data", default="/var/tmp/custos-bench")
    ap.add_argument("--custos", default=os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "release", "custos"))
    ap.add_argument("--runs", type=int, default=1, help="runs of each; the median is reported")
    ap.add_argument("--no-write", action="store_true", help="print only, leave BENCHMARKS.md alone")
    a = ap.parse_args()

    log = os.path.join(a.data, "transactions.csv")
    stamp = os.path.join(a.data, "rows.txt")
    if not (os.path.exists(log) and os.path.exists(stamp) and open(stamp).read().strip() == str(a.rows)):
        print(f"generating {a.rows} rows in {a.data} ...", flush=True)
        subprocess.run([sys.executable, os.path.join(HERE, "make_log.py"), "--rows", str(a.rows), "--out", a.data], check=True)
        open(stamp, "w").write(str(a.rows))
    size_mb = os.path.getsize(log) / 1e6

    custos_runs, duck_runs = [], []
    for i in range(a.runs):
        wh = os.path.join(a.data, "wh")
        shutil.rmtree(wh, ignore_errors=True)
        for kind, f in (("fx-rates", "fx_rates.csv"), ("accounts", "accounts.csv")):
            run([a.custos, "--warehouse", wh, "-q", "ingest", kind, os.path.join(a.data, f)])
        secs, rss, out = run([a.custos, "--warehouse", wh, "-q", "ingest", "transactions", log, "--json"])
        report = json.loads(out)[0]
        ledger = report["ledger"]
        assert ledger["rows_read"] == a.rows, ledger
        assert ledger["rows_read"] == ledger["rows_stored"] + ledger["rows_quarantined"], ledger
        custos_runs.append((secs, rss, ledger["rows_stored"], ledger["rows_quarantined"]))
        print(f"custos run {i + 1}: {secs:.2f}s, {rss:.0f} MiB, stored {ledger['rows_stored']}", flush=True)

        target = os.path.join(a.data, "duckdb.parquet")
        if os.path.exists(target):
            os.remove(target)
        sql = f"COPY (SELECT * FROM read_csv('{log}')) TO '{target}' (FORMAT parquet, COMPRESSION zstd)"
        secs, rss, _ = run([sys.executable, "-c", f"import duckdb; duckdb.sql({sql!r})"])
        duck_runs.append((secs, rss))
        print(f"duckdb run {i + 1}: {secs:.2f}s, {rss:.0f} MiB", flush=True)

    c_secs = statistics.median(r[0] for r in custos_runs)
    c_rss = max(r[1] for r in custos_runs)
    d_secs = statistics.median(r[0] for r in duck_runs)
    d_rss = max(r[1] for r in duck_runs)
    # Runs alternate, so each custos run and the DuckDB run after it saw about the same
    # machine; the spread of their ratios says how far apart two medians may be by chance.
    ratios = [c[0] / d[0] for c, d in zip(custos_runs, duck_runs)]

    def each(runs):
        return ", ".join(f"{r[0]:.2f}" for r in runs)
    import duckdb  # noqa: E402  (version only)

    cpu = "unknown CPU"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    version = subprocess.run([a.custos, "--version"], capture_output=True, text=True).stdout.strip()
    section = f"""<!-- ingest-bench:start -->
## Ingest: {a.rows:,} transactions, CSV to Parquet

Measured {time.strftime('%Y-%m-%d')} on {os.cpu_count()} cores ({cpu}), {platform.system()} {platform.release()};
{version} (release build), DuckDB {duckdb.__version__}; input {size_mb:,.0f} MB of CSV from
`bench/make_log.py` (seed 42); median of {a.runs} run(s).

| engine | what it does | wall time | rows/s | MB/s | peak RSS |
|---|---|---:|---:|---:|---:|
| custos | parse, validate every field and row, FX, id uniqueness, quarantine, sort per day, zstd Parquet, commit | {c_secs:.2f} s | {a.rows / c_secs:,.0f} | {size_mb / c_secs:,.1f} | {c_rss:,.0f} MiB |
| DuckDB | `COPY (SELECT * FROM read_csv(...)) TO ... (zstd)`: type inference, no validation | {d_secs:.2f} s | {a.rows / d_secs:,.0f} | {size_mb / d_secs:,.1f} | {d_rss:,.0f} MiB |

custos / DuckDB time: **{c_secs / d_secs:.2f}x** (target: at most 0.8x); run by run, from
{min(ratios):.2f}x to {max(ratios):.2f}x (custos {each(custos_runs)} s; DuckDB {each(duck_runs)} s).
custos stored {custos_runs[0][2]:,} rows and quarantined {custos_runs[0][3]:,}.

Reproduce: `pip install -r bench/requirements.txt && cargo build --release -p custos &&
python3 bench/ingest_bench.py --rows {a.rows}`
<!-- ingest-bench:end -->"""
    print(section)
    if a.no_write:
        return
    path = os.path.join(ROOT, "BENCHMARKS.md")
    text = open(path).read() if os.path.exists(path) else "# Benchmarks\n\nNumbers come from the commands shown with them; nothing here is a test.\n\n"
    if "<!-- ingest-bench:start -->" in text:
        head, rest = text.split("<!-- ingest-bench:start -->", 1)
        tail = rest.split("<!-- ingest-bench:end -->", 1)[1]
        text = head + section + tail
    else:
        text = text.rstrip() + "\n\n" + section + "\n"
    open(path, "w").write(text)


if __name__ == "__main__":
    main()
