//! Templates (minijinja, HTML auto-escaped) and the text catalogue: every text a page
//! shows comes from `i18n/<lang>.toml`, so another language is one more file.

use std::collections::BTreeMap;
use std::sync::Arc;

use minijinja::{Environment, Value as JValue};

/// The catalogue shipped with the console: Chinese first.
pub const ZH_CN: &str = include_str!("../i18n/zh-CN.toml");

macro_rules! templates {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_str!(concat!("../templates/", $name)))),*]
    };
}

const TEMPLATES: &[(&str, &str)] = templates!(
    "base.html",
    "macros.html",
    "home.html",
    "signin.html",
    "lookup.html",
    "submit.html",
    "desk.html",
    "receipt.html",
    "work.html",
    "case.html",
    "monitor.html",
    "dashboard.html",
    "calendar.html",
    "offices.html",
    "error.html",
);

/// A flat catalogue: `section.key` → text.
#[derive(Debug, Clone, Default)]
pub struct Catalogue(BTreeMap<String, String>);

impl Catalogue {
    pub fn parse(toml_text: &str) -> anyhow::Result<Catalogue> {
        let v: toml::Table = toml::from_str(toml_text)?;
        let mut out = BTreeMap::new();
        fn walk(prefix: &str, t: &toml::Table, out: &mut BTreeMap<String, String>) {
            for (k, v) in t {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                match v {
                    toml::Value::Table(t) => walk(&key, t, out),
                    toml::Value::String(s) => {
                        out.insert(key, s.clone());
                    }
                    other => {
                        out.insert(key, other.to_string());
                    }
                }
            }
        }
        walk("", &v, &mut out);
        Ok(Catalogue(out))
    }

    /// The text of `key`; the key itself when the catalogue lacks it (visible, not hidden).
    pub fn t(&self, key: &str) -> String {
        self.0.get(key).cloned().unwrap_or_else(|| key.to_owned())
    }

    pub fn has(&self, key: &str) -> bool {
        self.0.contains_key(key)
    }

    pub fn keys(&self) -> impl Iterator<Item = &String> {
        self.0.keys()
    }
}

#[derive(Clone)]
pub struct Ui {
    env: Arc<Environment<'static>>,
    pub cat: Arc<Catalogue>,
}

impl Ui {
    pub fn new(cat: Catalogue) -> anyhow::Result<Ui> {
        let cat = Arc::new(cat);
        let mut env = Environment::new();
        for (name, src) in TEMPLATES {
            env.add_template(name, src)?;
        }
        let c = cat.clone();
        env.add_function("t", move |key: String| -> String { c.t(&key) });
        let c = cat.clone();
        // t2("status", value): the label of a code, or the code when unknown.
        env.add_function("t2", move |section: String, code: JValue| -> String {
            let code = code
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| code.to_string());
            let key = format!("{section}.{code}");
            if c.has(&key) { c.t(&key) } else { code }
        });
        env.add_filter("day", |v: JValue| -> String {
            // 2026-12-03T08:00:00Z → 2026-12-03 (Beijing time).
            v.as_str()
                .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
                .map(|d| {
                    d.with_timezone(&chrono_tz::Asia::Shanghai)
                        .format("%Y-%m-%d")
                        .to_string()
                })
                .or_else(|| v.as_str().map(|s| s.chars().take(10).collect()))
                .unwrap_or_default()
        });
        env.add_filter("when", |v: JValue| -> String {
            v.as_str()
                .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
                .map(|d| {
                    d.with_timezone(&chrono_tz::Asia::Shanghai)
                        .format("%Y-%m-%d %H:%M")
                        .to_string()
                })
                .unwrap_or_else(|| v.as_str().unwrap_or_default().to_owned())
        });
        env.add_filter("tojson_attr", |v: JValue| -> String {
            serde_json::to_string(&v).unwrap_or_default()
        });
        Ok(Ui {
            env: Arc::new(env),
            cat,
        })
    }

    pub fn render(&self, name: &str, ctx: JValue) -> Result<String, minijinja::Error> {
        self.env.get_template(name)?.render(ctx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_compiles_and_every_text_it_names_is_in_the_catalogue() {
        let cat = Catalogue::parse(ZH_CN).expect("catalogue");
        let ui = Ui::new(cat.clone()).expect("templates compile");
        let mut missing = Vec::new();
        for (name, src) in TEMPLATES {
            for quote in ['"', '\''] {
                let open = format!("t({quote}");
                for part in src.split(open.as_str()).skip(1) {
                    let key = part.split(quote).next().unwrap_or("");
                    // Keys built in the template ("queue." ~ q.key) end in a dot; `default('')` is no key.
                    if !key.is_empty() && !key.ends_with('.') && !cat.has(key) {
                        missing.push(format!("{name}: {key}"));
                    }
                }
            }
        }
        assert!(
            missing.is_empty(),
            "texts missing from zh-CN.toml: {missing:?}"
        );
        for k in [
            "queue.new",
            "queue.overdue",
            "action.not_accept",
            "done.reply",
            "light.amber",
        ] {
            assert!(cat.has(k), "{k}");
        }
        let page = ui
            .render(
                "error.html",
                minijinja::Value::from_serialize(serde_json::json!({
                    "title": "x", "message": "<b>m</b>", "nav": [], "csrf": "c"
                })),
            )
            .expect("renders");
        assert!(
            page.contains("&lt;b&gt;m") && !page.contains("<b>m"),
            "text is escaped: {page}"
        );
        assert!(page.contains("lang=\"zh-CN\""));
    }
}
