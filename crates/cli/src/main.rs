//! The `custos` binary: argument parsing and glue. Each subcommand lives in `cmd/`, with its
//! help text and one `run` function; the work is done by the library crates.

mod cmd;
mod config;
mod exit;
mod output;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = cmd::Args::parse();
    match cmd::run(args) {
        Ok(code) => code.into(),
        Err(err) => {
            if is_broken_pipe(&err) {
                return exit::Exit::Ok.into();
            }
            eprintln!("custos: error: {err:#}");
            exit::Exit::Failure.into()
        }
    }
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
