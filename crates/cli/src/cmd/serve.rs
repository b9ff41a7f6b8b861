//! `custos serve`: the warehouse over the Postgres wire protocol, read-only, with users and
//! roles from `custos.toml` (`[serve]`). Stops cleanly on Ctrl-C or SIGTERM.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use clap::Args;
use custos_analyst::server::{ServeOptions, User, Users};
use custos_analyst::{Role, ViewDirs};
use custos_warehouse::Warehouse;

use super::Context;
use crate::exit::Exit;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (default: the config file's serve.listen, else 127.0.0.1:5433).
    #[arg(long, value_name = "HOST:PORT")]
    pub listen: Option<String>,
    /// Directory whose `views/*.sql` are registered as views.
    #[arg(long, default_value = "queries", value_name = "DIR")]
    pub queries: PathBuf,
    /// Directory whose `sql/views/*.sql` are registered as views.
    #[arg(long, default_value = "reports", value_name = "DIR")]
    pub reports: PathBuf,
}

pub fn run(ctx: &Context, args: ServeArgs) -> anyhow::Result<Exit> {
    let serve = &ctx.config.serve;
    anyhow::ensure!(
        !serve.users.is_empty(),
        "no users: add [[serve.users]] entries (name, role, password_env) to custos.toml"
    );
    let mut users = Vec::new();
    for u in &serve.users {
        let password = std::env::var(&u.password_env).map_err(|_| {
            anyhow::anyhow!(
                "user {:?}: environment variable {} (its password) is not set",
                u.name,
                u.password_env
            )
        })?;
        anyhow::ensure!(!password.is_empty(), "user {:?}: {} is empty", u.name, u.password_env);
        users.push(User {
            name: u.name.clone(),
            role: u.role,
            password,
        });
    }
    let count = users.len();
    let users = Users::new(users)?;
    let listen = args
        .listen
        .clone()
        .or_else(|| serve.listen.clone())
        .unwrap_or_else(|| "127.0.0.1:5433".to_string());
    let wh = Warehouse::open(&ctx.warehouse)?;
    // Each role's session has its own memory pool: they share the limit half and half.
    let mut options = ctx.analyst_session_options()?;
    options.memory_limit = options.memory_limit.map(|m| m / 2);
    let views = ViewDirs {
        queries: Some(args.queries.clone()),
        reports: Some(args.reports.clone()),
    };
    let timeout = ctx.statement_timeout()?.unwrap_or(Duration::from_secs(300));
    let max_connections = serve.max_connections.unwrap_or(32);
    let rt = super::runtime()?;
    rt.block_on(async {
        let analyst = custos_analyst::session(&wh, &options, Role::Analyst, &views).await?;
        let officer = custos_analyst::session(&wh, &options, Role::Officer, &views).await?;
        let listener = tokio::net::TcpListener::bind(&listen)
            .await
            .with_context(|| format!("listening on {listen}"))?;
        let addr = listener.local_addr()?;
        if !addr.ip().is_loopback() {
            eprintln!("custos serve: {addr} is reachable from other machines; queries and results travel unencrypted");
        }
        eprintln!(
            "custos serve: {} on {addr} for {count} user(s), read-only, at most {max_connections} sessions, statement timeout {timeout:?}; Ctrl-C stops",
            ctx.warehouse.display()
        );
        let stop = async {
            #[cfg(unix)]
            {
                let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {}
                }
            }
            #[cfg(not(unix))]
            {
                let _ = tokio::signal::ctrl_c().await;
            }
        };
        custos_analyst::server::serve(
            listener,
            analyst,
            officer,
            users,
            ServeOptions {
                max_connections,
                statement_timeout: timeout,
                grace: Duration::from_secs(5),
            },
            stop,
        )
        .await?;
        eprintln!("custos serve: stopped");
        anyhow::Ok(())
    })?;
    // Sessions had their grace period; a statement still running past it is not waited for.
    rt.shutdown_timeout(Duration::from_secs(1));
    Ok(Exit::Ok)
}
