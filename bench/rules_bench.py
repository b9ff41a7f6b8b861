#!/usr/bin/env python3
"""The whole rule library on generated data: custos against DuckDB on the same Parquet.

    pip install -r bench/requirements.txt
    cargo build --release -p custos
    python3 bench/rules_bench.py --sizes 1000000,10000000

For each size: `custos generate` a world of about that many transactions, ingest it into a
fresh warehouse, then time
  - custos: `custos run` over the whole period (every rule, alerts merged and committed),
    under a 4 GiB memory pool;
  - DuckDB: the same rules, rendered by `custos rules render` with the same parameters and
    adapted only where the dialects differ (list functions' names; the name-screening UDFs
    become DuckDB's jaro_winkler_similarity over lower-cased names, which does less work than
    custos's folding), over the warehouse's catalogued Parquet files, 2 threads, 4 GB;
  - a bare scan: every column the suite reads, summed, in custos (the floor).
Each runs in its own process; wall time and peak RSS come from wait4. The results replace
the rules section of BENCHMARKS.md.
"""
import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def timed(cmd, cwd=None, env=None):
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=cwd, env=env)
    out = proc.stdout.read()
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{err.decode(errors='replace')[-3000:]}")
    return elapsed, usage.ru_maxrss / 1024, out.decode()


def catalog_files(warehouse):
    """Current Parquet files per table, replaying the catalog's commit records."""
    files = {}
    cat = os.path.join(warehouse, "_catalog")
    for name in sorted(n for n in os.listdir(cat) if re.fullmatch(r"\d{10}\.json", n)):
        record = json.load(open(os.path.join(cat, name)))
        for table, change in record.get("tables", {}).items():
            current = files.setdefault(table, [])
            removed = {f if isinstance(f, str) else f["path"] for f in change.get("removed", [])}
            current[:] = [f for f in current if f not in removed]
            current.extend(f["path"] for f in change.get("added", []))
    return {t: [os.path.join(warehouse, p) for p in ps] for t, ps in files.items()}


# DataFusion spellings -> DuckDB spellings. Only names differ; the SQL is otherwise the same.
DIALECT = [
    (r"\bmake_array\(", "list_value("),
    # DuckDB multiplies DECIMAL(18, 4) by DECIMAL(18, 8) in 64 bits and overflows: widen the
    # ratio literals.
    (r"AS DECIMAL\(18, 8\)\)", "AS DECIMAL(38, 8))"),
    (r"\barray_has\(", "list_contains("),
    # Time bins for window self-joins: only consistency within a query matters, not origin.
    (r"\bdate_bin\(", "time_bucket("),
    (r"\bstring_to_array\(", "string_split("),
    (r"\barray_distinct\(", "list_distinct("),
    (r"\barray_concat\(", "list_concat("),
    (r"\barray_append\(", "list_append("),
    (r"\bname_tokens\(([^()]*)\)", r"string_split(trim(regexp_replace(lower(\1), '[^a-z0-9]+', ' ', 'g')), ' ')"),
    (r"\bname_match\(([^(),]*),([^(),]*)\)", r"jaro_winkler_similarity(lower(\1), lower(\2))"),
]


def duck(sql):
    for pattern, repl in DIALECT:
        sql = re.sub(pattern, repl, sql)
    return sql


