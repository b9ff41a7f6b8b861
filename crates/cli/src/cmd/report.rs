//! `custos report <kind> --period P`: render one report into a folder, validated, without
//! filing it. `custos file` uses the same rendering and records what it sends.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use chrono::NaiveDate;
use clap::Args;
use custos_model::Period;
use custos_report::{Kind, Original, Rendered, Reports};
use custos_warehouse::Warehouse;

use super::Context;
use crate::exit::Exit;

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// goaml-str, goaml-ctr, pboc-hvtr, officer-summary, alerts-csv or cases-csv.
    pub kind: String,
    /// The period: 2024-03-05, 2024-03, 2024-Q1, 2024, or 2024-03-01..2024-03-10.
    #[arg(long)]
    pub period: Period,
    /// Date printed as the filing date (default: today). Fix it to reproduce a report
    /// byte for byte.
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub as_of: Option<NaiveDate>,
    /// Folder to write into (created if missing).
    #[arg(long, default_value = "reports-out", value_name = "DIR")]
    pub out: PathBuf,
    /// Templates, report SQL and schemas.
    #[arg(long, default_value = "reports", value_name = "DIR")]
    pub reports: PathBuf,
    /// Rule packs (for rule titles).
    #[arg(long, default_value = "queries", value_name = "DIR")]
    pub queries: PathBuf,
}

/// What `render` needs besides the kind and period.
pub struct RenderInput<'a> {
    pub reports: &'a Path,
    pub queries: &'a Path,
    pub as_of: NaiveDate,
    pub filing_id: String,
    pub filed_cases: Vec<String>,
    pub correction: Option<Original>,
}

/// Renders one report over the warehouse as committed now.
pub fn render(
    ctx: &Context,
    wh: &Warehouse,
    kind: Kind,
    period: Period,
    input: RenderInput<'_>,
) -> anyhow::Result<Rendered> {
    let reports = Reports::load(input.reports)?;
    let titles = custos_rules::RuleSet::load(input.queries)
        .map(|set| {
            set.rules
                .iter()
                .map(|r| (r.id().to_string(), r.meta.title.clone()))
                .collect()
        })
        .unwrap_or_default();
    let entity = ctx
        .config
        .filing
        .entity
        .clone()
        .unwrap_or_else(|| custos_report::Entity {
            name: "(reporting entity not configured)".into(),
            code: "UNCONFIGURED".into(),
            ..Default::default()
        });
    let needs_entity = matches!(kind, Kind::GoamlStr | Kind::GoamlCtr | Kind::PbocHvtr);
    anyhow::ensure!(
        !needs_entity || ctx.config.filing.entity.is_some(),
        "{kind} names the reporting entity: set [filing.entity] in custos.toml (see custos.example.toml)"
    );
    let fiu = match (&ctx.config.filing.goaml.fiu, kind) {
        (Some(name), Kind::GoamlStr | Kind::GoamlCtr) => Some(custos_report::FiuProfile::load(input.reports, name)?),
        (None, Kind::GoamlStr | Kind::GoamlCtr) => {
            anyhow::bail!(
                "{kind} needs [filing.goaml] fiu, a profile under {}/goaml/fiu/",
                input.reports.display()
            )
        }
        _ => None,
    };
    let options = ctx.session_options()?;
    let rt = super::runtime()?;
    let rendered = rt.block_on(async {
        let session = wh.session(&options).await?;
        let req = custos_report::Request {
            kind,
            period,
            as_of: input.as_of,
            filing_id: input.filing_id.clone(),
            entity: &entity,
            fiu: fiu.as_ref(),
            goaml_schema: ctx.config.filing.goaml.schema.as_deref(),
            settings: wh.settings(),
            rule_titles: titles,
            catalog_version: wh.catalog().version(),
            filed_cases: input.filed_cases.clone(),
            correction: input.correction.clone(),
        };
        anyhow::Ok(custos_report::render(&reports, &session, &req).await?)
    })?;
    Ok(rendered)
}

pub fn run(ctx: &Context, args: ReportArgs) -> anyhow::Result<Exit> {
    let kind: Kind = args.kind.parse()?;
    let wh = Warehouse::open(&ctx.warehouse)?;
    let as_of = args.as_of.unwrap_or_else(|| chrono::Utc::now().date_naive());
    let ledger = custos_filing::Ledger::open(&ctx.warehouse.join("filings"))?;
    let filed_cases = super::file::filed_cases(&ledger)?;
    let rendered = render(
        ctx,
        &wh,
        kind,
        args.period,
        RenderInput {
            reports: &args.reports,
            queries: &args.queries,
            as_of,
            filing_id: format!("DRAFT-{}-{}", kind.id_prefix(), args.period),
            filed_cases,
            correction: None,
        },
    )?;
    std::fs::create_dir_all(&args.out).with_context(|| format!("creating {}", args.out.display()))?;
    for (name, bytes) in &rendered.files {
        let path = args.out.join(name);
        std::fs::write(&path, bytes).with_context(|| format!("writing {}", path.display()))?;
        println!("{}", path.display());
    }
    println!("{kind} {}: {} (validated; not filed)", args.period, rendered.summary);
    print_warnings(&rendered.warnings);
    Ok(Exit::Ok)
}

pub fn print_warnings(warnings: &[String]) {
    if warnings.is_empty() {
        return;
    }
    println!("review before filing ({}):", warnings.len());
    for w in warnings.iter().take(20) {
        println!("  - {w}");
    }
    if warnings.len() > 20 {
        println!(
            "  ... and {} more (all are kept in the filing manifest)",
            warnings.len() - 20
        );
    }
}
