//! Exit codes, documented in `custos --help`.

use std::process::ExitCode;

/// How `custos` ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// 0: done.
    Ok,
    /// 1: an error stopped the command (unreadable file, bad header, warehouse failure).
    Failure,
    /// 2: bad usage (unknown option, missing argument); clap uses it too.
    Usage,
    /// 3: at least one file had more rejected rows than `--max-reject` allows and was not
    /// ingested.
    Rejected,
    /// 4: `custos verify` found the filing ledger or a filed file altered.
    Tampered,
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> ExitCode {
        ExitCode::from(match e {
            Exit::Ok => 0,
            Exit::Failure => 1,
            Exit::Usage => 2,
            Exit::Rejected => 3,
            Exit::Tampered => 4,
        })
    }
}

pub const HELP: &str = "Exit codes: 0 done; 1 error (unreadable input, bad header, warehouse failure); \
2 bad usage; 3 a file had more rejected rows than --max-reject allows and was not ingested; \
4 verify found the filing ledger or a filed file altered.";
