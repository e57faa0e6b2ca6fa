//! Open311 API clients: who may post requests, and for which office.

use std::collections::HashMap;
use std::sync::Arc;

use sha2::{Digest, Sha256};
use xf_jurisdiction::Code;

/// The shortest API key accepted.
pub const KEY_MIN: usize = 16;

/// One API client: a 311 app or portal that registers requests for an office.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    /// The office whose register numbers its requests (and bounds where they may lie).
    pub office: Code,
    /// Shown as the registrar: `open311:<name>`.
    pub name: String,
}

/// The API clients, looked up by a hash of the key (the keys themselves are not kept).
#[derive(Debug, Clone, Default)]
pub struct Clients {
    by_key: Arc<HashMap<[u8; 32], Client>>,
}

fn digest(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

impl Clients {
    /// The clients as the audit trail keeps them: name and office, sorted; no keys.
    pub fn listing(&self) -> serde_json::Value {
        let mut all: Vec<(&str, String)> = self
            .by_key
            .values()
            .map(|c| (c.name.as_str(), c.office.to_string()))
            .collect();
        all.sort();
        serde_json::Value::Array(
            all.into_iter()
                .map(|(name, office)| serde_json::json!({"name": name, "office": office}))
                .collect(),
        )
    }

    /// Reads the key file; an empty path means no clients. Errors name the line.
    pub fn from_file(path: &str) -> Result<Clients, String> {
        let path = path.trim();
        if path.is_empty() {
            return Ok(Clients::default());
        }
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))?;
        Clients::parse(&text)
    }

    /// Parses `<api_key>\t<office_code>\t<client name>` lines; `#` starts a comment.
    pub fn parse(text: &str) -> Result<Clients, String> {
        let mut by_key = HashMap::new();
        let mut names = std::collections::HashSet::new();
        for (i, raw) in text.lines().enumerate() {
            let line_no = i + 1;
            let line = raw.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let fields: Vec<&str> = line.split('\t').map(str::trim).collect();
            let [key, office, name] = fields[..] else {
                return Err(format!(
                    "line {line_no}: expected <api_key>TAB<office_code>TAB<client name>"
                ));
            };
            if key.len() < KEY_MIN || key.len() > 200 || !key.bytes().all(|b| b.is_ascii_graphic())
            {
                return Err(format!(
                    "line {line_no}: the api_key must be {KEY_MIN} to 200 visible ASCII characters"
                ));
            }
            let office =
                Code::parse(office).map_err(|e| format!("line {line_no}: office code: {e}"))?;
            if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
                return Err(format!(
                    "line {line_no}: the client name must be 1 to 100 characters"
                ));
            }
            if !names.insert(name.to_owned()) {
                return Err(format!("line {line_no}: client name {name} appears twice"));
            }
            let client = Client {
                office,
                name: name.to_owned(),
            };
            if by_key.insert(digest(key), client).is_some() {
                return Err(format!("line {line_no}: this api_key appears twice"));
            }
        }
        Ok(Clients {
            by_key: Arc::new(by_key),
        })
    }

    /// The client holding this key.
    pub fn get(&self, key: &str) -> Option<&Client> {
        if key.is_empty() {
            return None;
        }
        self.by_key.get(&digest(key))
    }

    pub fn len(&self) -> usize {
        self.by_key.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_clients_and_refuses_bad_lines() {
        let c = Clients::parse(
            "# key\toffice\tname\n\nabcdefghijklmnop1234\t330122\t桐庐随手拍 # app\n",
        )
        .expect("parses");
        assert_eq!(c.len(), 1);
        let got = c.get("abcdefghijklmnop1234").expect("client");
        assert_eq!(got.office.as_str(), "330122");
        assert_eq!(got.name, "桐庐随手拍");
        assert!(c.get("abcdefghijklmnop1235").is_none());
        assert!(c.get("").is_none());
        for bad in [
            "short\t330122\tapp",
            "abcdefghijklmnop1234\t3301\tapp",
            "abcdefghijklmnop1234\t330122",
            "abcdefghijklmnop1234\t330122\t",
            "abcdefghijklmnop1234\t330122\ta\nabcdefghijklmnop1234\t330122\tb",
        ] {
            assert!(Clients::parse(bad).is_err(), "{bad}");
        }
        assert!(Clients::from_file("").expect("empty path").is_empty());
        assert!(Clients::from_file("/nonexistent/keys.txt").is_err());
    }
}
