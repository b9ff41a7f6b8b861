//! Analyst SQL end to end: `custos sql` output formats round-trip, the shell, the read-only
//! guard, and `custos serve` with a real `psql`: same answers as `custos sql`, passwords,
//! refusals, masking for the analyst role, 20 concurrent clients, the session bound, a
//! query that panics the engine, and a clean stop on SIGTERM.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};

use crate::harness::{Scratch, repo_root};
use crate::rules::{load_dir, queries, run};

fn world() -> Scratch {
    let s = Scratch::new();
    let dir = s.dir.path().join("gen");
    s.ok(&[
        "generate",
        "--customers",
        "300",
        "--days",
        "40",
        "--seed",
        "5",
        "--inject",
        "all=1",
        "--out",
        dir.to_str().unwrap_or_default(),
    ]);
    load_dir(&s, &dir);
    run(&s, "2025-01-01", "2025-02-09");
    s
}

fn sql(s: &Scratch, args: &[&str]) -> std::process::Output {
    let q = queries();
    let r = repo_root().join("reports").display().to_string();
    let mut c = s.custos();
    c.arg("sql").args(args).args(["--queries", &q, "--reports", &r]);
    c.output().expect("custos sql")
}

fn sql_ok(s: &Scratch, args: &[&str]) -> String {
    let out = sql(s, args);
    assert!(
        out.status.success(),
        "custos sql {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

struct Server {
    child: Child,
    port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Starts `custos serve` and waits for the line saying it listens (no sleeping).
fn serve(s: &Scratch, max_connections: usize) -> Server {
    let port = free_port();
    let cfg = s.file(
        "serve.toml",
        format!(
            "statement_timeout = \"3s\"\n[serve]\nmax_connections = {max_connections}\n\n[[serve.users]]\nname = \"ana\"\nrole = \"analyst\"\npassword_env = \"TEST_ANA_PW\"\n\n[[serve.users]]\nname = \"olga\"\nrole = \"officer\"\npassword_env = \"TEST_OLGA_PW\"\n"
        ),
    );
    let q = queries();
    let r = repo_root().join("reports").display().to_string();
    let mut child = s
        .custos()
        .arg("--config")
        .arg(&cfg)
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--queries",
            &q,
            "--reports",
            &r,
        ])
        .env("TEST_ANA_PW", "ana-secret-1")
        .env("TEST_OLGA_PW", "olga-secret-2")
        .stderr(Stdio::piped())
        .spawn()
        .expect("custos serve");
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = BufReader::new(stderr).lines();
    loop {
        let line = lines
            .next()
            .unwrap_or_else(|| panic!("custos serve ended before listening"))
            .expect("read stderr");
        assert!(!line.contains("secret"), "a password reached the log: {line}");
        if line.contains(&format!("127.0.0.1:{port}")) {
            break;
        }
    }
    // Keep draining stderr so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines.by_ref() {});
    Server { child, port }
}

fn psql(port: u16, user: &str, password: &str, query: &str) -> std::process::Output {
    Command::new("psql")
        .args([
            &format!("host=127.0.0.1 port={port} user={user} dbname=custos sslmode=disable connect_timeout=20"),
            "-X",
            "--csv",
            "-v",
            "ON_ERROR_STOP=1",
            "-c",
            query,
        ])
        .env("PGPASSWORD", password)
        .output()
        .expect("psql is installed (postgresql-client)")
}

fn psql_ok(port: u16, user: &str, query: &str) -> String {
    let pw = if user == "ana" { "ana-secret-1" } else { "olga-secret-2" };
    let out = psql(port, user, pw, query);
    assert!(
        out.status.success(),
        "psql {user} {query:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn psql_refused(port: u16, user: &str, query: &str) -> String {
    let pw = if user == "ana" { "ana-secret-1" } else { "olga-secret-2" };
    let out = psql(port, user, pw, query);
    assert!(
        !out.status.success(),
        "psql {user} {query:?} should fail: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn sql_formats_round_trip_and_the_shell_answers() {
    let s = world();
    let q = "select txn_id, amount, currency, ts, status from transactions order by txn_id limit 50";
    let table = sql_ok(&s, &[q]);
    let csv_path = s.dir.path().join("out.csv");
    let json_path = s.dir.path().join("out.json");
    let pq_path = s.dir.path().join("out.parquet");
    for (f, p) in [("csv", &csv_path), ("json", &json_path), ("parquet", &pq_path)] {
        sql_ok(&s, &[q, "--format", f, "--output", p.to_str().unwrap_or_default()]);
    }
    // CSV and JSON lines carry the same rows and values.
    let mut csv_rows = csv::Reader::from_path(&csv_path).expect("csv");
    let csv_rows: Vec<Vec<String>> = csv_rows
        .records()
        .map(|r| r.expect("row").iter().map(str::to_string).collect())
        .collect();
    let json_rows: Vec<serde_json::Value> = std::fs::read_to_string(&json_path)
        .expect("json")
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert_eq!(csv_rows.len(), 50);
    assert_eq!(json_rows.len(), 50);
    for (c, j) in csv_rows.iter().zip(&json_rows) {
        assert_eq!(c[0], j["txn_id"].as_str().unwrap_or_default());
        assert_eq!(
            c[1],
            j["amount"]
                .as_str()
                .map_or_else(|| j["amount"].to_string(), str::to_string)
        );
        assert!(table.contains(&c[0]));
    }
    // Parquet keeps the types: the amount stays a decimal, and the values match.
    let file = std::fs::File::open(&pq_path).expect("parquet file");
    let reader =
        custos_warehouse::datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
            .expect("parquet")
            .build()
            .expect("reader");
    let batches: Vec<_> = reader.map(|b| b.expect("batch")).collect();
    let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
    assert_eq!(rows, 50);
    let schema = batches[0].schema();
    assert!(matches!(
        schema.field_with_name("amount").map(|f| f.data_type().clone()),
        Ok(custos_warehouse::datafusion::arrow::datatypes::DataType::Decimal128(
            _,
            _
        ))
    ));
    let first = custos_warehouse::datafusion::arrow::util::display::array_value_to_string(batches[0].column(1), 0)
        .expect("value");
    assert_eq!(first, csv_rows[0][1]);

    // Read-only: DDL, DML and COPY are refused with a clear message; nothing changes.
    for bad in [
        "create table x as select 1",
        "drop table customers",
        "insert into customers select * from customers",
        "copy (select * from customers) to '/tmp/custos-leak.csv'",
        "create external table leak stored as csv location '/etc/passwd'",
    ] {
        let out = sql(&s, &[bad]);
        assert!(!out.status.success(), "{bad} ran");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("not allowed") || err.contains("read-only") || err.contains("refused"),
            "{bad}: {err}"
        );
    }
    assert!(!std::path::Path::new("/tmp/custos-leak.csv").exists());
    // The filing ledger and the reports' view are tables too.
    assert_eq!(
        sql_ok(&s, &["select count(*) as n from filings", "--format", "csv"]).trim(),
        "n\n0"
    );
    assert!(sql_ok(&s, &["select payer_name from txn_parties limit 1", "--format", "csv"]).starts_with("payer_name"));

    // The shell reads statements across lines, lists tables, describes one.
    let out = shell(
        &s,
        None,
        b"select count(*)\n  as n from customers;\n\\dt\ndescribe alerts;\ndrop table customers;\n\\q\n",
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let customers = s.count("select count(*) from customers");
    assert!(text.contains(&customers.to_string()), "{text}");
    assert!(
        text.contains("transactions") && text.contains("case_decisions"),
        "{text}"
    );
    assert!(text.contains("txn_ids"), "describe alerts: {text}");
    assert!(text.contains("error:") && text.contains("read-only"), "{text}");
    assert!(out.status.success());

    // The shell cancels a statement over the configured timeout and goes on.
    let cfg = s.file("shell.toml", "statement_timeout = \"300ms\"\n");
    let out = shell(
        &s,
        Some(&cfg),
        b"select sum(value % 7) from generate_series(1, 100000000000);\nselect 41 + 1 as answer;\n",
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("statement timeout") && text.contains("42"), "{text}");
}

/// `custos sql` with no query, fed `input` on standard input.
fn shell(s: &Scratch, config: Option<&std::path::Path>, input: &[u8]) -> std::process::Output {
    let mut c = s.custos();
    if let Some(cfg) = config {
        c.arg("--config").arg(cfg);
    }
    let mut child = c
        .args(["sql", "--queries", &queries()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("shell");
    child.stdin.take().expect("stdin").write_all(input).expect("write");
    child.wait_with_output().expect("shell output")
}

#[test]
fn serve_answers_psql_read_only_masked_and_concurrently() {
    let s = world();
    let server = serve(&s, 24);
    let port = server.port;

    // Same answers as custos sql.
    let q = "select txn_type, count(*) as n, cast(sum(amount) as varchar) as total from transactions group by txn_type order by txn_type";
    let via_cli = sql_ok(&s, &[q, "--format", "csv"]);
    let via_psql = psql_ok(port, "olga", q);
    assert_eq!(via_psql.trim(), via_cli.trim());

    // Wrong password and unknown user are refused.
    let wrong = psql(port, "olga", "not-it", "select 1");
    assert!(!wrong.status.success());
    assert!(
        String::from_utf8_lossy(&wrong.stderr)
            .to_lowercase()
            .contains("password authentication failed")
    );
    assert!(!psql(port, "mallory", "x", "select 1").status.success());

    // DDL, DML, COPY and settings that would change the shared session are refused.
    for bad in [
        "create table x as select 1",
        "drop table customers",
        "insert into customers select * from customers",
        "copy customers to '/tmp/custos-leak2.csv'",
        "set datafusion.execution.batch_size = 1",
    ] {
        let err = psql_refused(port, "olga", bad);
        assert!(err.contains("refused") || err.contains("read-only"), "{bad}: {err}");
    }
    assert!(!std::path::Path::new("/tmp/custos-leak2.csv").exists());
    // COPY ... TO STDOUT is refused as well, so it cannot carry unmasked data either.
    let err = psql_refused(port, "ana", "copy (select full_name from customers) to stdout");
    assert!(err.contains("refused") && !err.contains("anon:"), "{err}");

    // Masking: the analyst never sees a name, ID number or birth date; joins still work.
    let names: Vec<String> = psql_ok(port, "olga", "select full_name from customers order by customer_id")
        .lines()
        .skip(1)
        .map(str::to_string)
        .collect();
    assert!(names.len() > 100);
    let leaks = |text: &str| {
        names
            .iter()
            .filter(|n| n.len() > 3 && text.contains(n.as_str()))
            .count()
    };
    for q in [
        "select * from customers",
        "select c.full_name, c.id_number, t.txn_id from transactions t join accounts a on a.account_id = t.payer_account join customers c on c.customer_id = a.customer_id limit 200",
        "select (select max(full_name) from customers) as m, (select min(id_number) from customers) as i",
        "select * from txn_parties limit 200",
        "select * from (select full_name from customers) sub",
        "select figures from alerts",
        "select raw_text from quarantine",
    ] {
        let text = psql_ok(port, "ana", q);
        assert_eq!(leaks(&text), 0, "{q} shows names to an analyst:\n{text:.400}");
    }
    let masked = psql_ok(
        port,
        "ana",
        "select full_name, id_number, date_of_birth from customers limit 20",
    );
    for line in masked.lines().skip(1) {
        let cols: Vec<&str> = line.split(',').collect();
        assert!(
            cols[0].starts_with("anon:") && cols[1].starts_with("anon:") && cols[2].is_empty(),
            "{line}"
        );
    }
    let join = "select count(*) from customers a join customers b on a.id_number = b.id_number";
    assert_eq!(
        psql_ok(port, "ana", join),
        psql_ok(port, "olga", join),
        "masked keys still join"
    );
    // The CLI's analyst role masks the same way as the server.
    let cli_masked = sql_ok(
        &s,
        &[
            "select full_name from customers order by customer_id limit 5",
            "--format",
            "csv",
            "--role",
            "analyst",
        ],
    );
    let srv_masked = psql_ok(
        port,
        "ana",
        "select full_name from customers order by customer_id limit 5",
    );
    assert_eq!(cli_masked.trim(), srv_masked.trim());

    // psql's catalog queries work: \dt lists tables.
    let dt = Command::new("psql")
        .args([
            &format!("host=127.0.0.1 port={port} user=olga dbname=custos sslmode=disable"),
            "-X",
            "-c",
            "\\dt",
        ])
        .env("PGPASSWORD", "olga-secret-2")
        .output()
        .expect("psql");
    assert!(dt.status.success(), "{}", String::from_utf8_lossy(&dt.stderr));
    assert!(String::from_utf8_lossy(&dt.stdout).contains("transactions"));

    // A query that makes the engine panic (a negative RANGE offset) is one error, not a crash.
    let boom = psql(
        port,
        "olga",
        "olga-secret-2",
        "select sum(amount) over (order by ts range between interval '-1 day' preceding and current row) from transactions",
    );
    assert!(!boom.status.success());
    assert!(psql_ok(port, "olga", "select 1 as ok").contains("ok"));

    // A statement over the timeout is cancelled with PostgreSQL's code, and the server goes on.
    let endless = psql(
        port,
        "olga",
        "olga-secret-2",
        "select sum(value % 7) from generate_series(1, 100000000000)",
    );
    assert!(!endless.status.success());
    assert!(
        String::from_utf8_lossy(&endless.stderr).contains("statement timeout"),
        "{}",
        String::from_utf8_lossy(&endless.stderr)
    );
    assert!(psql_ok(port, "ana", "select 2 as ok").contains('2'));

    // 20 clients at once, all right.
    let want = s.count("select count(*) from transactions where status = 'SUCCESS'");
    let clients: Vec<Child> = (0..20)
        .map(|i| {
            Command::new("psql")
                .args([
                    &format!(
                        "host=127.0.0.1 port={port} user={} dbname=custos sslmode=disable",
                        if i % 2 == 0 { "ana" } else { "olga" }
                    ),
                    "-X",
                    "-A",
                    "-t",
                    "-c",
                    "select count(*) from transactions where status = 'SUCCESS'",
                ])
                .env("PGPASSWORD", if i % 2 == 0 { "ana-secret-1" } else { "olga-secret-2" })
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("psql")
        })
        .collect();
    for c in clients {
        let out = c.wait_with_output().expect("psql");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), want.to_string());
    }

    // Over the bound: a clear refusal. 24 open psql sessions hold every slot; each has
    // answered a query, so it is connected, not just queued.
    let mut held: Vec<Child> = Vec::new();
    for _ in 0..24 {
        let mut c = Command::new("psql")
            .args([
                &format!("host=127.0.0.1 port={port} user=olga dbname=custos sslmode=disable"),
                "-X",
                "-A",
                "-t",
            ])
            .env("PGPASSWORD", "olga-secret-2")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("psql");
        c.stdin
            .as_mut()
            .expect("stdin")
            .write_all(b"select 1;\n")
            .expect("write");
        let mut line = String::new();
        BufReader::new(c.stdout.as_mut().expect("stdout"))
            .read_line(&mut line)
            .expect("read");
        assert_eq!(line.trim(), "1");
        held.push(c);
    }
    let over = psql(port, "olga", "olga-secret-2", "select 1");
    assert!(!over.status.success());
    assert!(
        String::from_utf8_lossy(&over.stderr).contains("too many clients"),
        "{}",
        String::from_utf8_lossy(&over.stderr)
    );
    for mut c in held {
        drop(c.stdin.take());
        let _ = c.wait();
    }

    // SIGTERM stops it cleanly.
    let mut server = server;
    let status = Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let code = server.child.wait().expect("wait");
    assert!(code.success(), "serve exited with {code:?}");
}