DUCK_RUNNER = r"""
import duckdb, json, sys, time
spec = json.load(open(sys.argv[1]))
con = duckdb.connect()
con.execute("SET threads = 2")
con.execute("SET enable_progress_bar = false")
con.execute("SET memory_limit = '4GB'")
for table, files in spec["files"].items():
    if files:
        con.execute(f"CREATE VIEW {table} AS SELECT * FROM read_parquet({json.dumps(files)})")
for name, sql in spec["views"]:
    # Views custos computes once per session are computed once here too.
    kind = "TEMP TABLE" if sql.lstrip().startswith("-- materialize") else "VIEW"
    con.execute(f"CREATE {kind} {name} AS {sql}")
times = {}
for rule, sql in spec["rules"]:
    t = time.perf_counter()
    rows = len(con.execute(sql).fetchall())
    times[rule] = [round(time.perf_counter() - t, 3), rows]
print(json.dumps(times))
"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1000000,10000000", help="approximate transactions per world")
    ap.add_argument("--days", type=int, default=60)
    ap.add_argument("--data", default="/var/tmp/custos-bench/rules")
    ap.add_argument("--custos", default=os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "release", "custos"))
    ap.add_argument("--concurrency", type=int, default=1, help="rules custos evaluates at once")
    ap.add_argument("--no-write", action="store_true")
    a = ap.parse_args()
    custos = a.custos
    queries = os.path.join(ROOT, "queries")
    os.makedirs(a.data, exist_ok=True)
    config = os.path.join(a.data, "custos.toml")
    open(config, "w").write('memory_limit = "4GiB"\n')
    rows = []
    for size in [int(s) for s in a.sizes.split(",")]:
        # About 0.8 transactions per person-day at the default activity.
        customers = max(1000, int(size / (a.days * 0.8)))
        gen = os.path.join(a.data, f"gen-{size}")
        wh = os.path.join(a.data, f"wh-{size}")
        if not os.path.exists(os.path.join(gen, "generate.json")) or json.load(open(os.path.join(gen, "generate.json")))["customers"] != customers:
            shutil.rmtree(gen, ignore_errors=True)
            print(f"generating {customers} customers x {a.days} days ...", flush=True)
            timed([custos, "-q", "generate", "--customers", str(customers), "--days", str(a.days), "--out", gen])
        if not os.path.exists(os.path.join(wh, "_catalog")):
            print("ingesting ...", flush=True)
            for kind, f in [("fx-rates", "fx_rates.csv"), ("country-risk", "country_risk.csv"), ("sanctions", "sanctions.csv"),
                            ("customers", "customers.csv"), ("accounts", "accounts.csv"), ("merchants", "merchants.csv"),
                            ("licences", "licences.csv"), ("transactions", "transactions.csv")]:
                timed([custos, "-q", "--warehouse", wh, "ingest", kind, os.path.join(gen, f)])
        manifest = json.load(open(os.path.join(gen, "generate.json")))
        n = manifest["rows"]["transactions.csv"]
        start = manifest["start"]
        end = time.strftime("%Y-%m-%d", time.gmtime(time.mktime(time.strptime(start, "%Y-%m-%d")) + (a.days - 1) * 86400 + 43200))

        # custos: the full suite, committed, on a copy so that every timing starts from the
        # same state (no stored alerts).
        wh_run = wh + "-run"
        shutil.rmtree(wh_run, ignore_errors=True)
        shutil.copytree(wh, wh_run)
        ct, cr, out = timed([custos, "-q", "--config", config, "--warehouse", wh_run, "run", "--from", start, "--to", end, "--queries", queries, "--concurrency", str(a.concurrency)])
        alerts = re.search(r"(\d+) alerts stored", out)
        custos_ms = {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\S+\.\S+)\s+\d+\s+(\d+)$", out, re.M)}
        # The floor: one pass over the columns the suite reads.
        scan = ("select count(*), max(ts), max(txn_id), max(txn_type), max(status), max(payer_account), max(payee_account), "
                "sum(amount_reporting), sum(amount), max(currency), max(payer_country), max(payee_country), max(report_date), "
                "max(device_id), max(fx_rate), max(settlement_currency) from transactions")
        st, sr, _ = timed([custos, "-q", "--config", config, "--warehouse", wh, "sql", scan])

        # DuckDB: the same rules over the same files.
        rules = [l.split()[0] for l in subprocess.run([custos, "rules", "list", "--queries", queries], capture_output=True, text=True, check=True).stdout.splitlines()[1:] if "." in l.split(" ")[0]]
        rendered = []
        for r in rules:
            sql = subprocess.run([custos, "rules", "render", r, "--from", start, "--to", end, "--queries", queries], capture_output=True, text=True, check=True).stdout
            rendered.append((r, duck(sql)))
        views = []
        for v in sorted(os.listdir(os.path.join(queries, "views"))):
            if v.endswith(".sql") and v != "cases.sql":
                views.append((v[:-4], duck(open(os.path.join(queries, "views", v)).read())))
        spec = os.path.join(a.data, f"duck-{size}.json")
        json.dump({"files": catalog_files(wh), "views": views, "rules": rendered}, open(spec, "w"))
        dt, dr, dout = timed([sys.executable, "-c", DUCK_RUNNER, spec])
        per_rule = json.loads(dout)
        print(f"{n:,} transactions: custos {ct:.2f} s ({cr:,.0f} MiB), DuckDB {dt:.2f} s ({dr:,.0f} MiB), scan {st:.2f} s", flush=True)
        rows.append((n, customers, ct, cr, dt, dr, st, alerts.group(1) if alerts else "?", per_rule, custos_ms))

    import duckdb
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "unknown CPU") if os.path.exists("/proc/cpuinfo") else "unknown CPU"
    table = "\n".join(
        f"| {n:,} | {c:,} | {ct:.2f} s | {cr:,.0f} MiB | {dt:.2f} s | {dr:,.0f} MiB | **{ct / dt:.2f}x** | {st:.2f} s | {al} |"
        for n, c, ct, cr, dt, dr, st, al, _, _ in rows
    )
    duck_ms, our_ms = rows[-1][8], rows[-1][9]
    slowest = sorted(our_ms.items(), key=lambda kv: -kv[1])[:6]
    slow = ", ".join(f"{k} {v / 1000:.2f} s (DuckDB {duck_ms.get(k, [0])[0]:.2f} s)" for k, v in slowest)
    growth = ""
    if len(rows) > 1:
        (n0, _, t0, _, d0, _, s0, *_), (n1, _, t1, _, d1, _, s1, *_) = rows[0], rows[-1]
        growth = (f" From {n0:,} to {n1:,} transactions ({n1 / n0:.1f}x) custos's time grew {t1 / t0:.1f}x,"
                  f" DuckDB's {d1 / d0:.1f}x and the bare scan's {s1 / s0:.1f}x.")
    section = f"""<!-- rules-bench:start -->
