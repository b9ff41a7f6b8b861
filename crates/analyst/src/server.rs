//! `custos serve`: the analyst session over the Postgres wire protocol, built on
//! datafusion-postgres and pgwire (no protocol code of our own).
//!
//! What custos adds around them: SCRAM-SHA-256 password authentication with users and roles
//! from configuration (passwords never stored, only salted verifiers in memory); one session
//! per role, chosen per connection after authentication, so analysts get masked data; a
//! read-only guard that checks every statement and plan; a bound on concurrent sessions with
//! a clear refusal; a statement timeout and panic containment per query, covering both
//! planning and the streaming of rows; and a clean shutdown.

use std::collections::HashMap;
use std::fmt;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use custos_warehouse::ReadOnly;
use custos_warehouse::datafusion::common::ParamValues;
use custos_warehouse::datafusion::logical_expr::LogicalPlan;
use custos_warehouse::datafusion::prelude::SessionContext;
use custos_warehouse::datafusion::sql::sqlparser::ast::{Set, Statement};
use datafusion_postgres::arrow_pg::datatypes::df::encode_dataframe;
use datafusion_postgres::hooks::cursor::CursorStatementHook;
use datafusion_postgres::hooks::set_show::SetShowHook;
use datafusion_postgres::hooks::transactions::TransactionStatementHook;
use datafusion_postgres::hooks::{HookClient, QueryHook};
use datafusion_postgres::{DfSessionService, Parser};
use futures::{FutureExt, Sink, StreamExt, stream};
use pgwire::api::auth::sasl::SASLAuthStartupHandler;
use pgwire::api::auth::sasl::scram::{ScramAuth, gen_salted_password};
use pgwire::api::auth::{AuthSource, DefaultServerParameterProvider, LoginInfo, Password, StartupHandler};
use pgwire::api::cancel::{CancelHandler, DefaultCancelHandler};
use pgwire::api::portal::{Format, Portal};
use pgwire::api::query::{ExtendedQueryHandler, SimpleQueryHandler};
use pgwire::api::results::{FieldInfo, QueryResponse, Response};
use pgwire::api::stmt::QueryParser;
use pgwire::api::store::PortalStore;
use pgwire::api::{ClientInfo, ClientPortalStore, ConnectionManager, METADATA_USER, PgWireServerHandlers, Type};
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};
use pgwire::types::format::FormatOptions;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::Role;

type DfStatement = <DfSessionService as ExtendedQueryHandler>::Statement;

/// PBKDF2 iterations of the SCRAM verifiers (PostgreSQL's default).
const SCRAM_ITERATIONS: usize = 4096;

fn pg_error(severity: &str, code: &str, message: impl Into<String>) -> PgWireError {
    PgWireError::UserError(Box::new(ErrorInfo::new(severity.into(), code.into(), message.into())))
}

/// One user who may connect.
pub struct User {
    /// Login name.
    pub name: String,
    /// What the user sees.
    pub role: Role,
    /// The password, as read from the environment at start; only its salted SCRAM verifier
    /// is kept.
    pub password: String,
}

struct Verifier {
    role: Role,
    salt: Vec<u8>,
    salted: Vec<u8>,
}

/// The users, as SCRAM verifiers. Its `Debug` prints no secret.
pub struct Users(HashMap<String, Verifier>);

impl fmt::Debug for Users {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Users({} configured)", self.0.len())
    }
}

impl Users {
    /// Salts and hashes every password once; the clear text is dropped.
    pub fn new(users: Vec<User>) -> crate::Result<Users> {
        let mut map = HashMap::new();
        for u in users {
            let salt = random_bytes(16)?;
            let salted = gen_salted_password(&u.password, &salt, SCRAM_ITERATIONS);
            map.insert(
                u.name,
                Verifier {
                    role: u.role,
                    salt,
                    salted,
                },
            );
        }
        Ok(Users(map))
    }

    fn role<C: ClientInfo + ?Sized>(&self, client: &C) -> PgWireResult<Role> {
        client
            .metadata()
            .get(METADATA_USER)
            .and_then(|u| self.0.get(u))
            .map(|v| v.role)
            .ok_or_else(|| pg_error("FATAL", "28000", "no role for this user"))
    }
}

fn random_bytes(n: usize) -> crate::Result<Vec<u8>> {
    use std::io::Read;
    let mut b = vec![0u8; n];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut b))
        .map_err(|e| crate::Error::Config(format!("no randomness for password salts: {e}")))?;
    Ok(b)
}

