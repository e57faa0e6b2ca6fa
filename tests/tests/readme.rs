//! The manual is true: every ```sh example in README.md runs, in order, in one shell,
//! against the stack this test starts and seeds as `make demo` does (the demo driver),
//! with the variables the text defines. `localhost:8081`…`:8085` are pointed at this
//! stack's services; nothing else of the text is changed.
//!
//! Each `curl` must answer 2xx, unless its command ends with a comment `# → NNN`
//! naming the status the text documents; any other status, a failing command or a
//! failing `jq -e` check fails the test, naming the README line.

use std::path::Path;
use tokio::process::Command;

use xf_testkit::Ctx;

const PORTS: [(&str, u16); 5] = [
    ("intake", 8081),
    ("routing", 8082),
    ("supervision", 8083),
    ("scheduling", 8084),
    ("reporting", 8085),
];

/// One ```sh block: the README line it starts on, and its text.
struct Block {
    line: usize,
    text: String,
}

fn sh_blocks(readme: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let mut open: Option<(usize, usize, Vec<String>)> = None;
    for (i, raw) in readme.lines().enumerate() {
        let trimmed = raw.trim_start();
        let indent = raw.len() - trimmed.len();
        match &mut open {
            None if trimmed == "```sh" => open = Some((i + 1, indent, Vec::new())),
            None => {}
            Some((line, _, lines)) if trimmed == "```" => {
                out.push(Block {
                    line: *line,
                    text: lines.join("\n"),
                });
                open = None;
            }
            Some((_, ind, lines)) => {
                let cut = raw.len().min(*ind);
                let cut = if raw[..cut].trim().is_empty() { cut } else { 0 };
                lines.push(raw[cut..].to_owned());
            }
        }
    }
    assert!(open.is_none(), "README ends inside a ```sh block");
    out
}

/// What a shell command has left open at the end of a line: quotes and `$(`.
#[derive(Default)]
struct Open {
    single: bool,
    double: bool,
    parens: usize,
}

impl Open {
    fn scan(&mut self, line: &str) {
        let mut chars = line.chars().peekable();
        let mut prev_space = true;
        while let Some(c) = chars.next() {
            match c {
                '\'' if !self.double => self.single = !self.single,
                _ if self.single => {}
                '\\' => {
                    chars.next();
                }
                '"' => self.double = !self.double,
                '$' if chars.peek() == Some(&'(') => {
                    chars.next();
                    self.parens += 1;
                }
                ')' if !self.double && self.parens > 0 => self.parens -= 1,
                '#' if !self.double && prev_space => break,
                _ => {}
            }
            prev_space = c.is_whitespace();
        }
    }

    fn open(&self) -> bool {
        self.single || self.double || self.parens > 0
    }
}

/// Marks each `curl` command whose last line ends with `# → NNN` with that status, and
/// prints the README line before each command runs.
fn annotate(b: &Block) -> String {
    let mut out = String::new();
    let lines: Vec<&str> = b.text.lines().collect();
    let mut i = 0;
    while i < lines.len() {
        let start = i;
        let mut state = Open::default();
        state.scan(lines[i]);
        while (state.open() || lines[i].trim_end().ends_with('\\')) && i + 1 < lines.len() {
            i += 1;
            state.scan(lines[i]);
        }
        let cmd = &lines[start..=i];
        let last = cmd[cmd.len() - 1];
        let expect = last
            .split_once("# → ")
            .and_then(|(_, s)| s.get(..3))
            .filter(|s| s.bytes().all(|c| c.is_ascii_digit()));
        let line = b.line + 1 + start;
        out.push_str(&format!("README_LINE={line}\n"));
        let first = cmd[0];
        match expect {
            Some(code) if first.trim_start().starts_with("curl ") => {
                out.push_str(&format!("README_EXPECT={code} {}\n", first.trim_start()))
            }
            _ => {
                out.push_str(first);
                out.push('\n');
            }
        }
        for l in &cmd[1..] {
            out.push_str(l);
            out.push('\n');
        }
        i += 1;
    }
    out
}

