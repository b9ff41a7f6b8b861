//! Helpers: a warehouse in a temporary directory and the `custos` binary run against it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repo root")
}

/// `../shared` beside the repository: public datasets and reference files for tests.
pub fn shared() -> PathBuf {
    repo_root().join("../shared")
}

pub fn examples() -> PathBuf {
    repo_root().join("data/examples")
}

/// A scratch directory with a warehouse in it.
pub struct Scratch {
    pub dir: tempfile::TempDir,
}

impl Scratch {
    pub fn new() -> Scratch {
        Scratch {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    pub fn warehouse(&self) -> PathBuf {
        self.dir.path().join("wh")
    }

    /// Writes a file into the scratch directory and returns its path.
    pub fn file(&self, name: &str, content: impl AsRef<[u8]>) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, content).expect("write test file");
        p
    }

    /// `custos --warehouse <wh> <args...>`.
    pub fn custos(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_custos"));
        c.env_remove("CUSTOS_WAREHOUSE")
            .env_remove("CUSTOS_CONFIG")
            .env_remove("CUSTOS_FAILPOINT");
        c.current_dir(self.dir.path())
            .arg("--warehouse")
            .arg(self.warehouse())
            .arg("--quiet");
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.custos().args(args).output().expect("run custos")
    }

    /// Runs and insists on success.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "custos {args:?} failed with {:?}\nstdout:\n{}\nstderr:\n{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `custos ingest <kind> <files> --json`, returning the per-file reports.
    pub fn ingest(&self, kind: &str, files: &[&Path], extra: &[&str]) -> Vec<serde_json::Value> {
        let mut args = vec!["ingest", kind];
        let files: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
        args.extend(files.iter().map(String::as_str));
        args.extend(extra);
        args.push("--json");
        let out = self.ok(&args);
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("ingest --json printed no JSON ({e}):\n{out}"))
    }

    /// Runs a query and returns its rows as JSON objects.
    pub fn sql(&self, query: &str) -> Vec<serde_json::Map<String, serde_json::Value>> {
        let out = self.ok(&["sql", query, "--format", "json"]);
        out.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line {l:?}: {e}")))
            .collect()
    }

    /// A single integer from a query like `SELECT count(*) AS n ...`.
    pub fn count(&self, query: &str) -> i64 {
        let rows = self.sql(query);
        assert_eq!(rows.len(), 1, "{query} returned {rows:?}");
        rows[0]
            .values()
            .next()
            .and_then(|v| v.as_i64())
            .unwrap_or_else(|| panic!("{query} returned {rows:?}"))
    }

    /// Loads the example reference data a transaction file is checked against.
    pub fn load_reference(&self) {
        let ex = examples();
        self.ingest("fx-rates", &[&ex.join("fx_rates.csv")], &[]);
        self.ingest("customers", &[&ex.join("customers.csv")], &[]);
        self.ingest("accounts", &[&ex.join("accounts.csv")], &[]);
    }
}

/// The header of the canonical transaction CSV.
pub const TXN_HEADER: &str = "txn_id,ts,txn_type,channel,payer_account,payee_account,amount,currency,payer_country,payee_country,status,merchant_id,mcc,device_id,ip,auth_method,fx_rate,settlement_amount,settlement_currency";

pub fn ledger(report: &serde_json::Value) -> (u64, u64, u64) {
    let l = &report["ledger"];
    let n = |k: &str| l[k].as_u64().unwrap_or_else(|| panic!("ledger has no {k}: {report}"));
    (n("rows_read"), n("rows_stored"), n("rows_quarantined"))
}
