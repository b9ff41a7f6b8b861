#!/usr/bin/env python3
"""Throughput of `custos generate` against DuckDB writing a log of the same shape and size.

    pip install -r bench/requirements.txt
    cargo build --release -p custos
    python3 bench/generate_bench.py --customers 250000 --days 60

custos: the whole generator (world, background traffic, injected typologies, labels, sorted
per day, formatted and written as CSV). DuckDB: `COPY (SELECT ... FROM range(N)) TO '...csv'`
with the same columns filled by random() and string functions: no world, no typologies, no
ordering, so it is a floor for "emit N rows of this shape as CSV" rather than the same job.
Each runs as its own process on the same machine in the same run; wall time and peak RSS
come from wait4. The results replace the generate section of BENCHMARKS.md.
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


def timed(cmd):
    """Runs cmd under /usr/bin/time-like accounting: (seconds, peak RSS MiB, stdout)."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out = proc.stdout.read()
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{err.decode(errors='replace')}")
    return elapsed, usage.ru_maxrss / 1024, out.decode()


DUCK = """
import duckdb, sys
n, out = int(sys.argv[1]), sys.argv[2]
con = duckdb.connect()
con.execute(f'''
COPY (
  SELECT 'T' || lpad(CAST(i AS VARCHAR), 10, '0') AS txn_id,
    strftime(TIMESTAMP '2025-01-01' + to_seconds(CAST(i * 86400 * 60 // {n} AS BIGINT)), '%Y-%m-%dT%H:%M:%S') || '+08:00' AS ts,
    (['PAYMENT','TRANSFER','TOPUP','WITHDRAWAL','CASH_IN','CASH_OUT','REFUND'])[1 + CAST(floor(random() * 7) AS INT)] AS txn_type,
    (['QR','NFC','APP','WEB','POS','AGENT'])[1 + CAST(floor(random() * 6) AS INT)] AS channel,
    'A' || lpad(CAST(CAST(random() * 250000 AS INT) AS VARCHAR), 6, '0') AS payer_account,
    'A' || lpad(CAST(CAST(random() * 250000 AS INT) AS VARCHAR), 6, '0') AS payee_account,
    CAST(round(random() * 500, 2) AS DECIMAL(18, 2)) AS amount,
    'CNY' AS currency, 'CN' AS payer_country, 'CN' AS payee_country, 'SUCCESS' AS status,
    'M' || lpad(CAST(CAST(random() * 16000 AS INT) AS VARCHAR), 6, '0') AS merchant_id,
    '5812' AS mcc,
    'D' || lpad(CAST(CAST(random() * 250000 AS INT) AS VARCHAR), 6, '0') AS device_id,
    CAST(CAST(random() * 223 AS INT) + 1 AS VARCHAR) || '.' || CAST(CAST(random() * 255 AS INT) AS VARCHAR) || '.' ||
      CAST(CAST(random() * 255 AS INT) AS VARCHAR) || '.' || CAST(CAST(random() * 254 AS INT) + 1 AS VARCHAR) AS ip,
    'FACE' AS auth_method, NULL AS fx_rate, NULL AS settlement_amount, NULL AS settlement_currency
  FROM range({n}) t(i)
) TO '{out}' (HEADER)''')
"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--customers", type=int, default=250_000)
    ap.add_argument("--days", type=int, default=60)
    ap.add_argument("--data", default="/var/tmp/custos-bench/generate")
    ap.add_argument("--custos", default=os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "release", "custos"))
    ap.add_argument("--runs", type=int, default=3, help="runs of each; the median is reported")
    ap.add_argument("--no-write", action="store_true", help="print only, leave BENCHMARKS.md alone")
    a = ap.parse_args()

    out = os.path.join(a.data, "custos")
    duck_out = os.path.join(a.data, "duckdb.csv")
    custos_runs, duck_runs = [], []
    rows = size = 0
    for _ in range(a.runs):
        shutil.rmtree(out, ignore_errors=True)
        t, rss, _ = timed([a.custos, "--quiet", "generate", "--customers", str(a.customers), "--days", str(a.days), "--out", out])
        manifest = json.load(open(os.path.join(out, "generate.json")))
        rows = manifest["rows"]["transactions.csv"]
        size = os.path.getsize(os.path.join(out, "transactions.csv")) / 1e6
        custos_runs.append((t, rss))
        print(f"custos: {rows:,} rows, {size:,.0f} MB in {t:.2f} s ({rows / t:,.0f} rows/s), {rss:,.0f} MiB", flush=True)
    for _ in range(a.runs):
        if os.path.exists(duck_out):
            os.remove(duck_out)
        t, rss, _ = timed([sys.executable, "-c", DUCK, str(rows), duck_out])
        duck_size = os.path.getsize(duck_out) / 1e6
        duck_runs.append((t, rss))
        print(f"duckdb: {rows:,} rows, {duck_size:,.0f} MB in {t:.2f} s ({rows / t:,.0f} rows/s), {rss:,.0f} MiB", flush=True)

    ct = statistics.median(r[0] for r in custos_runs)
    cr = max(r[1] for r in custos_runs)
    dt = statistics.median(r[0] for r in duck_runs)
    dr = max(r[1] for r in duck_runs)
    import duckdb

    cpu = "unknown CPU"
    if os.path.exists("/proc/cpuinfo"):
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    section = f"""<!-- generate-bench:start -->
## Generate: {rows:,} transactions over {a.days} days, {a.customers:,} customers

Measured {time.strftime('%Y-%m-%d')} on {os.cpu_count()} cores ({cpu}), {platform.system()} {platform.release()};
custos 0.1.0 (release build), DuckDB {duckdb.__version__}; median of {a.runs} run(s).

| tool | what it does | wall time | rows/s | MB/s | peak RSS |
|---|---|---:|---:|---:|---:|
| custos generate | world, background traffic, {sum(manifest["patterns"].values()):,} injected patterns, labels, per-day time order, CSV | {ct:.2f} s | {rows / ct:,.0f} | {size / ct:,.1f} | {cr:,.0f} MiB |
| DuckDB | `COPY (SELECT random columns FROM range(N)) TO csv`: same columns, no world, no order | {dt:.2f} s | {rows / dt:,.0f} | {duck_size / dt:,.1f} | {dr:,.0f} MiB |

custos / DuckDB time: **{ct / dt:.2f}x**. Target: at least 2,000,000 transactions/s:
**{"met" if rows / ct >= 2_000_000 else "NOT met"}** ({rows / ct / 1e6:.2f} M/s).

Reproduce: `pip install -r bench/requirements.txt && cargo build --release -p custos &&
python3 bench/generate_bench.py --customers {a.customers} --days {a.days}`
<!-- generate-bench:end -->"""
    print(section)
    if a.no_write:
        return
    path = os.path.join(ROOT, "BENCHMARKS.md")
    text = open(path).read()
    if "<!-- generate-bench:start -->" in text:
        head, rest = text.split("<!-- generate-bench:start -->", 1)
        tail = rest.split("<!-- generate-bench:end -->", 1)[1]
        text = head + section + tail
    else:
        text = text.rstrip() + "\n\n" + section + "\n"
    open(path, "w").write(text)
    print(f"updated {path}")


if __name__ == "__main__":
    main()
