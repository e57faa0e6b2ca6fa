//! The API reference (`docs/reference/<service>.md`) is generated from each running
//! service's `/openapi.json`: every operation with its parameters, its body's fields
//! (type, required, description) and its answers. This test regenerates it and fails
//! when the committed files differ; `XINFANG_WRITE_REFERENCE=1` rewrites them.

use std::fmt::Write as _;
use std::path::Path;

use serde_json::Value;
use xf_testkit::Ctx;

fn resolve<'a>(doc: &'a Value, v: &'a Value) -> &'a Value {
    match v["$ref"].as_str() {
        Some(r) => {
            let name = r.rsplit('/').next().unwrap_or("");
            &doc["components"]["schemas"][name]
        }
        None => v,
    }
}

fn type_of(doc: &Value, v: &Value) -> String {
    if let Some(r) = v["$ref"].as_str() {
        return r.rsplit('/').next().unwrap_or("object").to_owned();
    }
    let v = resolve(doc, v);
    if let Some(one) = v["oneOf"].as_array().or(v["anyOf"].as_array()) {
        let parts: Vec<String> = one
            .iter()
            .map(|x| type_of(doc, x))
            .filter(|t| t != "null")
            .collect();
        return parts.join(" | ");
    }
    if let Some(e) = v["enum"].as_array() {
        let vals: Vec<String> = e
            .iter()
            .filter_map(|x| x.as_str().map(|s| format!("`{s}`")))
            .collect();
        if !vals.is_empty() {
            return vals.join(" \\| ");
        }
    }
    let t = match &v["type"] {
        Value::String(s) => s.clone(),
        Value::Array(a) => a
            .iter()
            .filter_map(Value::as_str)
            .filter(|s| *s != "null")
            .collect::<Vec<_>>()
            .join(" | "),
        _ => "any".to_owned(),
    };
    if t == "array" {
        return format!("{}[]", type_of(doc, &v["items"]));
    }
    match v["format"].as_str() {
        Some(f) => format!("{t} ({f})"),
        None => t,
    }
}

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// The fields of a body schema, nested objects by dotted path.
fn fields(doc: &Value, schema: &Value, prefix: &str, out: &mut String, depth: usize) {
    let s = resolve(doc, schema);
    let required: Vec<&str> = s["required"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    for (name, prop) in s["properties"].as_object().into_iter().flatten() {
        let path = format!("{prefix}{name}");
        let desc = resolve(doc, prop)["description"]
            .as_str()
            .or(prop["description"].as_str())
            .unwrap_or("");
        let _ = writeln!(
            out,
            "| `{path}` | {} | {} | {} |",
            cell(&type_of(doc, prop)),
            if required.contains(&name.as_str()) {
                "yes"
            } else {
                ""
            },
            cell(desc)
        );
        let inner = resolve(doc, prop);
        if depth < 3 && inner["properties"].is_object() {
            fields(doc, inner, &format!("{path}."), out, depth + 1);
        }
        if depth < 3 && inner["type"] == "array" {
            let item = resolve(doc, &inner["items"]);
            if item["properties"].is_object() {
                fields(doc, item, &format!("{path}[]."), out, depth + 1);
            }
        }
    }
}

fn render(service: &str, doc: &Value) -> String {
    let mut out = String::new();
    let title = doc["info"]["title"].as_str().unwrap_or(service);
    let _ = writeln!(out, "# {title}: API reference\n");
    let _ = writeln!(
        out,
        "Generated from `GET /openapi.json` of {service} by `tests/tests/reference.rs`; do not edit by hand. \
         Errors are `application/problem+json` (`type`, `title`, `status`, `code`, `detail`, `errors[]` of `{{field, message}}`)."
    );
    if let Some(d) = doc["info"]["description"].as_str() {
        let _ = writeln!(out, "\n{d}");
    }
    let mut paths: Vec<(&String, &Value)> =
        doc["paths"].as_object().into_iter().flatten().collect();
    paths.sort_by(|a, b| a.0.cmp(b.0));
    for (path, item) in paths {
        for method in ["get", "head", "post", "put", "patch", "delete"] {
            let Some(op) = item.get(method) else { continue };
            let _ = writeln!(out, "\n## `{} {path}`\n", method.to_uppercase());
            for key in ["summary", "description"] {
                if let Some(t) = op[key].as_str() {
                    let _ = writeln!(out, "{t}\n");
                }
            }
            let secured = op["security"].as_array().is_some_and(|s| !s.is_empty());
            let _ = writeln!(
                out,
                "{}\n",
                if secured {
                    "Needs a bearer token (JWT)."
                } else {
                    "No token needed."
                }
            );
            if let Some(ps) = op["parameters"].as_array().filter(|p| !p.is_empty()) {
                let _ = writeln!(out, "| parameter | in | type | required | description |");
                let _ = writeln!(out, "| --- | --- | --- | --- | --- |");
                for p in ps {
                    let _ = writeln!(
                        out,
                        "| `{}` | {} | {} | {} | {} |",
                        p["name"].as_str().unwrap_or(""),
                        p["in"].as_str().unwrap_or(""),
                        cell(&type_of(doc, &p["schema"])),
                        if p["required"] == true { "yes" } else { "" },
                        cell(p["description"].as_str().unwrap_or(""))
                    );
                }
                out.push('\n');
            }
            if let Some(content) = op["requestBody"]["content"].as_object() {
                for (ct, media) in content {
                    let schema = &media["schema"];
                    let _ = writeln!(out, "Body (`{ct}`): {}\n", type_of(doc, schema));
                    let mut rows = String::new();
                    fields(doc, schema, "", &mut rows, 0);
                    if !rows.is_empty() {
                        let _ = writeln!(out, "| field | type | required | description |");
                        let _ = writeln!(out, "| --- | --- | --- | --- |");
                        out.push_str(&rows);
                        out.push('\n');
                    }
                }
            }
            if let Some(rs) = op["responses"].as_object() {
                let _ = writeln!(out, "| answer | meaning |");
                let _ = writeln!(out, "| --- | --- |");
                let mut codes: Vec<(&String, &Value)> = rs.iter().collect();
                codes.sort_by(|a, b| a.0.cmp(b.0));
                for (code, r) in codes {
                    let _ = writeln!(
                        out,
                        "| {code} | {} |",
                        cell(r["description"].as_str().unwrap_or(""))
                    );
                }
            }
        }
    }
    out
}

#[tokio::test]
async fn the_reference_is_generated_from_each_services_document() {
    let mut ctx = Ctx::new().await.expect("context");
    xf_e2e::start_all(&mut ctx).await.expect("stack starts");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("root")
        .join("docs/reference");
    let write = std::env::var("XINFANG_WRITE_REFERENCE").is_ok_and(|v| v == "1");
    let mut stale = Vec::new();
    for service in xf_e2e::SERVICES {
        let r = xf_testkit::http()
            .get(ctx.svc(service).url("/openapi.json"))
            .send()
            .await
            .expect("openapi");
        let file = dir.join(format!("{service}.md"));
        if !r.status().is_success() {
            // No document yet: then no reference either (README says so).
            if file.exists() {
                stale.push(format!(
                    "{} exists but {service} publishes no document",
                    file.display()
                ));
            }
            continue;
        }
        let doc: Value = r.json().await.expect("json");
        let text = render(service, &doc);
        if write {
            std::fs::create_dir_all(&dir).expect("dir");
            std::fs::write(&file, &text).expect("write");
        } else if std::fs::read_to_string(&file).ok().as_deref() != Some(text.as_str()) {
            stale.push(format!("{} is out of date", file.display()));
        }
    }
    assert!(
        stale.is_empty(),
        "{stale:?}: run XINFANG_WRITE_REFERENCE=1 cargo test -p xf-e2e --test reference"
    );
    ctx.cleanup().await;
}
