//! The tree in Postgres: the table `divisions` (one row per division) and the
//! one-row table `divisions_version`, both in the schema on the connections'
//! search path (created by the routing service's migration `1001_divisions.sql`).
//!
//! Writers ([`replace`], [`upsert`]) take an exclusive lock on `divisions` for their
//! transaction, so they run one at a time while readers keep reading the last
//! committed tree; every write bumps the version, which [`version`] reads cheaply so
//! a service can tell when to [`load`] again.

use futures::TryStreamExt;
use serde::Serialize;
use sqlx::{PgConnection, PgPool};

use crate::{Code, Division, Tier, Tree};

/// What an import wrote: the divisions given, by tier, and the version it committed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ImportStats {
    pub counties: u64,
    pub townships: u64,
    pub villages: u64,
    pub version: i64,
}

impl ImportStats {
    fn of(tree: &Tree, version: i64) -> ImportStats {
        let n = |t| tree.count(t) as u64;
        ImportStats {
            counties: n(Tier::County),
            townships: n(Tier::Township),
            villages: n(Tier::Village),
            version,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PgImportError {
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    /// A division whose parent is neither in the import nor stored; nothing was written.
    #[error("division {code}: its parent {parent} is neither in the import nor stored")]
    MissingParent { code: Code, parent: Code },
}

/// A stored row that is not a valid division.
#[derive(Debug, thiserror::Error)]
#[error("stored division {row:?}: {reason}")]
pub struct StoredRowError {
    pub row: String,
    pub reason: String,
}

/// The `tier` column: 1 county, 2 township, 3 village.
pub fn tier_number(t: Tier) -> i16 {
    match t {
        Tier::County => 1,
        Tier::Township => 2,
        Tier::Village => 3,
    }
}

/// Bytes of COPY data sent per message.
const COPY_CHUNK: usize = 1 << 20;
/// Rows per INSERT statement of [`upsert`].
const UPSERT_CHUNK: usize = 20_000;

/// Replaces the stored tree with `tree` in one transaction: deletes every row, loads
/// the tree with `COPY … FROM STDIN` and bumps the version. A tree with orphans (see
/// [`Tree::orphans`]) is refused with [`sqlx::Error::InvalidArgument`] before anything
/// is written.
pub async fn replace(pool: &PgPool, tree: &Tree) -> Result<ImportStats, sqlx::Error> {
    if let Some(d) = tree.orphans().next() {
        let parent = d.code.parent().map(String::from).unwrap_or_default();
        return Err(sqlx::Error::InvalidArgument(format!(
            "division {}: its parent {parent} is not in the tree",
            d.code
        )));
    }
    let mut tx = pool.begin().await?;
    lock(&mut tx).await?;
    sqlx::query("DELETE FROM divisions")
        .execute(&mut *tx)
        .await?;
    let copied = copy_in(&mut tx, tree).await?;
    if copied != tree.len() as u64 {
        return Err(sqlx::Error::Protocol(format!(
            "COPY wrote {copied} rows of {}",
            tree.len()
        )));
    }
    let version = bump(&mut tx).await?;
    tx.commit().await?;
    Ok(ImportStats::of(tree, version))
}

/// Adds the divisions of `tree` and renames those already stored, in one transaction,
/// and bumps the version. Parents missing from `tree` must be stored; otherwise
/// nothing is written and the first such division is reported.
pub async fn upsert(pool: &PgPool, tree: &Tree) -> Result<ImportStats, PgImportError> {
    let mut tx = pool.begin().await?;
    lock(&mut tx).await?;

    let mut outside: Vec<String> = tree
        .orphans()
        .filter_map(|d| d.code.parent().map(String::from))
        .collect();
    outside.sort_unstable();
    outside.dedup();
    if !outside.is_empty() {
        let missing: Option<String> = sqlx::query_scalar(
            "SELECT p FROM unnest($1::text[]) AS p \
             WHERE NOT EXISTS (SELECT 1 FROM divisions d WHERE d.code = p) \
             ORDER BY p LIMIT 1",
        )
        .bind(&outside)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(parent) = missing {
            // The transaction rolls back when dropped: nothing is written.
            let found = tree.orphans().find_map(|d| {
                let p = d.code.parent()?;
                (p.as_str() == parent).then(|| (d.code.clone(), p))
            });
            if let Some((code, parent)) = found {
                return Err(PgImportError::MissingParent { code, parent });
            }
            return Err(sqlx::Error::Protocol(format!(
                "parent {parent} reported missing but no division of the import has it"
            ))
            .into());
        }
    }

    for chunk in tree.divs.chunks(UPSERT_CHUNK) {
        let codes: Vec<&str> = chunk.iter().map(|d| d.code.as_str()).collect();
        let names: Vec<&str> = chunk.iter().map(|d| d.name.as_str()).collect();
        let tiers: Vec<i16> = chunk.iter().map(|d| tier_number(d.tier)).collect();
        let parents: Vec<Option<String>> = chunk
            .iter()
            .map(|d| d.code.parent().map(String::from))
            .collect();
        sqlx::query(
            "INSERT INTO divisions (code, name, tier, parent) \
             SELECT * FROM unnest($1::text[], $2::text[], $3::int2[], $4::text[]) \
             ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name \
             WHERE divisions.name IS DISTINCT FROM EXCLUDED.name",
        )
        .bind(&codes)
        .bind(&names)
        .bind(&tiers)
        .bind(&parents)
        .execute(&mut *tx)
        .await?;
    }
    let version = bump(&mut tx).await?;
    tx.commit().await?;
    Ok(ImportStats::of(tree, version))
}

/// The stored tree and its version, or None when no division is stored. Reads in one
/// snapshot, so the version matches the rows.
pub async fn load(pool: &PgPool) -> Result<Option<(Tree, i64)>, sqlx::Error> {
    let mut tx = pool
        .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .await?;
    let version = read_version(&mut tx).await?;
    let mut divs = Vec::new();
    {
        let mut stream = tx
            .copy_out_raw("COPY divisions (code, name) TO STDOUT")
            .await?;
        let mut pending: Vec<u8> = Vec::new();
        while let Some(chunk) = stream.try_next().await? {
            pending.extend_from_slice(&chunk);
            let mut start = 0;
            while let Some(n) = pending[start..].iter().position(|&b| b == b'\n') {
                divs.push(parse_copy_row(&pending[start..start + n])?);
                start += n + 1;
            }
            pending.drain(..start);
        }
        if !pending.is_empty() {
            divs.push(parse_copy_row(&pending)?);
        }
    }
    tx.commit().await?;
    if divs.is_empty() {
        return Ok(None);
    }
    Ok(Some((Tree::from_valid(divs), version)))
}

/// The stored version: 0 before the first import.
pub async fn version(pool: &PgPool) -> Result<i64, sqlx::Error> {
    let mut conn = pool.acquire().await?;
    read_version(&mut conn).await
}

async fn read_version(conn: &mut PgConnection) -> Result<i64, sqlx::Error> {
    let v: Option<i64> = sqlx::query_scalar("SELECT version FROM divisions_version WHERE id")
        .fetch_optional(&mut *conn)
        .await?;
    Ok(v.unwrap_or(0))
}

async fn lock(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
    sqlx::query("LOCK TABLE divisions IN EXCLUSIVE MODE")
        .execute(&mut *conn)
        .await?;
    Ok(())
}

async fn bump(conn: &mut PgConnection) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO divisions_version (id, version, imported_at) VALUES (TRUE, 1, now()) \
         ON CONFLICT (id) DO UPDATE \
         SET version = divisions_version.version + 1, imported_at = now() \
         RETURNING version",
    )
    .fetch_one(&mut *conn)
    .await
}

/// Streams the tree into `divisions` with `COPY … FROM STDIN` (text format); returns
/// the rows written.
async fn copy_in(conn: &mut PgConnection, tree: &Tree) -> Result<u64, sqlx::Error> {
    let mut copy = conn
        .copy_in_raw("COPY divisions (code, name, tier, parent) FROM STDIN")
        .await?;
    let mut buf = Vec::with_capacity(COPY_CHUNK + 1024);
    for d in tree.divisions() {
        push_copy_row(&mut buf, d);
        if buf.len() >= COPY_CHUNK {
            // On an error the dropped `copy` cancels the COPY.
            copy.send(buf.as_slice()).await?;
            buf.clear();
        }
    }
    if !buf.is_empty() {
        copy.send(buf.as_slice()).await?;
    }
    copy.finish().await
}

/// One line of COPY text data: code, name, tier, parent (`\N` for a county).
fn push_copy_row(buf: &mut Vec<u8>, d: &Division) {
    buf.extend_from_slice(d.code.as_str().as_bytes());
    buf.push(b'\t');
    push_copy_text(buf, &d.name);
    buf.push(b'\t');
    buf.extend_from_slice(tier_number(d.tier).to_string().as_bytes());
    buf.push(b'\t');
    match d.code.parent() {
        Some(p) => buf.extend_from_slice(p.as_str().as_bytes()),
        None => buf.extend_from_slice(b"\\N"),
    }
    buf.push(b'\n');
}

/// Appends `s` escaped for COPY's text format: backslash, tab, newline and carriage
/// return become `\\`, `\t`, `\n` and `\r`.
fn push_copy_text(buf: &mut Vec<u8>, s: &str) {
    for &b in s.as_bytes() {
        match b {
            b'\\' => buf.extend_from_slice(b"\\\\"),
            b'\t' => buf.extend_from_slice(b"\\t"),
            b'\n' => buf.extend_from_slice(b"\\n"),
            b'\r' => buf.extend_from_slice(b"\\r"),
            _ => buf.push(b),
        }
    }
}

/// Reads one line of `COPY divisions (code, name) TO STDOUT`.
fn parse_copy_row(line: &[u8]) -> Result<Division, sqlx::Error> {
    let bad = |reason: &str| {
        sqlx::Error::Decode(Box::new(StoredRowError {
            row: String::from_utf8_lossy(line).into_owned(),
            reason: reason.to_owned(),
        }))
    };
    let Some(tab) = line.iter().position(|&b| b == b'\t') else {
        return Err(bad("expected two columns"));
    };
    let code = Code::from_bytes(&line[..tab]).map_err(|e| bad(&e.to_string()))?;
    let name = unescape_copy_text(&line[tab + 1..]).ok_or_else(|| bad("name is not UTF-8"))?;
    Ok(Division {
        tier: code.tier(),
        code,
        name,
    })
}

/// Decodes a field of COPY's text format, or None when it is not UTF-8.
fn unescape_copy_text(field: &[u8]) -> Option<String> {
    if !field.contains(&b'\\') {
        return String::from_utf8(field.to_vec()).ok();
    }
    let mut out = Vec::with_capacity(field.len());
    let mut i = 0;
    while i < field.len() {
        let b = field[i];
        i += 1;
        if b != b'\\' {
            out.push(b);
            continue;
        }
        let Some(&e) = field.get(i) else {
            out.push(b'\\');
            break;
        };
        i += 1;
        match e {
            b'b' => out.push(0x08),
            b'f' => out.push(0x0c),
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'v' => out.push(0x0b),
            b'0'..=b'7' => {
                let mut v = u32::from(e - b'0');
                for _ in 0..2 {
                    match field.get(i) {
                        Some(&d @ b'0'..=b'7') => {
                            v = v * 8 + u32::from(d - b'0');
                            i += 1;
                        }
                        _ => break,
                    }
                }
                out.push((v & 0xff) as u8);
            }
            b'x' => {
                let mut v = 0u32;
                let mut n = 0;
                while n < 2 {
                    match field.get(i).and_then(|&d| char::from(d).to_digit(16)) {
                        Some(d) => {
                            v = v * 16 + d;
                            i += 1;
                            n += 1;
                        }
                        None => break,
                    }
                }
                if n == 0 {
                    out.push(b'x');
                } else {
                    out.push(v as u8);
                }
            }
            other => out.push(other),
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_text_round_trips() {
        for name in [
            "桐庐县",
            "a\tb",
            "a\nb\r",
            "back\\slash",
            "\\N",
            "trailing\\",
        ] {
            let mut buf = Vec::new();
            push_copy_text(&mut buf, name);
            assert!(!buf.contains(&b'\t') && !buf.contains(&b'\n'));
            assert_eq!(unescape_copy_text(&buf).as_deref(), Some(name));
        }
        assert_eq!(
            unescape_copy_text(b"\\101\\x42\\v").as_deref(),
            Some("AB\u{b}")
        );
    }

    #[test]
    fn copy_rows_have_four_columns() {
        let tree = Tree::fixture().expect("fixture");
        let mut buf = Vec::new();
        for d in tree.divisions().take(2) {
            push_copy_row(&mut buf, d);
        }
        let text = String::from_utf8(buf).expect("utf-8");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "330122\t桐庐县\t1\t\\N");
        assert_eq!(lines[1], "330122002\t旧县街道\t2\t330122");
        let d = parse_copy_row(b"330122002\t\\u65e7x\\t").expect("parses");
        assert_eq!(d.tier, Tier::Township);
        assert_eq!(d.name, "u65e7x\t");
    }
}
