//! Schema validation with xmllint (libxml2), the validator regulators' own tooling uses.
//!
//! custos does not embed an XSD engine: it hands the document and the configured schema to
//! `xmllint --schema` and turns its messages into the failing element path and reason.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use crate::{Error, Result};

/// One schema violation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Line in the document.
    pub line: usize,
    /// Element path from the root, e.g. `/report/transaction[2]/amount_local`.
    pub path: String,
    /// xmllint's reason.
    pub reason: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}: {}", self.line, self.path, self.reason)
    }
}

/// Validates `xml` against the schema at `xsd`. `Ok(vec![])` means valid. The document goes
/// to xmllint on its standard input, so nothing is written to disk.
pub fn validate_xml(xml: &[u8], xsd: &Path) -> Result<Vec<Violation>> {
    use std::io::Write;
    use std::process::Stdio;
    if !xsd.is_file() {
        return Err(Error::Schema(format!("schema {} does not exist", xsd.display())));
    }
    let cannot_run = |e: std::io::Error| {
        Error::Schema(format!(
            "cannot run xmllint ({e}); install libxml2-utils (Debian) or libxml2 (Homebrew) to validate filings"
        ))
    };
    let mut child = Command::new("xmllint")
        .args(["--noout", "--nonet", "--schema"])
        .arg(xsd)
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(cannot_run)?;
    // Written from a second thread while its messages are collected here, so neither side
    // can wait on a full pipe.
    let stdin = child.stdin.take();
    let out = std::thread::scope(|scope| {
        let writer = scope.spawn(move || stdin.map_or(Ok(()), |mut s| s.write_all(xml)));
        let out = child.wait_with_output();
        // A write error means xmllint stopped reading; its exit status says why.
        let _ = writer.join();
        out
    })
    .map_err(cannot_run)?;
    if out.status.success() {
        return Ok(Vec::new());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let violations = parse_messages(&stderr, xml);
    if violations.is_empty() {
        return Err(Error::Schema(format!("xmllint failed: {}", stderr.trim())));
    }
    Ok(violations)
}

/// xmllint prints `file:LINE: element NAME: Schemas validity error : Element 'x': reason`.
fn parse_messages(stderr: &str, xml: &[u8]) -> Vec<Violation> {
    let text = String::from_utf8_lossy(xml);
    stderr
        .lines()
        .filter(|l| l.contains("validity error") || l.contains("parser error"))
        .map(|l| {
            let mut parts = l.splitn(3, ':');
            let _file = parts.next();
            let line: usize = parts.next().and_then(|n| n.trim().parse().ok()).unwrap_or(0);
            let reason = l.split_once("error : ").map_or(l, |(_, r)| r).trim().to_string();
            // The element xmllint names (`Element 'id_number': ...`), to find it on its line:
            // a template may put several elements on one line.
            let element = reason
                .strip_prefix("Element '")
                .and_then(|r| r.split_once('\''))
                .map(|(name, _)| name.rsplit('}').next().unwrap_or(name).to_string());
            Violation {
                line,
                path: element_path(&text, line, element.as_deref()),
                reason,
            }
        })
        .collect()
}

/// The path of the element named `element` (or the last element) that starts on `line`, by
/// a light scan of the document: start and end tags counted per parent, good enough to point
/// a reader at the element.
fn element_path(doc: &str, line: usize, element: Option<&str>) -> String {
    // Open elements: (segment as printed, counts of child names seen so far).
    let mut open: Vec<(String, String, BTreeMap<String, usize>)> = Vec::new();
    let mut root_counts: BTreeMap<String, usize> = BTreeMap::new();
    let mut found: Option<String> = None;
    let mut current_line = 1;
    let mut rest = doc;
    let joined = |open: &[(String, String, BTreeMap<String, usize>)]| {
        open.iter().map(|(_, seg, _)| format!("/{seg}")).collect::<String>()
    };
    while let Some(lt) = rest.find('<') {
        current_line += rest[..lt].matches('\n').count();
        if current_line > line {
            break;
        }
        let after = &rest[lt + 1..];
        let gt = after.find('>').unwrap_or(after.len());
        let tag = &after[..gt];
        current_line += tag.matches('\n').count();
        rest = &after[gt.min(after.len())..];
        if tag.starts_with('?') || tag.starts_with('!') {
            continue;
        }
        if let Some(name) = tag.strip_prefix('/') {
            if open.last().is_some_and(|(n, _, _)| n == name.trim()) {
                open.pop();
            }
            continue;
        }
        let name: String = tag.chars().take_while(|c| !c.is_whitespace() && *c != '/').collect();
        let counts = match open.last_mut() {
            Some((_, _, m)) => m,
            None => &mut root_counts,
        };
        let n = counts.entry(name.clone()).or_insert(0);
        *n += 1;
        let seg = if *n > 1 { format!("{name}[{n}]") } else { name.clone() };
        if current_line == line && (found.is_none() || element.is_none()) {
            found = Some(format!("{}/{seg}", joined(&open)));
        }
        if current_line == line && element == Some(name.as_str()) {
            found = Some(format!("{}/{seg}", joined(&open)));
            break;
        }
        if !tag.ends_with('/') {
            open.push((name, seg, BTreeMap::new()));
        }
    }
    found.unwrap_or_else(|| {
        let p = joined(&open);
        if p.is_empty() { "/".to_string() } else { p }
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn paths_count_siblings() {
        let doc = "<?xml version=\"1.0\"?>\n<report>\n<t>\n<a>1</a>\n</t>\n<t>\n<a>x</a>\n</t>\n</report>\n";
        assert_eq!(super::element_path(doc, 7, None), "/report/t[2]/a");
        assert_eq!(super::element_path(doc, 2, None), "/report");
        let one_line = "<report>\n<t><p><first_name>A</first_name><id_number>1</id_number><c>CN</c></p></t>\n</report>";
        assert_eq!(
            super::element_path(one_line, 2, Some("id_number")),
            "/report/t/p/id_number"
        );
        assert_eq!(super::element_path(one_line, 2, None), "/report/t/p/c");
    }
}
