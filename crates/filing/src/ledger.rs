//! The filing ledger: `filings/ledger.jsonl`, one hash-chained entry per filing package.
//!
//! A package is a folder `filings/<filing_id>/` holding the files sent and `manifest.json`,
//! which is the ledger entry itself. `filings/HEAD` holds the sequence number and hash of the
//! last entry, so that cutting entries off the end of the ledger is caught too; print it with
//! each filing and keep it elsewhere (a regulator's receipt, a ticket) to anchor the chain.

use std::collections::BTreeSet;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{Error, Result, io};

const LEDGER: &str = "ledger.jsonl";
const HEAD: &str = "HEAD";
const MANIFEST: &str = "manifest.json";
const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// A new filing, or a correction of an earlier one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Submission {
    /// A first filing for its kind and period.
    New,
    /// A re-filing that replaces the filing it cites.
    Correction,
}

/// One file of a package, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FiledFile {
    /// File name inside the package.
    pub name: String,
    /// Size in bytes.
    pub bytes: u64,
    /// SHA-256, hex.
    pub sha256: String,
}

/// One ledger entry: what was filed, from what, and the link to the entry before it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// 1, 2, 3, ... without gaps.
    pub seq: u64,
    /// Unique id, also the reference inside the filing.
    pub filing_id: String,
    /// Report kind, e.g. `goaml-str`.
    pub kind: String,
    /// Who receives it.
    pub regulator: String,
    /// The period covered, as written (`2024-03`).
    pub period: String,
    /// New, or a correction.
    pub submission: Submission,
    /// The filing a correction replaces.
    pub corrects: Option<String>,
    /// The filing date printed in the files.
    pub as_of: String,
    /// Run id, input catalog version, rule versions, parameters, counts: whatever the caller
    /// needs to say where the figures came from.
    pub details: serde_json::Value,
    /// Every file sent, with its hash.
    pub files: Vec<FiledFile>,
    /// Hash of the previous entry (zeros for the first).
    pub prev_hash: String,
    /// SHA-256 of this entry's canonical JSON without this field.
    pub hash: String,
}

impl Entry {
    fn compute_hash(&self) -> String {
        let mut unsigned = self.clone();
        unsigned.hash = String::new();
        // serde_json writes struct fields in declaration order and `details` maps in key
        // order (no preserve_order feature), so this text is canonical.
        let text = serde_json::to_string(&unsigned).unwrap_or_default();
        hex(&Sha256::digest(text.as_bytes()))
    }
}

/// What a caller files.
#[derive(Debug, Clone)]
pub struct NewFiling {
    /// Unique id (safe as a folder name: letters, digits, `-`, `_`, `.`).
    pub filing_id: String,
    /// Report kind.
    pub kind: String,
    /// Regulator.
    pub regulator: String,
    /// Period as written.
    pub period: String,
    /// New or correction.
    pub submission: Submission,
    /// The original, for a correction.
    pub corrects: Option<String>,
    /// Filing date.
    pub as_of: String,
    /// Provenance.
    pub details: serde_json::Value,
    /// File names and contents.
    pub files: Vec<(String, Vec<u8>)>,
}

/// What the next filing of a kind and period is: its id, whether it is new or a correction,
/// and for a correction the original it cites and the latest filing it replaces.
#[derive(Debug, Clone)]
pub struct NextFiling {
    /// `<prefix>-<period>` for a new filing, `<original>-C<n>` for the n-th correction.
    pub filing_id: String,
    /// New or correction.
    pub submission: Submission,
    /// The original (new) filing a correction cites.
    pub original: Option<Entry>,
    /// The latest filing of the period (the original or the last correction).
    pub latest: Option<Entry>,
}

/// One thing `verify` found wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The filing or file it concerns (`ledger.jsonl:3`, `PBOC-HVTR-2024-03-05/hvtr.xml`).
    pub what: String,
    /// What is wrong.
    pub detail: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.what, self.detail)
    }
}

