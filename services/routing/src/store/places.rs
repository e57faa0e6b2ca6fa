//! The jurisdiction tree routing decides with: kept in routing's schema (imported by
//! command or admin endpoint), cached in memory, reloaded when another replica
//! imported a newer version.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock};

use sqlx::PgPool;
use xf_jurisdiction::{Code, Tree, TreeSettings, pg};

pub struct Places {
    tree: RwLock<Arc<Tree>>,
    version: AtomicI64,
}

impl Places {
    /// Loads the stored tree; an empty table is first filled from the configured
    /// folder (or the shipped fixture county).
    pub async fn open(pool: &PgPool, settings: &TreeSettings) -> anyhow::Result<Places> {
        if let Some((tree, version)) = pg::load(pool).await? {
            return Ok(Places::new(tree, version));
        }
        let tree = settings.load()?;
        let stats = pg::replace(pool, &tree).await?;
        tracing::info!(
            counties = stats.counties,
            townships = stats.townships,
            villages = stats.villages,
            "jurisdiction tree stored"
        );
        Ok(Places::new(tree, stats.version))
    }

    pub fn new(tree: Tree, version: i64) -> Places {
        Places {
            tree: RwLock::new(Arc::new(tree)),
            version: AtomicI64::new(version),
        }
    }

    pub fn get(&self) -> Arc<Tree> {
        match self.tree.read() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    pub fn version(&self) -> i64 {
        self.version.load(Ordering::SeqCst)
    }

    pub fn set(&self, tree: Tree, version: i64) {
        let t = Arc::new(tree);
        match self.tree.write() {
            Ok(mut g) => *g = t,
            Err(p) => *p.into_inner() = t,
        }
        self.version.store(version, Ordering::SeqCst);
    }

    /// The tree holding `code`, reloading once from the database when the cached one
    /// lacks it and a newer version is stored.
    pub async fn with(&self, pool: &PgPool, code: &Code) -> Result<Arc<Tree>, sqlx::Error> {
        let t = self.get();
        if t.contains(code) {
            return Ok(t);
        }
        if pg::version(pool).await? != self.version()
            && let Some((tree, v)) = pg::load(pool).await?
        {
            self.set(tree, v);
        }
        Ok(self.get())
    }
}