#[async_trait]
impl AuthSource for Users {
    async fn get_password(&self, login: &LoginInfo) -> PgWireResult<Password> {
        let name = login.user().unwrap_or("");
        match self.0.get(name) {
            Some(v) => Ok(Password::new(Some(v.salt.clone()), v.salted.clone())),
            None => Err(pg_error(
                "FATAL",
                "28P01",
                format!("password authentication failed for user \"{name}\""),
            )),
        }
    }
}

/// Whether a statement may run: queries, EXPLAIN of a query, SHOW, transaction no-ops,
/// cursors over queries, and session settings that change nothing shared.
fn allowed(statement: &Statement) -> bool {
    match statement {
        Statement::Query(_) => true,
        Statement::Explain { statement, .. } => matches!(statement.as_ref(), Statement::Query(_)),
        Statement::ShowVariable { .. }
        | Statement::ShowStatus { .. }
        | Statement::ShowTables { .. }
        | Statement::ShowColumns { .. }
        | Statement::StartTransaction { .. }
        | Statement::Commit { .. }
        | Statement::Rollback { .. }
        | Statement::Declare { .. }
        | Statement::Fetch { .. }
        | Statement::Close { .. } => true,
        Statement::Set(Set::SingleAssignment {
            scope: None,
            hivevar: false,
            variable,
            ..
        }) => {
            let name = variable.to_string().to_ascii_lowercase();
            [
                "datestyle",
                "bytea_output",
                "intervalstyle",
                "application_name",
                "extra_float_digits",
                "search_path",
                "client_encoding",
                "statement_timeout",
                "client_min_messages",
            ]
            .contains(&name.as_str())
        }
        Statement::Set(Set::SetTimeZone { local: false, .. }) => true,
        _ => false,
    }
}

fn refused(statement: &Statement) -> PgWireError {
    let text = statement.to_string();
    let verb: String = text.split_whitespace().take(2).collect::<Vec<_>>().join(" ");
    pg_error(
        "ERROR",
        "25006",
        format!("{verb} is refused: custos serves the warehouse read-only; only queries run"),
    )
}

/// The read-only guard: the first hook of every session. Queries it runs itself through
/// DataFusion's read-only SQL options, which check the plan DataFusion actually built;
/// extended-protocol plans are verified the same way before they execute.
struct ReadOnlyGuard;

#[async_trait]
impl QueryHook for ReadOnlyGuard {
    async fn handle_simple_query(
        &self,
        statement: &Statement,
        ctx: &SessionContext,
        client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        if !allowed(statement) {
            return Some(Err(refused(statement)));
        }
        if !matches!(statement, Statement::Query(_) | Statement::Explain { .. }) {
            return None;
        }
        let sql = statement.to_string();
        let result = async {
            crate::check_read_only(&sql).map_err(|e| pg_error("ERROR", "25006", e.to_string()))?;
            let df = ctx
                .sql_with_options(&sql, ReadOnly::sql_options())
                .await
                .map_err(|e| pg_error("ERROR", "42000", e.to_string()))?;
            let format = Arc::new(FormatOptions::from_client_metadata(client.metadata()));
            let response = encode_dataframe(df, &Format::UnifiedText, Some(format)).await?;
            Ok(Response::Query(response))
        }
        .await;
        Some(result)
    }

    async fn handle_extended_parse_query(
        &self,
        statement: &Statement,
        _ctx: &SessionContext,
        _client: &(dyn ClientInfo + Send + Sync),
    ) -> Option<PgWireResult<LogicalPlan>> {
        (!allowed(statement)).then(|| Err(refused(statement)))
    }

    async fn handle_extended_query(
        &self,
        statement: &Statement,
        plan: &LogicalPlan,
        _params: &ParamValues,
        _ctx: &SessionContext,
        _client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        if !allowed(statement) {
            return Some(Err(refused(statement)));
        }
        ReadOnly::sql_options()
            .verify_plan(plan)
            .err()
            .map(|e| Err(pg_error("ERROR", "25006", e.to_string())))
    }
}

fn timeout_error() -> PgWireError {
    pg_error("ERROR", "57014", "canceling statement due to statement timeout")
}

/// Runs `f` under the deadline, turning a panic into an error for this query only.
async fn guarded<T>(deadline: Instant, f: impl Future<Output = PgWireResult<T>>) -> PgWireResult<T> {
    match tokio::time::timeout_at(deadline, AssertUnwindSafe(f).catch_unwind()).await {
        Err(_) => Err(timeout_error()),
        Ok(Err(_panic)) => Err(pg_error(
            "ERROR",
            "XX000",
            "internal error: the query engine failed on this query; the server goes on",
        )),
        Ok(Ok(r)) => r,
    }
}