/// The ledger under a folder (normally `<warehouse>/filings`).
#[derive(Debug, Clone)]
pub struct Ledger {
    dir: PathBuf,
}

impl Ledger {
    /// Opens (creating if needed) the ledger folder.
    pub fn open(dir: &Path) -> Result<Ledger> {
        fs::create_dir_all(dir).map_err(io(dir))?;
        Ok(Ledger { dir: dir.to_path_buf() })
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The folder of a package.
    pub fn package_dir(&self, filing_id: &str) -> PathBuf {
        self.dir.join(filing_id)
    }

    /// Every entry, in order. Fails on a line that is not an entry; use [`Ledger::verify`] to
    /// check hashes.
    pub fn entries(&self) -> Result<Vec<Entry>> {
        let path = self.dir.join(LEDGER);
        let text = match fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io(&path)(e)),
        };
        text.lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(i, l)| {
                serde_json::from_str(l).map_err(|e| Error::Corrupt {
                    path: path.clone(),
                    line: i + 1,
                    message: e.to_string(),
                })
            })
            .collect()
    }

    /// The id and standing of the next filing of `kind` for `period`: a new one, refused if
    /// the period was filed; or, with `correct`, a correction of the original, refused if
    /// there is none.
    pub fn next_filing(&self, id_prefix: &str, kind: &str, period: &str, correct: bool) -> Result<NextFiling> {
        let entries = self.entries()?;
        let same: Vec<&Entry> = entries
            .iter()
            .filter(|e| e.kind == kind && e.period == period)
            .collect();
        let original = same.iter().find(|e| e.submission == Submission::New).copied();
        match (original, correct) {
            (Some(o), false) => Err(Error::AlreadyFiled {
                kind: kind.to_string(),
                period: period.to_string(),
                filing_id: o.filing_id.clone(),
                as_of: o.as_of.clone(),
            }),
            (None, true) => Err(Error::NothingToCorrect {
                kind: kind.to_string(),
                period: period.to_string(),
            }),
            (None, false) => Ok(NextFiling {
                filing_id: format!("{id_prefix}-{period}"),
                submission: Submission::New,
                original: None,
                latest: None,
            }),
            (Some(o), true) => {
                let n = same.iter().filter(|e| e.submission == Submission::Correction).count() + 1;
                Ok(NextFiling {
                    filing_id: format!("{}-C{n}", o.filing_id),
                    submission: Submission::Correction,
                    original: Some(o.clone()),
                    latest: same.last().map(|e| (*e).clone()),
                })
            }
        }
    }

    /// Writes the package and appends its entry. The package folder is written aside and
    /// renamed into place before the entry is appended, so a crash leaves either no trace in
    /// the ledger or a complete package; a leftover folder without an entry is replaced by
    /// the next attempt and reported by `verify` until then.
    pub fn append(&self, filing: NewFiling) -> Result<Entry> {
        if !is_safe_id(&filing.filing_id) {
            return Err(Error::Config(format!(
                "filing id {:?} may hold only letters, digits, '-', '_' and '.'",
                filing.filing_id
            )));
        }
        let entries = self.entries()?;
        if entries.iter().any(|e| e.filing_id == filing.filing_id) {
            return Err(Error::Duplicate(filing.filing_id));
        }
        let mut names = BTreeSet::new();
        for (name, _) in &filing.files {
            if !is_safe_id(name) || name == MANIFEST || !names.insert(name.clone()) {
                return Err(Error::Config(format!("file name {name:?} cannot go into a package")));
            }
        }
        let (seq, prev_hash) = entries
            .last()
            .map_or((1, GENESIS.to_string()), |e| (e.seq + 1, e.hash.clone()));
        let mut entry = Entry {
            seq,
            filing_id: filing.filing_id.clone(),
            kind: filing.kind,
            regulator: filing.regulator,
            period: filing.period,
            submission: filing.submission,
            corrects: filing.corrects,
            as_of: filing.as_of,
            details: filing.details,
            files: filing
                .files
                .iter()
                .map(|(name, bytes)| FiledFile {
                    name: name.clone(),
                    bytes: bytes.len() as u64,
                    sha256: hex(&Sha256::digest(bytes)),
                })
                .collect(),
            prev_hash,
            hash: String::new(),
        };
        entry.hash = entry.compute_hash();

        let staging = self.dir.join(format!(".staging-{}", filing.filing_id));
        let target = self.package_dir(&filing.filing_id);
        for stale in [&staging, &target] {
            if stale.exists() {
                fs::remove_dir_all(stale).map_err(io(stale.as_path()))?;
            }
        }
        fs::create_dir_all(&staging).map_err(io(&staging))?;
        for (name, bytes) in &filing.files {
            write_synced(&staging.join(name), bytes)?;
        }
        let manifest = serde_json::to_vec_pretty(&entry).unwrap_or_default();
        write_synced(&staging.join(MANIFEST), &manifest)?;
        fs::rename(&staging, &target).map_err(io(&target))?;

        let path = self.dir.join(LEDGER);
        let mut f = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(io(&path))?;
        let mut line = serde_json::to_string(&entry).unwrap_or_default();
        line.push('\n');
        f.write_all(line.as_bytes()).map_err(io(&path))?;
        f.sync_all().map_err(io(&path))?;
        let head = self.dir.join(HEAD);
        let tmp = self.dir.join(".HEAD.tmp");
        write_synced(&tmp, format!("{} {}\n", entry.seq, entry.hash).as_bytes())?;
        fs::rename(&tmp, &head).map_err(io(&head))?;
        Ok(entry)
    }

    /// Recomputes every hash, the chain, every file and the head, and returns what does not
    /// hold. Empty means the ledger and every package are as filed.
    pub fn verify(&self) -> Result<Vec<Problem>> {
        let mut problems = Vec::new();
        let mut p = |what: String, detail: String| problems.push(Problem { what, detail });
        let path = self.dir.join(LEDGER);
        let text = match fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(io(&path)(e)),
        };
        let mut prev: Option<Entry> = None;
        let mut listed = BTreeSet::new();
        for (i, line) in text.lines().enumerate() {
            let at = format!("{LEDGER}:{}", i + 1);
            let entry: Entry = match serde_json::from_str(line) {
                Ok(e) => e,
                Err(e) => {
                    p(at, format!("not a ledger entry ({e}): the line was altered"));
                    continue;
                }
            };
            listed.insert(entry.filing_id.clone());
            let (want_seq, want_prev) = prev
                .as_ref()
                .map_or((1, GENESIS.to_string()), |e| (e.seq + 1, e.hash.clone()));
            if entry.seq > want_seq {
                p(
                    format!("{at} ({})", entry.filing_id),
                    format!(
                        "sequence jumps from {} to {}: entr{} {} removed",
                        want_seq - 1,
                        entry.seq,
                        if entry.seq - want_seq == 1 { "y" } else { "ies" },
                        (want_seq..entry.seq)
                            .map(|s| s.to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                );
            } else if entry.seq < want_seq {
                p(
                    format!("{at} ({})", entry.filing_id),
                    format!(
                        "sequence number {} repeats or goes back (expected {want_seq})",
                        entry.seq
                    ),
                );
            }
            if entry.compute_hash() != entry.hash {
                p(
                    format!("{at} ({})", entry.filing_id),
                    "the entry's content does not match its hash: the entry was altered".to_string(),
                );
            } else if entry.prev_hash != want_prev {
                p(
                    format!("{at} ({})", entry.filing_id),
                    "its link to the previous entry is broken: an entry before it was removed or replaced".to_string(),
                );
            }
            let dir = self.package_dir(&entry.filing_id);
            for f in &entry.files {
                let file = dir.join(&f.name);
                let what = format!("{}/{}", entry.filing_id, f.name);
                match fs::read(&file) {
                    Ok(bytes) => {
                        let sha = hex(&Sha256::digest(&bytes));
                        if sha != f.sha256 {
                            p(
                                what,
                                format!(
                                    "altered: {} bytes with SHA-256 {sha}, filed as {} bytes with {}",
                                    bytes.len(),
                                    f.bytes,
                                    f.sha256
                                ),
                            );
                        }
                    }
                    Err(_) => p(what, "missing from the package".to_string()),
                }
            }
            match fs::read(dir.join(MANIFEST)) {
                Ok(bytes) => match serde_json::from_slice::<Entry>(&bytes) {
                    Ok(m) if m == entry => {}
                    _ => p(
                        format!("{}/{MANIFEST}", entry.filing_id),
                        "differs from the ledger entry".to_string(),
                    ),
                },
                Err(_) => p(
                    format!("{}/{MANIFEST}", entry.filing_id),
                    "missing from the package".to_string(),
                ),
            }
            prev = Some(entry);
        }
        // Packages the ledger does not list: an entry was deleted (or a filing was cut short
        // before its entry was written).
        if let Ok(read) = fs::read_dir(&self.dir) {
            let mut orphans: Vec<String> = read
                .filter_map(|e| e.ok())
                .filter(|e| e.path().is_dir())
                .filter_map(|e| e.file_name().to_str().map(str::to_string))
                .filter(|n| !n.starts_with('.') && !listed.contains(n))
                .collect();
            orphans.sort();
            for o in orphans {
                p(
                    o,
                    "a filing package the ledger does not list: its ledger entry was removed".to_string(),
                );
            }
        }
        let head_path = self.dir.join(HEAD);
        match fs::read_to_string(&head_path) {
            Ok(head) => {
                let mut parts = head.split_whitespace();
                let (seq, hash) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
                match &prev {
                    Some(last) if last.seq.to_string() == seq && last.hash == hash => {}
                    Some(last) => p(
                        HEAD.to_string(),
                        format!(
                            "names entry {seq} ({hash}) but the ledger ends at entry {} ({}): entries were removed from the end or the ledger was rewritten",
                            last.seq, last.hash
                        ),
                    ),
                    None => p(HEAD.to_string(), format!("names entry {seq} but the ledger is empty")),
                }
            }
            Err(_) if prev.is_some() => p(HEAD.to_string(), "missing".to_string()),
            Err(_) => {}
        }
        Ok(problems)
    }
}