/// The shell the blocks run in: strict, with `curl` checking the status.
const PRELUDE: &str = r#"set -euo pipefail
curl() {
  local out code want
  out=$(command curl -sS -w $'\n%{http_code}' "$@") || { echo "README line $README_LINE: curl failed" >&2; return 1; }
  code=${out##*$'\n'}
  printf '%s\n' "${out%$'\n'*}"
  want=${README_EXPECT:-2xx}
  if [[ $want == 2xx ]]; then
    [[ $code == 2?? ]] || { echo "README line $README_LINE: status $code, the text expects 2xx" >&2; return 1; }
  else
    [[ $code == "$want" ]] || { echo "README line $README_LINE: status $code, the text says $want" >&2; return 1; }
  fi
}
"#;

fn rewrite(text: &str, ctx: &Ctx) -> String {
    let mut t = text.to_owned();
    for (name, port) in PORTS {
        let base = ctx.svc(name).base_url.replace("http://", "");
        t = t.replace(&format!("localhost:{port}"), &base);
    }
    t
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_readme_example_runs_as_written() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("root")
        .to_path_buf();
    let readme = std::fs::read_to_string(root.join("README.md")).expect("README");
    let blocks = sh_blocks(&readme);
    assert!(
        blocks.len() >= 5,
        "README has {} ```sh blocks",
        blocks.len()
    );

    let keys = root.join("scripts/open311-client/dev-open311-keys.txt");
    let keys = keys.display().to_string();
    let mut ctx = Ctx::new().await.expect("context");
    xf_e2e::start_all_with_intake(&mut ctx, &[("open311.api_keys_file", keys.as_str())])
        .await
        .expect("stack starts");

    // Seed and drive the stack as `make demo` does.
    let ports: Vec<String> = PORTS
        .iter()
        .map(|(name, _)| {
            ctx.svc(name)
                .base_url
                .rsplit(':')
                .next()
                .expect("port")
                .to_owned()
        })
        .collect();
    let demo = Command::new(env!("CARGO_BIN_EXE_xf-demo"))
        .arg("--ports")
        .arg(ports.join(","))
        .current_dir(&root)
        .output()
        .await
        .expect("xf-demo runs");
    if !demo.status.success() {
        let mut health = String::new();
        for (name, _) in PORTS {
            let r = xf_testkit::http()
                .get(ctx.svc(name).url("/health/readyz"))
                .send()
                .await;
            let line = match r {
                Ok(r) => format!("{} {}", r.status(), r.text().await.unwrap_or_default()),
                Err(e) => e.to_string(),
            };
            health.push_str(&format!("{name} ({}): {line}\n", ctx.svc(name).base_url));
        }
        panic!(
            "the demo driver failed (ports {ports:?}):\n{}\n{}\n{health}",
            String::from_utf8_lossy(&demo.stdout),
            String::from_utf8_lossy(&demo.stderr)
        );
    }

    // The text's token tool, as `make demo` and `make test` build it.
    let token_tool = root.join("target/debug/xinfang-token");
    assert!(
        token_tool.exists(),
        "{} is missing: build the workspace's binaries first (make test does)",
        token_tool.display()
    );
    let mut script = PRELUDE.to_owned();
    for b in &blocks {
        script.push_str(&format!("echo '==> README line {}'\n", b.line));
        script.push_str(&rewrite(&annotate(b), &ctx));
        script.push('\n');
    }
    let out = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .current_dir(&root)
        .env("README_LINE", "0")
        .output()
        .await
        .expect("bash runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "a README example failed:\n{stderr}\n--- output ---\n{stdout}"
    );
    ctx.cleanup().await;
}

#[test]
fn blocks_and_expectations_are_read_as_the_text_gives_them() {
    let md = "text\n```sh\nA=1\ncurl -s x \\\n  -d '{\"a\":\n 1}'   # → 409\n```\n  ```sh\n  curl -s z\n  ```\n```text\nno\n```\n";
    let b = sh_blocks(md);
    assert_eq!(b.len(), 2);
    assert_eq!(b[0].line, 2);
    assert_eq!(b[1].text, "curl -s z");
    let a = annotate(&b[0]);
    assert!(
        a.contains("README_EXPECT=409 curl -s x \\\n  -d '{\"a\":\n 1}'"),
        "{a}"
    );
    assert!(a.contains("README_LINE=3\nA=1"), "{a}");
}

/// Every configuration variable any service accepts is in README's table, by its full
/// name or as `…__KEY` beside its section's first.
#[test]
fn the_configuration_table_names_every_accepted_variable() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("root")
        .to_path_buf();
    let readme = std::fs::read_to_string(root.join("README.md")).expect("README");
    let table: Vec<&str> = readme.lines().filter(|l| l.starts_with("| `XF_")).collect();
    let mut missing = Vec::new();
    for bin in [
        xf_intake::binary(),
        xf_routing::binary(),
        xf_supervision::binary(),
        xf_scheduling::binary(),
        xf_reporting::binary(),
    ] {
        let keys = xf_app::config::accepted_keys(&bin.base(), bin.keys).expect("keys");
        for (k, _) in keys {
            let env = xf_app::config::env_name(&k);
            let (section, key) = env.split_once("__").expect("section");
            let listed = table.iter().any(|row| {
                row.contains(&format!("`{env}`"))
                    || (row.contains(&format!("`{section}__"))
                        && row.contains(&format!("`…__{key}`")))
            });
            if !listed && !missing.contains(&env) {
                missing.push(env);
            }
        }
    }
    assert!(
        missing.is_empty(),
        "README's configuration table omits {missing:?}"
    );
}