## Rules: the whole library ({len(rows[-1][8])} rules) over generated worlds

Measured {time.strftime('%Y-%m-%d')} on {os.cpu_count()} cores ({cpu}), {platform.system()} {platform.release()};
custos 0.1.0 (release build, 4 GiB memory pool), DuckDB {duckdb.__version__} (2 threads, 4 GB);
{a.days} days of `custos generate` traffic at each size, one run each.

| transactions | customers | custos run | custos RSS | DuckDB | DuckDB RSS | custos / DuckDB | bare scan (custos) | alerts |
|---:|---:|---:|---:|---:|---:|---:|---:|---:|
{table}

custos's time includes reading stored alerts, merging and committing them with the run
manifest; DuckDB only executes the queries (results fetched); views marked `-- materialize`
are computed once in both. Target: custos at
or under 0.8x DuckDB within 4 GiB.{growth} Slowest rules in custos at the largest size: {slow}.

Reproduce: `pip install -r bench/requirements.txt && cargo build --release -p custos &&
python3 bench/rules_bench.py --sizes {a.sizes} --concurrency {a.concurrency}`
<!-- rules-bench:end -->"""
    print(section)
    if a.no_write:
        return
    path = os.path.join(ROOT, "BENCHMARKS.md")
    text = open(path).read()
    if "<!-- rules-bench:start -->" in text:
        head, rest = text.split("<!-- rules-bench:start -->", 1)
        text = head + section + rest.split("<!-- rules-bench:end -->", 1)[1]
    else:
        text = text.rstrip() + "\n\n" + section + "\n"
    open(path, "w").write(text)
    print(f"updated {path}")


if __name__ == "__main__":
    main()
