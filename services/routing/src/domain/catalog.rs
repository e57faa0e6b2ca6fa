//! Reference data routing decides with: units and responsibility rules, as an
//! immutable snapshot (`store::catalog` reads it and reloads it when the catalog
//! version moves).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use xf_jurisdiction::Code;

/// What a unit is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnitKind {
    /// A government department (职能部门).
    Department,
    /// A township government office.
    TownshipOffice,
    /// A village (residents') committee.
    VillageCommittee,
    /// The discipline-inspection and supervision body (纪检监察).
    Discipline,
    /// The letters-and-visits office (信访办).
    Xfb,
}

impl UnitKind {
    pub const ALL: [UnitKind; 5] = [
        UnitKind::Department,
        UnitKind::TownshipOffice,
        UnitKind::VillageCommittee,
        UnitKind::Discipline,
        UnitKind::Xfb,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            UnitKind::Department => "department",
            UnitKind::TownshipOffice => "township_office",
            UnitKind::VillageCommittee => "village_committee",
            UnitKind::Discipline => "discipline",
            UnitKind::Xfb => "xfb",
        }
    }
    pub fn parse(s: &str) -> Option<UnitKind> {
        UnitKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// A handling unit.
#[derive(Debug, Clone, Serialize)]
pub struct Unit {
    pub id: String,
    pub version: i32,
    pub name: String,
    pub kind: UnitKind,
    pub jurisdiction_code: String,
    pub categories: Vec<String>,
    pub leader_in_charge: Option<String>,
    pub top_leader: Option<String>,
    pub active: bool,
    /// True for the implicit letters-and-visits office every division has.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub implicit: bool,
}

impl Unit {
    pub fn handles(&self, category: &str) -> bool {
        self.categories.iter().any(|c| c == category)
    }
}

/// The id of the implicit letters-and-visits office of a division.
pub fn office_unit_id(code: &str) -> String {
    xf_jurisdiction::office_id(code)
}

/// Flags a rule can require of a case.
pub const FLAGS: [&str; 4] = ["collective", "important", "superior", "accusation"];

/// The tier a rule hands a matter to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CompetentTier {
    /// Where the matter arose (属地).
    Place,
    Village,
    Township,
    County,
}

impl CompetentTier {
    pub const ALL: [CompetentTier; 4] = [
        CompetentTier::Place,
        CompetentTier::Village,
        CompetentTier::Township,
        CompetentTier::County,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            CompetentTier::Place => "place",
            CompetentTier::Village => "village",
            CompetentTier::Township => "township",
            CompetentTier::County => "county",
        }
    }
    pub fn parse(s: &str) -> Option<CompetentTier> {
        CompetentTier::ALL.into_iter().find(|t| t.as_str() == s)
    }
    /// Code length of the tier (None for `place`).
    pub fn code_len(self) -> Option<usize> {
        match self {
            CompetentTier::Place => None,
            CompetentTier::Village => Some(12),
            CompetentTier::Township => Some(9),
            CompetentTier::County => Some(6),
        }
    }
}

/// One version of a responsibility rule.
#[derive(Debug, Clone, Serialize)]
pub struct Rule {
    pub id: String,
    pub version: i32,
    pub category: Option<String>,
    pub jurisdiction_code: Option<String>,
    pub flags: Vec<String>,
    pub competent_tier: CompetentTier,
    pub lead_unit_id: Option<String>,
    pub lead_unit_kind: Option<UnitKind>,
    pub assisting_unit_ids: Vec<String>,
    pub note: String,
    pub effective_from: DateTime<Utc>,
    pub effective_to: Option<DateTime<Utc>>,
}

impl Rule {
    /// How specific the rule is: a longer jurisdiction code first, then a named
    /// category, then more required flags. The most specific matching rule wins.
    pub fn specificity(&self) -> (usize, bool, usize) {
        (
            self.jurisdiction_code.as_ref().map_or(0, String::len),
            self.category.is_some(),
            self.flags.len(),
        )
    }
    pub fn in_force(&self, at: DateTime<Utc>) -> bool {
        self.effective_from <= at && self.effective_to.is_none_or(|to| at < to)
    }
    /// True when both versions can be in force at the same moment.
    pub fn periods_overlap(&self, other: &Rule) -> bool {
        let a_end = self.effective_to.unwrap_or(DateTime::<Utc>::MAX_UTC);
        let b_end = other.effective_to.unwrap_or(DateTime::<Utc>::MAX_UTC);
        self.effective_from < b_end && other.effective_from < a_end
    }
    /// True when a case could match both rules with equal specificity, so that
    /// neither would win: such a pair is refused when saved.
    pub fn ambiguous_with(&self, other: &Rule) -> bool {
        self.id != other.id
            && self.category == other.category
            && self.jurisdiction_code == other.jurisdiction_code
            && self.flags.len() == other.flags.len()
            && self.periods_overlap(other)
    }
}