fn is_safe_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && !s.starts_with('.')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut f = fs::File::create(path).map_err(io(path))?;
    f.write_all(bytes).map_err(io(path))?;
    f.sync_all().map_err(io(path))
}

/// Lower-case hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filing(id: &str, body: &str) -> NewFiling {
        NewFiling {
            filing_id: id.to_string(),
            kind: "pboc-hvtr".into(),
            regulator: "PBOC".into(),
            period: "2024-03-05".into(),
            submission: Submission::New,
            corrects: None,
            as_of: "2024-03-06".into(),
            details: serde_json::json!({"run_id": "RUN-1", "b": 2, "a": 1}),
            files: vec![("hvtr.xml".into(), body.as_bytes().to_vec())],
        }
    }

    fn three() -> (tempfile::TempDir, Ledger) {
        let dir = tempfile::tempdir().unwrap();
        let l = Ledger::open(dir.path()).unwrap();
        for (i, id) in ["F-1", "F-2", "F-3"].iter().enumerate() {
            l.append(filing(id, &format!("<x>{i}</x>"))).unwrap();
        }
        (dir, l)
    }

    #[test]
    fn clean_ledger_verifies_and_chains() {
        let (_d, l) = three();
        assert!(l.verify().unwrap().is_empty());
        let e = l.entries().unwrap();
        assert_eq!(e[1].prev_hash, e[0].hash);
        assert!(matches!(l.append(filing("F-2", "again")), Err(Error::Duplicate(_))));
        assert!(l.append(filing("../etc", "x")).is_err());
    }

    #[test]
    fn next_filing_is_new_then_numbered_corrections() {
        let dir = tempfile::tempdir().unwrap();
        let l = Ledger::open(dir.path()).unwrap();
        assert!(matches!(
            l.next_filing("P", "pboc-hvtr", "2024-03-05", true),
            Err(Error::NothingToCorrect { .. })
        ));
        let first = l.next_filing("P", "pboc-hvtr", "2024-03-05", false).unwrap();
        assert_eq!(
            (first.filing_id.as_str(), first.submission),
            ("P-2024-03-05", Submission::New)
        );
        l.append(filing("P-2024-03-05", "<a/>")).unwrap();
        assert!(matches!(
            l.next_filing("P", "pboc-hvtr", "2024-03-05", false),
            Err(Error::AlreadyFiled { .. })
        ));
        let c1 = l.next_filing("P", "pboc-hvtr", "2024-03-05", true).unwrap();
        assert_eq!(c1.filing_id, "P-2024-03-05-C1");
        let mut f = filing("P-2024-03-05-C1", "<b/>");
        f.submission = Submission::Correction;
        l.append(f).unwrap();
        let c2 = l.next_filing("P", "pboc-hvtr", "2024-03-05", true).unwrap();
        assert_eq!(c2.filing_id, "P-2024-03-05-C2");
        assert_eq!(c2.original.map(|o| o.filing_id).as_deref(), Some("P-2024-03-05"));
        assert_eq!(c2.latest.map(|o| o.filing_id).as_deref(), Some("P-2024-03-05-C1"));
        // Another period of the same kind is new.
        assert!(l.next_filing("P", "pboc-hvtr", "2024-03-06", false).is_ok());
    }

    #[test]
    fn tampered_byte_is_named() {
        let (_d, l) = three();
        let f = l.package_dir("F-2").join("hvtr.xml");
        let mut bytes = fs::read(&f).unwrap();
        bytes[3] ^= 1;
        fs::write(&f, bytes).unwrap();
        let problems = l.verify().unwrap();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].what, "F-2/hvtr.xml");
        assert!(problems[0].detail.contains("altered"));
    }

    #[test]
    fn removed_entry_is_named() {
        let (_d, l) = three();
        let path = l.dir().join(LEDGER);
        let text = fs::read_to_string(&path).unwrap();
        let kept: Vec<&str> = text
            .lines()
            .enumerate()
            .filter(|(i, _)| *i != 1)
            .map(|(_, l)| l)
            .collect();
        fs::write(&path, kept.join("\n") + "\n").unwrap();
        let problems = l.verify().unwrap();
        let text: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
        assert!(text.iter().any(|t| t.contains("entry 2 removed")), "{text:?}");
        assert!(
            text.iter()
                .any(|t| t.starts_with("F-2: a filing package the ledger does not list")),
            "{text:?}"
        );
    }

    #[test]
    fn cut_tail_and_edited_entry_are_named() {
        let (_d, l) = three();
        let path = l.dir().join(LEDGER);
        let text = fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        fs::write(&path, lines[..2].join("\n") + "\n").unwrap();
        fs::remove_dir_all(l.package_dir("F-3")).unwrap();
        let problems = l.verify().unwrap();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].what, "HEAD");

        let edited = text.replacen("2024-03-06", "2024-03-07", 1);
        fs::write(&path, edited).unwrap();
        let problems = l.verify().unwrap();
        assert!(
            problems
                .iter()
                .any(|p| p.what.contains("(F-1)") && p.detail.contains("altered")),
            "{problems:?}"
        );
    }
}
