//! Where a request lies: `address_id` (a jurisdiction code) or `address_string` (text
//! naming a township or a village of the tree). Coordinates are not mapped: the
//! division tree carries no boundaries or centroids.

use xf_jurisdiction::{Code, Division, Tier, Tree};

use super::render::Fail;

/// Suffixes of village committee names that people leave out when they write a place.
/// 社区居民委员会 loses only 居民委员会: 三合社区 stays a name, 三合 alone is too loose.
const SUFFIXES: &[&str] = &["村民委员会", "居民委员会", "村委会", "居委会"];

pub const NO_COORDINATES: &str = "lat/long are not mapped here; send address_id or address_string";

/// The name without committee suffixes: 旧县村村委会 → 旧县村, 三合社区居委会 → 三合社区.
pub fn plain_name(name: &str) -> &str {
    let mut n = name.trim();
    loop {
        let before = n.len();
        for s in SUFFIXES {
            if let Some(rest) = n.strip_suffix(s)
                && rest.chars().count() >= 2
            {
                n = rest;
            }
        }
        if n.len() == before {
            return n;
        }
    }
}

/// The full name of a division: county, township, village.
pub fn full_name(tree: &Tree, code: &Code) -> String {
    code.chain()
        .iter()
        .rev()
        .filter_map(|c| tree.get(c).map(|d| d.name.as_str()))
        .collect()
}

struct Hit<'a> {
    division: &'a Division,
    key: &'a str,
}

/// Finds the township or village an address names. The longest name found wins; a
/// village is preferred to its township; two different places with equally good names
/// are ambiguous.
pub fn match_address(tree: &Tree, text: &str) -> Result<Code, String> {
    let text: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    if text.is_empty() {
        return Err("address_string: is empty".into());
    }
    let mut hits: Vec<Hit> = Vec::new();
    for tier in [Tier::Township, Tier::Village] {
        for d in tree.of_tier(tier) {
            let plain = plain_name(&d.name);
            let key = if text.contains(d.name.as_str()) {
                d.name.as_str()
            } else if plain.chars().count() >= 2 && text.contains(plain) {
                plain
            } else {
                continue;
            };
            hits.push(Hit { division: d, key });
        }
    }
    // A name inside a longer name found in the text is not a separate place
    // (百岁村 inside 百岁坊村 would not be, but 旧县 inside 旧县村 would).
    let keys: Vec<&str> = hits.iter().map(|h| h.key).collect();
    hits.retain(|h| {
        !keys
            .iter()
            .any(|k| k.len() > h.key.len() && k.contains(h.key))
    });
    let townships: Vec<&Division> = hits
        .iter()
        .filter(|h| h.division.tier == Tier::Township)
        .map(|h| h.division)
        .collect();
    let mut villages: Vec<&Hit> = hits
        .iter()
        .filter(|h| h.division.tier == Tier::Village)
        .collect();
    // A township named beside villages narrows them to its own.
    if !townships.is_empty() {
        let inside: Vec<&Hit> = villages
            .iter()
            .copied()
            .filter(|h| townships.iter().any(|t| t.code.covers(&h.division.code)))
            .collect();
        if !inside.is_empty() {
            villages = inside;
        }
    }
    let pick = |candidates: Vec<(&Division, usize)>| -> Result<Code, String> {
        let best = candidates.iter().map(|c| c.1).max().unwrap_or(0);
        let mut top: Vec<&Division> = candidates
            .iter()
            .filter(|c| c.1 == best)
            .map(|c| c.0)
            .collect();
        top.sort_by(|a, b| a.code.cmp(&b.code));
        top.dedup_by(|a, b| a.code == b.code);
        match top.as_slice() {
            [one] => Ok(one.code.clone()),
            many => Err(format!(
                "address_string: is ambiguous ({}); send address_id",
                many.iter()
                    .take(5)
                    .map(|d| format!("{} {}", d.code, full_name(tree, &d.code)))
                    .collect::<Vec<_>>()
                    .join("; ")
            )),
        }
    };
    if !villages.is_empty() {
        return pick(
            villages
                .iter()
                .map(|h| (h.division, h.key.chars().count()))
                .collect(),
        );
    }
    if !townships.is_empty() {
        return pick(
            townships
                .iter()
                .map(|d| (*d, d.name.chars().count()))
                .collect(),
        );
    }
    Err("address_string: names no township or village served here; send address_id".into())
}

/// The jurisdiction code of a request from its location fields.
pub fn locate(
    tree: &Tree,
    address_id: Option<&str>,
    address_string: Option<&str>,
    has_coordinates: bool,
) -> Result<Code, Fail> {
    if let Some(id) = address_id {
        return match Code::parse(id) {
            Ok(c) if tree.contains(&c) => Ok(c),
            Ok(_) => Err(Fail::bad_request(
                "address_id: is not a known jurisdiction code",
            )),
            Err(e) => Err(Fail::bad_request(format!("address_id: {e}"))),
        };
    }
    if let Some(text) = address_string {
        return match_address(tree, text).map_err(Fail::bad_request);
    }
    if has_coordinates {
        return Err(Fail::bad_request(NO_COORDINATES));
    }
    Err(Fail::bad_request(
        "address_id or address_string is required (lat/long are not mapped here)",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree() -> Tree {
        Tree::fixture().expect("fixture")
    }

    #[test]
    fn strips_committee_suffixes() {
        assert_eq!(plain_name("旧县村村委会"), "旧县村");
        assert_eq!(plain_name("沈冠村村委会村委会"), "沈冠村");
        assert_eq!(plain_name("三合社区"), "三合社区");
        assert_eq!(plain_name("三合社区居民委员会"), "三合社区");
    }

    #[test]
    fn matches_villages_and_townships() {
        let t = tree();
        let m = |s: &str| match_address(&t, s).map(|c| c.to_string());
        assert_eq!(m("桐庐县旧县街道旧县村3组"), Ok("330122002200".into()));
        assert_eq!(m("旧县村村委会门口"), Ok("330122002200".into()));
        assert_eq!(m("旧县街道办事处"), Ok("330122002".into()));
        assert!(m("百岁坊村").is_ok());
        assert_eq!(m("百岁坊村"), Ok(m("百岁坊村村委会").expect("found")));
        assert!(m("北京市朝阳区建国路").is_err_and(|e| e.starts_with("address_string")));
        assert!(m("   ").is_err());
        assert_eq!(
            full_name(&t, &Code::parse("330122002200").expect("code")),
            "桐庐县旧县街道旧县村村委会"
        );
    }

    #[test]
    fn locates_by_code_or_refuses_coordinates() {
        let t = tree();
        assert_eq!(
            locate(&t, Some("330122002"), None, false).map(|c| c.to_string()),
            Ok("330122002".into())
        );
        assert!(locate(&t, Some("110101"), None, false).is_err());
        assert!(locate(&t, Some("abc"), None, false).is_err());
        let e = locate(&t, None, None, true).expect_err("no mapping");
        assert_eq!(e.descriptions, vec![NO_COORDINATES.to_owned()]);
        assert!(locate(&t, None, None, false).is_err());
    }
}