/// An immutable snapshot of units and rules.
#[derive(Debug, Default)]
pub struct Catalog {
    pub version: i64,
    pub units: HashMap<String, Unit>,
    /// Active units per (jurisdiction code, kind), sorted by id.
    by_place: HashMap<(String, UnitKind), Vec<String>>,
    /// Every version of every rule, most specific first.
    pub rules: Vec<Rule>,
    /// Indexes into `rules` by the rule's jurisdiction code ("" for anywhere).
    rules_by_place: HashMap<String, Vec<usize>>,
}

impl Catalog {
    pub fn new(version: i64, units: Vec<Unit>, mut rules: Vec<Rule>) -> Catalog {
        let mut by_place: HashMap<(String, UnitKind), Vec<String>> = HashMap::new();
        for u in units.iter().filter(|u| u.active) {
            by_place
                .entry((u.jurisdiction_code.clone(), u.kind))
                .or_default()
                .push(u.id.clone());
        }
        for v in by_place.values_mut() {
            v.sort();
        }
        rules.sort_by(|a, b| {
            b.specificity()
                .cmp(&a.specificity())
                .then_with(|| a.id.cmp(&b.id))
                .then_with(|| b.version.cmp(&a.version))
        });
        let mut rules_by_place: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, r) in rules.iter().enumerate() {
            rules_by_place
                .entry(r.jurisdiction_code.clone().unwrap_or_default())
                .or_default()
                .push(i);
        }
        Catalog {
            version,
            units: units.into_iter().map(|u| (u.id.clone(), u)).collect(),
            by_place,
            rules,
            rules_by_place,
        }
    }

    /// The rules whose jurisdiction covers `place` (or that apply anywhere), most
    /// specific first: only the place's own chain is looked at, so the cost does not
    /// grow with the number of rules elsewhere in the country.
    pub fn rules_for<'a>(&'a self, place: &Code) -> impl Iterator<Item = &'a Rule> + use<'a> {
        let mut idx: Vec<usize> = place
            .chain()
            .iter()
            .map(|c| c.as_str().to_owned())
            .chain(std::iter::once(String::new()))
            .filter_map(|k| self.rules_by_place.get(&k))
            .flatten()
            .copied()
            .collect();
        idx.sort_unstable();
        idx.into_iter().filter_map(|i| self.rules.get(i))
    }

    /// Active units of a kind at a division.
    pub fn units_at<'a>(
        &'a self,
        code: &str,
        kind: UnitKind,
    ) -> impl Iterator<Item = &'a Unit> + use<'a> {
        self.by_place
            .get(&(code.to_owned(), kind))
            .into_iter()
            .flatten()
            .filter_map(|id| self.units.get(id))
    }

    /// A unit by id, including the implicit letters-and-visits office of a division.
    pub fn unit(
        &self,
        id: &str,
        division_name: impl FnOnce(&str) -> Option<String>,
    ) -> Option<Unit> {
        if let Some(u) = self.units.get(id) {
            return Some(u.clone());
        }
        let code = xf_jurisdiction::office_code(id)?;
        let name = division_name(code)?;
        Some(implicit_office(code, &name))
    }
}

/// The implicit letters-and-visits office of a division.
pub fn implicit_office(code: &str, division_name: &str) -> Unit {
    let name = if code.len() == 12 {
        format!("{division_name}信访代办点")
    } else {
        format!("{division_name}信访办")
    };
    Unit {
        id: office_unit_id(code),
        version: 0,
        name,
        kind: UnitKind::Xfb,
        jurisdiction_code: code.to_owned(),
        categories: Vec::new(),
        leader_in_charge: None,
        top_leader: None,
        active: true,
        implicit: true,
    }
}