/// Rows stream after the query handler returns: the same deadline and panic guard apply to
/// every row, and the stream ends at the first error.
fn guard_rows(response: &mut QueryResponse, deadline: Instant) {
    let rows = std::mem::replace(&mut response.data_rows, Box::pin(stream::empty()));
    let guarded = stream::unfold(Some(AssertUnwindSafe(rows).catch_unwind()), move |state| async move {
        let mut s = state?;
        match tokio::time::timeout_at(deadline, s.next()).await {
            Err(_) => Some((Err(timeout_error()), None)),
            Ok(Some(Err(_panic))) => Some((
                Err(pg_error(
                    "ERROR",
                    "XX000",
                    "internal error while reading rows; the server goes on",
                )),
                None,
            )),
            Ok(Some(Ok(row))) => Some((row, Some(s))),
            Ok(None) => None,
        }
    });
    response.data_rows = Box::pin(guarded);
}

/// Routes each connection's queries to the session of its user's role.
pub struct Router {
    analyst: Arc<DfSessionService>,
    officer: Arc<DfSessionService>,
    users: Arc<Users>,
    timeout: Duration,
    parser: Arc<RoleParser>,
}

/// The extended protocol's parser, per role.
pub struct RoleParser {
    analyst: Arc<Parser>,
    officer: Arc<Parser>,
    users: Arc<Users>,
}

impl Router {
    fn service<C: ClientInfo + ?Sized>(&self, client: &C) -> PgWireResult<Arc<DfSessionService>> {
        Ok(match self.users.role(client)? {
            Role::Analyst => self.analyst.clone(),
            Role::Officer => self.officer.clone(),
        })
    }
}

#[async_trait]
impl SimpleQueryHandler for Router {
    async fn do_query<C>(&self, client: &mut C, query: &str) -> PgWireResult<Vec<Response>>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore,
        C::Error: fmt::Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let service = self.service(client)?;
        let deadline = Instant::now() + self.timeout;
        let mut out = guarded(
            deadline,
            <DfSessionService as SimpleQueryHandler>::do_query(&service, client, query),
        )
        .await?;
        for r in &mut out {
            if let Response::Query(q) = r {
                guard_rows(q, deadline);
            }
        }
        Ok(out)
    }
}

#[async_trait]
impl ExtendedQueryHandler for Router {
    type Statement = DfStatement;
    type QueryParser = RoleParser;

    fn query_parser(&self) -> Arc<RoleParser> {
        self.parser.clone()
    }

    async fn do_query<C>(&self, client: &mut C, portal: &Portal<DfStatement>, max_rows: usize) -> PgWireResult<Response>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = DfStatement>,
        C::Error: fmt::Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let service = self.service(client)?;
        let deadline = Instant::now() + self.timeout;
        let mut r = guarded(
            deadline,
            <DfSessionService as ExtendedQueryHandler>::do_query(&service, client, portal, max_rows),
        )
        .await?;
        if let Response::Query(q) = &mut r {
            guard_rows(q, deadline);
        }
        Ok(r)
    }
}

#[async_trait]
impl QueryParser for RoleParser {
    type Statement = DfStatement;

    async fn parse_sql<C>(&self, client: &C, sql: &str, types: &[Option<Type>]) -> PgWireResult<Option<DfStatement>>
    where
        C: ClientInfo + Unpin + Send + Sync,
    {
        match self.users.role(client)? {
            Role::Analyst => self.analyst.parse_sql(client, sql, types).await,
            Role::Officer => self.officer.parse_sql(client, sql, types).await,
        }
    }

    fn get_parameter_types(&self, statement: &DfStatement) -> PgWireResult<Vec<Type>> {
        self.analyst.get_parameter_types(statement)
    }

    fn get_result_schema(&self, statement: &DfStatement, format: Option<&Format>) -> PgWireResult<Vec<FieldInfo>> {
        self.analyst.get_result_schema(statement, format)
    }
}

/// The handlers of one connection.
struct Connection {
    router: Arc<Router>,
    users: Arc<Users>,
    params: Arc<DefaultServerParameterProvider>,
    manager: Arc<ConnectionManager>,
}

impl PgWireServerHandlers for Connection {
    fn simple_query_handler(&self) -> Arc<impl SimpleQueryHandler> {
        self.router.clone()
    }

    fn extended_query_handler(&self) -> Arc<impl ExtendedQueryHandler> {
        self.router.clone()
    }

