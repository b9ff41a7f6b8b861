//! Filings end to end: generated data with hostile names, rules, officer decisions, every
//! report kind validated by a real xmllint, byte-identical reruns, the filing ledger with a
//! correction, `file --due`, tampering caught by `verify`, and the officer summary rendered
//! in a real headless Chromium.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::harness::{Scratch, repo_root, shared};
use crate::rules::{load_dir, queries, run};

fn reports() -> String {
    repo_root().join("reports").display().to_string()
}

fn uae_xsd() -> PathBuf {
    shared().join("reference/goaml/uae-5.0.2/goAMLSchema.patched-xsd10.xsd")
}

fn generic_xsd() -> PathBuf {
    shared().join("reference/goaml/generic-5.0.1/goAMLSchema.xsd")
}

fn our_xsd() -> PathBuf {
    repo_root().join("reports/pboc/pboc-lvtr.xsd")
}

/// Validates with the xmllint binary itself, not through custos.
fn xmllint(file: &Path, xsd: &Path) {
    let out = Command::new("xmllint")
        .args(["--noout", "--nonet", "--schema"])
        .arg(xsd)
        .arg(file)
        .output()
        .expect("xmllint is installed (libxml2-utils)");
    assert!(
        out.status.success(),
        "{} does not validate against {}:\n{}",
        file.display(),
        xsd.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

const HOSTILE: &[&str] = &[
    "<script>alert('x')</script> & \"Sons\"",
    "王伟",
    "Zh\u{1}ang\u{7} Wei",
    "O'Brien-Müller, (Holdings) & Co.",
];

/// Gives every third individual a hostile name: markup and quotes, CJK, control
/// characters, punctuation goAML forbids, and one very long name.
fn hostile_names(dir: &Path) {
    let path = dir.join("customers.csv");
    let mut r = csv::Reader::from_path(&path).expect("customers.csv");
    let headers = r.headers().expect("header").clone();
    let name_col = headers.iter().position(|h| h == "full_name").expect("full_name");
    let type_col = headers
        .iter()
        .position(|h| h == "customer_type")
        .expect("customer_type");
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(&headers).expect("write");
    let long = "Wang ".repeat(80);
    for (i, rec) in r.records().enumerate() {
        let rec = rec.expect("record");
        let mut fields: Vec<String> = rec.iter().map(str::to_string).collect();
        if &fields[type_col] == "INDIVIDUAL" && i % 3 == 0 {
            fields[name_col] = if i % 15 == 0 {
                long.trim().to_string()
            } else {
                HOSTILE[(i / 3) % HOSTILE.len()].to_string()
            };
        }
        w.write_record(&fields).expect("write");
    }
    std::fs::write(&path, w.into_inner().expect("csv")).expect("write customers");
}

fn config(s: &Scratch, name: &str, fiu: &str, xsd: &Path) -> String {
    let text = format!(
        r#"
[filing.entity]
name = "Custos Pay (Shenzhen) Ltd & Co <test>"
code = "CUSTOSPAY"
rentity_id = 9001
branch = "HQ"
address = "18F Custos Tower, 1 Keyuan Road"
city = "Shenzhen"
state = "Guangdong"
country = "CN"

[filing.entity.officer]
first_name = "Xiaoling"
last_name = "Chen"
occupation = "MLRO"

[filing.goaml]
fiu = "{fiu}"
schema = "{}"

[[filing.schedule]]
kind = "pboc-hvtr"
regulator = "PBOC"
frequency = "monthly"
deadline = "5 working days"
start = "2025-01-01"
"#,
        xsd.display()
    );
    s.file(name, text).display().to_string()
}

fn custos(s: &Scratch, cfg: &str, args: &[&str]) -> std::process::Output {
    let mut c = s.custos();
    c.arg("--config").arg(cfg).args(args);
    c.output().expect("run custos")
}

fn ok(s: &Scratch, cfg: &str, args: &[&str]) -> String {
    let out = custos(s, cfg, args);
    assert!(
        out.status.success(),
        "custos {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|r| r.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
fn filings_render_validate_file_correct_and_verify() {
    let s = Scratch::new();
    let generated = s.dir.path().join("gen");
    s.ok(&[
        "generate",
        "--customers",
        "400",
        "--days",
        "60",
        "--activity",
        "0.5",
        "--seed",
        "11",
        "--inject",
        "all=2",
        "--out",
        generated.to_str().unwrap_or_default(),
    ]);
    hostile_names(&generated);
    load_dir(&s, &generated);
    run(&s, "2025-01-01", "2025-03-01");
    let cfg = config(&s, "custos.toml", "uae-5.0.2", &uae_xsd());
    let (r, q) = (reports(), queries());
    let common = ["--reports", r.as_str(), "--queries", q.as_str()];

    // Officer decisions: escalate the first three cases of January, close one.
    let out_dir = s.dir.path().join("cases");
    let od = out_dir.display().to_string();
    let mut args = vec!["report", "cases-csv", "--period", "2025-01", "--out", &od];
    args.extend(common);
    ok(&s, &cfg, &args);
    let cases_csv = std::fs::read_to_string(out_dir.join("cases.csv")).expect("cases.csv");
    let case_ids: Vec<String> = cases_csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap_or("").to_string())
        .collect();
    assert!(case_ids.len() >= 4, "{cases_csv}");
    for c in &case_ids[..3] {
        ok(
            &s,
            &cfg,
            &[
                "case",
                "escalate",
                c,
                "--reason",
                "Rapid movement <unexplained> & \"round\" amounts",
                "--author",
                "Chen X.",
                "--reports",
                &r,
            ],
        );
    }
    ok(
        &s,
        &cfg,
        &[
            "case",
            "close",
            &case_ids[3],
            "--false-positive",
            "--reason",
            "Payroll",
            "--author",
            "Chen X.",
            "--reports",
            &r,
        ],
    );
    let bad = custos(
        &s,
        &cfg,
        &[
            "case",
            "escalate",
            "CASE-nope",
            "--reason",
            "x",
            "--author",
            "y",
            "--reports",
            &r,
        ],
    );
    assert!(!bad.status.success());

    // Every kind renders, validates (checked again here with xmllint itself), and renders
    // byte for byte the same a second time.
    let render = |kind: &str, dir: &str, cfg: &str| {
        let d = s.dir.path().join(dir);
        let ds = d.display().to_string();
        let mut args = vec![
            "report",
            kind,
            "--period",
            "2025-01",
            "--as-of",
            "2025-02-05",
            "--out",
            &ds,
        ];
        args.extend(common);
        let printed = ok(&s, cfg, &args);
        (d, printed)
    };
    for kind in ["goaml-str", "pboc-hvtr", "officer-summary", "alerts-csv", "cases-csv"] {
        let (a, printed) = render(kind, &format!("{kind}-a"), &cfg);
        let (b, _) = render(kind, &format!("{kind}-b"), &cfg);
        let (fa, fb) = (files(&a), files(&b));
        assert!(!fa.is_empty(), "{kind} wrote nothing: {printed}");
        assert_eq!(fa.len(), fb.len());
        for (x, y) in fa.iter().zip(&fb) {
            assert_eq!(
                std::fs::read(x).ok(),
                std::fs::read(y).ok(),
                "{} differs between runs",
                x.display()
            );
            let text = std::fs::read_to_string(x).expect("utf-8 output");
            assert!(
                !text.contains("<script>alert"),
                "{}: unescaped markup from data",
                x.display()
            );
            assert!(
                !text.contains('\u{1}') && !text.contains('\u{7}'),
                "{}: control characters",
                x.display()
            );
            if kind == "goaml-str" {
                xmllint(x, &uae_xsd());
            }
            if kind == "pboc-hvtr" {
                xmllint(x, &our_xsd());
            }
        }
        if kind == "goaml-str" {
            assert_eq!(fa.len(), 3, "one report per escalated case: {printed}");
            assert!(
                printed.contains("not in Latin script") || printed.contains("does not accept"),
                "hostile names are flagged: {printed}"
            );
        }
        if kind == "pboc-hvtr" {
            let xml = std::fs::read_to_string(&fa[0]).unwrap_or_default();
            assert!(xml.contains("<CATI>"), "January has large-value records: {xml}");
        }
    }
    // A report that does not validate is refused, naming the element's path and the reason:
    // here an FIU profile with a gender code the schema does not know.
    let broken = s.dir.path().join("reports-broken");
    copy_dir(&repo_root().join("reports"), &broken);
    let profile = broken.join("goaml/fiu/uae-5.0.2.toml");
    let text = std::fs::read_to_string(&profile).expect("profile");
    std::fs::write(&profile, text.replace("gender = \"-\"", "gender = \"Q\"")).expect("write");
    let b = broken.display().to_string();
    let refused = custos(
        &s,
        &cfg,
        &[
            "report",
            "goaml-str",
            "--period",
            "2025-01",
            "--reports",
            &b,
            "--queries",
            &q,
        ],
    );
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success(), "an invalid report must not be written");
    assert!(
        said.contains("does not validate")
            && said.contains("/report/transaction")
            && said.contains("/gender: Element 'gender'"),
        "{said}"
    );

    // The summary is self-contained and renders in Chromium without console errors.
    let html = files(&s.dir.path().join("officer-summary-a")).remove(0);
    let page = std::fs::read_to_string(&html).unwrap_or_default();
    assert!(
        !page.contains("http://") && !page.contains("https://"),
        "the summary loads nothing from a network"
    );
    assert!(page.contains("<svg") && page.contains("From alerts to filings"));
    chromium_renders_cleanly(&html);

    // The UAE FIU has no large-value report code: refused, not mislabelled. The generic
    // 5.0.1 schema has CTR, and the report validates against it.
    let refused = custos(
        &s,
        &cfg,
        &[
            "report",
            "goaml-ctr",
            "--period",
            "2025-01",
            "--reports",
            &r,
            "--queries",
            &q,
        ],
    );
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("no large-value report code"));
    let generic = config(&s, "generic.toml", "generic-5.0.1", &generic_xsd());
    let (ctr, printed) = render("goaml-ctr", "ctr", &generic);
    for f in files(&ctr) {
        xmllint(&f, &generic_xsd());
        assert!(
            std::fs::read_to_string(&f)
                .unwrap_or_default()
                .contains("<report_code>CTR</report_code>"),
            "{printed}"
        );
    }

    // File January; filing twice is refused; the calendar sees February overdue.
    // `custos file` for January's HVTR and STRs, with more arguments.
    let file_january = |more: &[&str]| {
        let mut args = vec![
            "file",
            "--period",
            "2025-01",
            "--kind",
            "pboc-hvtr",
            "--kind",
            "goaml-str",
        ];
        args.extend(more);
        args.extend(common);
        custos(&s, &cfg, &args)
    };
    let stdout = |o: std::process::Output| {
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let filed = stdout(file_january(&["--as-of", "2025-02-07"]));
    assert!(
        filed.contains("filed PBOC-HVTR-2025-01") && filed.contains("filed GOAML-STR-2025-01"),
        "{filed}"
    );
    let again = file_january(&["--as-of", "2025-02-07"]);
    assert!(!again.status.success() && String::from_utf8_lossy(&again.stderr).contains("--correct"));
    let due = ok(&s, &cfg, &["file", "--due", "--as-of", "2025-03-20"]);
    assert!(
        due.contains("2025-02") && due.contains("OVERDUE") && !due.contains("2025-01 "),
        "{due}"
    );
    assert!(ok(&s, &cfg, &["verify"]).contains("intact"));
    // The example configuration parses and its calendar works on this warehouse.
    let example = repo_root().join("custos.example.toml").display().to_string();
    let due = ok(&s, &example, &["file", "--due", "--as-of", "2025-01-10"]);
    assert!(due.contains("pboc-hvtr") && due.contains("2025-01-02"), "{due}");

    // Late data: a large cash deposit in January arrives after filing. The correction is a
    // DHTR citing the original, adding the new record; the STR correction cites its original.
    let (account, agent) = {
        let a = s.sql("select a.account_id from accounts a join customers c on c.customer_id = a.customer_id where c.customer_type = 'INDIVIDUAL' and a.account_class = 'II' and c.kyc_status = 'VERIFIED' order by a.account_id limit 1");
        let g = s.sql("select account_id from accounts where account_class = 'AGENT' order by account_id limit 1");
        (
            a[0]["account_id"].as_str().unwrap_or("").to_string(),
            g[0]["account_id"].as_str().unwrap_or("").to_string(),
        )
    };
    let late = s.file(
        "late.csv",
        format!(
            "{}\nLATE-1,2025-01-15T10:00:00+08:00,CASH_IN,AGENT,{agent},{account},60000.00,CNY,CN,CN,SUCCESS,,,,,,,,\n",
            crate::harness::TXN_HEADER
        ),
    );
    s.ingest("transactions", &[&late], &[]);
    run(&s, "2025-01-01", "2025-03-01");
    let corrected = stdout(file_january(&["--correct", "--as-of", "2025-02-20"]));
    assert!(
        corrected.contains("filed PBOC-HVTR-2025-01-C1") && corrected.contains("correction of PBOC-HVTR-2025-01"),
        "{corrected}"
    );
    let filings = s.warehouse().join("filings");
    let dhtr = filings.join("PBOC-HVTR-2025-01-C1/dhtr.xml");
    xmllint(&dhtr, &our_xsd());
    let dhtr_text = std::fs::read_to_string(&dhtr).unwrap_or_default();
    assert!(
        dhtr_text.contains("<ORMI>PBOC-HVTR-2025-01</ORMI>")
            && dhtr_text.contains("<ACTN>A</ACTN>")
            && dhtr_text.contains("LATE-1"),
        "{dhtr_text}"
    );
    for f in files(&filings.join("GOAML-STR-2025-01-C1")) {
        if f.extension().is_some_and(|e| e == "xml") {
            xmllint(&f, &uae_xsd());
            assert!(
                std::fs::read_to_string(&f)
                    .unwrap_or_default()
                    .contains("<fiu_ref_number>GOAML-STR-2025-01</fiu_ref_number>")
            );
        }
    }
    assert!(ok(&s, &cfg, &["verify"]).contains("4 filing(s)"));

    // A tampered byte is named; so is a removed ledger entry.
    let target = filings.join("PBOC-HVTR-2025-01/hvtr.xml");
    let original = std::fs::read(&target).expect("filed file");
    let mut altered = original.clone();
    let at = altered.len() / 2;
    altered[at] ^= 0x01;
    std::fs::write(&target, &altered).expect("tamper");
    let v = custos(&s, &cfg, &["verify"]);
    assert_eq!(v.status.code(), Some(4));
    assert!(
        String::from_utf8_lossy(&v.stdout).contains("PBOC-HVTR-2025-01/hvtr.xml: altered"),
        "{}",
        String::from_utf8_lossy(&v.stdout)
    );
    std::fs::write(&target, &original).expect("restore");
    assert!(ok(&s, &cfg, &["verify"]).contains("intact"));
    let ledger = filings.join("ledger.jsonl");
    let text = std::fs::read_to_string(&ledger).expect("ledger");
    let kept: Vec<&str> = text
        .lines()
        .enumerate()
        .filter(|(i, _)| *i != 1)
        .map(|(_, l)| l)
        .collect();
    std::fs::write(&ledger, kept.join("\n") + "\n").expect("remove entry");
    let v = custos(&s, &cfg, &["verify"]);
    let said = String::from_utf8_lossy(&v.stdout);
    assert_eq!(v.status.code(), Some(4));
    assert!(
        said.contains("entry 2 removed")
            && said.contains("GOAML-STR-2025-01: a filing package the ledger does not list"),
        "{said}"
    );
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read dir").filter_map(|e| e.ok()) {
        let target = to.join(e.file_name());
        if e.path().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).expect("copy");
        }
    }
}

/// Loads a page in headless Chromium and fails on any console message (errors, uncaught
/// exceptions). A page with a deliberate error proves the check can fail.
fn chromium_renders_cleanly(page: &Path) {
    let console = |file: &Path| {
        let profile = tempfile::tempdir().expect("profile dir");
        let out = Command::new("chromium")
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--enable-logging=stderr",
                "--v=0",
                "--dump-dom",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg(format!("file://{}", file.display()))
            .output()
            .expect("chromium is installed");
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let dom = String::from_utf8_lossy(&out.stdout).into_owned();
        (
            dom,
            stderr
                .lines()
                .filter(|l| l.contains(":CONSOLE"))
                .map(str::to_string)
                .collect::<Vec<_>>(),
        )
    };
    let bad = page.with_file_name("broken.html");
    std::fs::write(&bad, "<html><body><script>nosuchfunction();</script></body></html>").expect("write");
    let (_, errors) = console(&bad);
    assert!(!errors.is_empty(), "the console check must see a deliberate error");
    let (dom, errors) = console(page);
    assert!(dom.contains("Compliance summary"), "the page rendered: {dom:.300}");
    assert!(errors.is_empty(), "console messages: {errors:?}");
}