    fn startup_handler(&self) -> Arc<impl StartupHandler> {
        // A new handler per connection: it holds the SASL exchange's state.
        let mut scram = ScramAuth::new(self.users.clone());
        scram.set_iterations(SCRAM_ITERATIONS);
        Arc::new(
            SASLAuthStartupHandler::new(self.params.clone())
                .with_scram(scram)
                .with_connection_manager(self.manager.clone()),
        )
    }

    fn cancel_handler(&self) -> Arc<impl CancelHandler> {
        Arc::new(DefaultCancelHandler::new(self.manager.clone()))
    }
}

/// Answers a connection over the bound with PostgreSQL's "too many clients" error.
struct TooMany;

#[async_trait]
impl StartupHandler for TooMany {
    async fn on_startup<C>(&self, _client: &mut C, _message: PgWireFrontendMessage) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: fmt::Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        Err(pg_error(
            "FATAL",
            "53300",
            "sorry, too many clients already: custos serve's max_connections is reached",
        ))
    }
}

struct Refuse;

impl PgWireServerHandlers for Refuse {
    fn startup_handler(&self) -> Arc<impl StartupHandler> {
        Arc::new(TooMany)
    }
}

/// How the server runs.
pub struct ServeOptions {
    /// Most sessions at once.
    pub max_connections: usize,
    /// Longest a statement may run, planning and rows together.
    pub statement_timeout: Duration,
    /// How long open sessions get to finish at shutdown.
    pub grace: Duration,
}

fn service(ctx: SessionContext) -> crate::Result<Arc<DfSessionService>> {
    datafusion_postgres::datafusion_pg_catalog::setup_pg_catalog(
        &ctx,
        "custos",
        datafusion_postgres::datafusion_pg_catalog::pg_catalog::context::EmptyContextProvider,
    )
    .map_err(|e| crate::Error::Config(format!("pg_catalog: {e}")))?;
    let hooks: Vec<Arc<dyn QueryHook>> = vec![
        Arc::new(ReadOnlyGuard),
        Arc::new(CursorStatementHook),
        Arc::new(SetShowHook),
        Arc::new(TransactionStatementHook),
    ];
    Ok(Arc::new(DfSessionService::new_with_hooks(Arc::new(ctx), hooks)))
}

/// Serves until `stop` completes, then lets open sessions finish for `grace` and closes.
pub async fn serve(
    listener: TcpListener,
    analyst: SessionContext,
    officer: SessionContext,
    users: Users,
    options: ServeOptions,
    stop: impl Future<Output = ()>,
) -> crate::Result<()> {
    let users = Arc::new(users);
    let analyst = service(analyst)?;
    let officer = service(officer)?;
    let parser = Arc::new(RoleParser {
        analyst: <DfSessionService as ExtendedQueryHandler>::query_parser(&analyst),
        officer: <DfSessionService as ExtendedQueryHandler>::query_parser(&officer),
        users: users.clone(),
    });
    let router = Arc::new(Router {
        analyst,
        officer,
        users: users.clone(),
        timeout: options.statement_timeout,
        parser,
    });
    let mut params = DefaultServerParameterProvider::default();
    params.server_version = format!("16.6 (custos {})", env!("CARGO_PKG_VERSION"));
    let connection = Arc::new(Connection {
        router,
        users,
        params: Arc::new(params),
        manager: Arc::new(ConnectionManager::default()),
    });
    let slots = Arc::new(Semaphore::new(options.max_connections.max(1)));
    let mut tasks = JoinSet::new();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            _ = &mut stop => break,
            Some(done) = tasks.join_next(), if !tasks.is_empty() => {
                if let Err(e) = done && e.is_panic() {
                    eprintln!("custos serve: a session ended with an internal error; the server goes on");
                }
            }
            accepted = listener.accept() => {
                let Ok((socket, _peer)) = accepted else { continue };
                match slots.clone().try_acquire_owned() {
                    Ok(permit) => {
                        let handlers = connection.clone();
                        tasks.spawn(async move {
                            let _permit = permit;
                            let _ = pgwire::tokio::process_socket(socket, None, handlers).await;
                        });
                    }
                    Err(_) => {
                        tasks.spawn(async move {
                            let _ = tokio::time::timeout(
                                Duration::from_secs(5),
                                pgwire::tokio::process_socket(socket, None, Refuse),
                            )
                            .await;
                        });
                    }
                }
            }
        }
    }
    drop(listener);
    let _ = tokio::time::timeout(options.grace, async { while tasks.join_next().await.is_some() {} }).await;
    tasks.shutdown().await;
    Ok(())
}
