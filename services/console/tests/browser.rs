//! The console in a real headless Chromium against the real stack: a clerk registers
//! a visit (a refused field shown beside it, the typed text kept), the unit accepts and
//! replies (a 409 shown as a plain message), the petitioner looks the case up, the
//! supervision office sees an escalated case, a leader opens the dashboard and
//! downloads the XLSX, a user of the accused unit cannot open the accusation, an
//! expired session comes back to its page, and a service that is down shows a banner.
//! Every page: a screenshot under target/screenshots/ and axe-core with no serious or
//! critical violation, at a desktop's width and some at a phone's (390 px).

#[path = "support/webdriver.rs"]
mod webdriver;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{Value, json};
use tokio::io::AsyncBufReadExt;
use tokio::process::Command;
use tokio_util::sync::CancellationToken;
use webdriver::Driver;
use xf_testkit::Ctx;

const COUNTY: &str = "330122";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repository root")
}

fn target_dir() -> PathBuf {
    std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| root().join("target"))
}

fn which(names: &[&str]) -> Option<String> {
    for n in names {
        for dir in ["/usr/bin", "/usr/local/bin", "/usr/lib/chromium"] {
            let p = Path::new(dir).join(n);
            if p.exists() {
                return Some(p.display().to_string());
            }
        }
    }
    None
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Ends the Chromium processes of this test's own profile when the test ends, passed or
/// failed (chromedriver stopped with SIGKILL leaves its browser behind).
struct ProfileGuard(String);

impl Drop for ProfileGuard {
    fn drop(&mut self) {
        let flag = format!("--user-data-dir={}", self.0);
        let Ok(dir) = std::fs::read_dir("/proc") else {
            return;
        };
        for e in dir.filter_map(Result::ok) {
            let pid = e.file_name().to_string_lossy().into_owned();
            if !pid.bytes().all(|b| b.is_ascii_digit()) {
                continue;
            }
            let cmd = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
            if cmd.split(|b| *b == 0).any(|a| a == flag.as_bytes()) {
                let _ = std::process::Command::new("kill").arg(&pid).status();
            }
        }
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

struct Browser {
    d: Driver,
    base: String,
    shots: PathBuf,
    axe: String,
    checked: Vec<String>,
}

impl Browser {
    async fn go(&self, path: &str) {
        self.d
            .goto(&format!("{}{path}", self.base))
            .await
            .unwrap_or_else(|e| panic!("open {path}: {e}"));
    }

    /// Whether `css` appears within a few seconds (a click's page may still be loading).
    async fn wait(&self, css: &str) -> bool {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(10) {
            if self.d.exists(css).await {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        false
    }

    /// The text of `css`, or a failure showing the page.
    async fn must_text(&self, css: &str, what: &str) -> String {
        self.wait(css).await;
        match self.d.text(css).await {
            Ok(t) => t,
            Err(_) => panic!("{what}: no {css} on the page:\n{}", self.body().await),
        }
    }

    async fn body(&self) -> String {
        self.d.body().await.unwrap_or_default()
    }

    /// Screenshot and accessibility check of the page shown now, named `name`.
    async fn check(&mut self, name: &str) {
        self.d
            .screenshot(&self.shots.join(format!("{name}.png")))
            .await
            .unwrap_or_else(|e| panic!("screenshot {name}: {e}"));
        self.d
            .exec(&format!("{}\nreturn true;", self.axe), json!([]))
            .await
            .unwrap_or_else(|e| panic!("inject axe-core on {name}: {e}"));
        let r = self
            .d
            .exec_async(
                "var done = arguments[arguments.length - 1];
                 axe.run(document, {resultTypes: ['violations']}).then(function (r) {
                   done(r.violations.map(function (v) {
                     return {id: v.id, impact: v.impact, help: v.help,
                       nodes: v.nodes.slice(0, 3).map(function (n) { return n.html; })};
                   }));
                 }).catch(function (e) { done([{id: 'axe-error', impact: 'critical', help: String(e)}]); });",
                json!([]),
            )
            .await
            .unwrap_or_else(|e| panic!("axe-core on {name}: {e}"));
        let bad: Vec<&Value> = r
            .as_array()
            .map(|a| {
                a.iter()
                    .filter(|v| matches!(v["impact"].as_str(), Some("serious" | "critical")))
                    .collect()
            })
            .unwrap_or_default();
        assert!(
            bad.is_empty(),
            "page {name}: axe-core finds serious or critical violations: {}",
            serde_json::to_string_pretty(&bad).unwrap_or_default()
        );
        // Nothing wider than the screen (a phone scrolls tables inside their box only).
        let overflow = self
            .d
            .exec(
                "return document.documentElement.scrollWidth - window.innerWidth;",
                json!([]),
            )
            .await
            .ok()
            .and_then(|v| v.as_i64())
            .unwrap_or(0);
        assert!(
            overflow <= 1,
            "page {name} is {overflow}px wider than the screen"
        );
        self.checked.push(name.to_owned());
    }

    /// The same page at a phone's width, then the desktop again.
    async fn check_phone(&mut self, name: &str) {
        self.d.viewport(Some(390)).await.expect("phone width");
        self.d
            .exec("location.reload(); return true;", json!([]))
            .await
            .expect("reload");
        tokio::time::sleep(Duration::from_millis(500)).await;
        self.check(&format!("{name}-phone")).await;
        self.d.viewport(None).await.expect("desktop width");
    }

    async fn sign_in(&self, user: &str, next: &str) {
        self.go(&format!("/signin?next={next}")).await;
        self.d
            .click_css(&format!("#signin-{user}"))
            .await
            .unwrap_or_else(|e| panic!("sign in as {user}: {e}"));
        assert!(
            self.wait("form[action='/signout']").await,
            "{user} is signed in"
        );
    }

    async fn sign_out(&self) {
        if self.d.exists("form[action='/signout'] button").await {
            self.d
                .click_css("form[action='/signout'] button")
                .await
                .expect("sign out");
            assert!(self.wait("a[href='/signin']").await, "signed out");
        }
    }

    /// Reloads `path` until its text contains `want`.
    async fn until(&self, path: &str, want: &str, what: &str) {
        let start = Instant::now();
        loop {
            self.go(path).await;
            if self.body().await.contains(want) {
                return;
            }
            if start.elapsed() > Duration::from_secs(90) {
                panic!(
                    "{what}: {path} never showed {want:?}; it shows:\n{}",
                    self.body().await
                );
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
}

/// The test identity provider (scripts/oidc), stopped when dropped.
struct Provider {
    issuer: String,
    _child: tokio::process::Child,
}

impl Provider {
    async fn start(root: &Path, redirect_uri: &str) -> Provider {
        let out = Command::new("bash")
            .arg(root.join("scripts/oidc/install.sh"))
            .output()
            .await
            .expect("the provider's install script runs");
        assert!(
            out.status.success(),
            "scripts/oidc/install.sh failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let dir = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        let handler = xf_console::users::demo_users(COUNTY)
            .into_iter()
            .find(|u| u.id == "handler-rsj")
            .expect("the demo handler");
        let accounts = json!({"oidc-handler-rsj": {
            "roles": handler.roles, "unit": handler.unit, "jurisdiction": handler.jurisdiction}});
        let port = free_port();
        let mut child = Command::new("node")
            .arg("provider.mjs")
            .current_dir(&dir)
            .env("PORT", port.to_string())
            .env("REDIRECT_URI", redirect_uri)
            .env("ACCOUNTS", accounts.to_string())
            .stdout(std::process::Stdio::piped())
            .stderr(
                std::fs::File::create(std::env::temp_dir().join("xinfang-oidc-provider.log"))
                    .map(std::process::Stdio::from)
                    .unwrap_or_else(|_| std::process::Stdio::null()),
            )
            .kill_on_drop(true)
            .spawn()
            .expect("node runs the provider");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = tokio::io::BufReader::new(stdout).lines();
        let ready = tokio::time::timeout(Duration::from_secs(30), async {
            while let Ok(Some(l)) = lines.next_line().await {
                if let Some(issuer) = l.strip_prefix("ready ") {
                    return Some(issuer.to_owned());
                }
            }
            None
        })
        .await
        .ok()
        .flatten()
        .expect("the OIDC provider starts");
        // Keep reading what it prints, so that it never writes into a closed pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Provider {
            issuer: ready,
            _child: child,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_console_in_a_real_browser() {
    let (Some(chromium), Some(chromedriver)) = (
        which(&["chromium", "chromium-browser", "google-chrome"]),
        which(&["chromedriver"]),
    ) else {
        if std::env::var("XINFANG_BROWSER_OPTIONAL").as_deref() == Ok("1") {
            eprintln!(
                "\n\n*** SKIPPED: the browser test needs chromium and chromium-driver \
                 (scripts/stack/deps.sh --browser installs them); XINFANG_BROWSER_OPTIONAL=1 lets it skip ***\n\n"
            );
            return;
        }
        panic!(
            "the browser test needs chromium and chromium-driver: run `bash scripts/stack/deps.sh --browser` \
             (make test does), or set XINFANG_BROWSER_OPTIONAL=1 to skip it"
        );
    };
    let root = root();
    let assets = Command::new("bash")
        .arg(root.join("scripts/console/assets.sh"))
        .output()
        .await
        .expect("assets script runs");
    assert!(
        assets.status.success(),
        "scripts/console/assets.sh failed: {}",
        String::from_utf8_lossy(&assets.stderr)
    );
    let assets_dir = String::from_utf8_lossy(&assets.stdout).trim().to_owned();
    let axe = std::fs::read_to_string(Path::new(&assets_dir).join("axe.min.js")).expect("axe-core");
    let demo_bin = target_dir().join("debug/xf-demo");
    assert!(
        demo_bin.exists(),
        "{} is missing: build the workspace's binaries first (`cargo build -p xf-e2e --bin xf-demo`; make test does)",
        demo_bin.display()
    );

    // The county's identity provider: a certified OIDC provider (panva/oidc-provider,
    // from npm) with one handler of the human-resources bureau. Its tokens are RS256
    // JWTs with a kid; the services and the console check them by its JWK Set.
    let console_port = free_port();
    let base = format!("http://127.0.0.1:{console_port}");
    let provider = Provider::start(&root, &format!("{base}/signin/callback")).await;
    let jwks_url = format!("{}/jwks", provider.issuer);

    // The real stack, seeded as `make demo` seeds it.
    let keys = root.join("scripts/open311-client/dev-open311-keys.txt");
    let keys = keys.display().to_string();
    let mut ctx = Ctx::new().await.expect("context");
    xf_e2e::start_all_configured(
        &mut ctx,
        &[("auth.jwks_url", jwks_url.as_str())],
        &[("open311.api_keys_file", keys.as_str())],
    )
    .await
    .expect("stack starts");
    let port = |n: &str| {
        ctx.svc(n)
            .base_url
            .rsplit(':')
            .next()
            .expect("port")
            .to_owned()
    };
    let ports: Vec<String> = xf_e2e::SERVICES.iter().map(|n| port(n)).collect();
    let demo = Command::new(&demo_bin)
        .arg("--ports")
        .arg(ports.join(","))
        .arg("--cases")
        .arg("6")
        .current_dir(&root)
        .output()
        .await
        .expect("xf-demo runs");
    assert!(
        demo.status.success(),
        "the demo driver failed:\n{}\n{}",
        String::from_utf8_lossy(&demo.stdout),
        String::from_utf8_lossy(&demo.stderr)
    );

    // The console, on a free port, with a session key the test knows.
    let key: [u8; 32] = rand::random();
    let key_file = std::env::temp_dir().join(format!("xinfang-{}-console.key", ctx.id));
    std::fs::write(
        &key_file,
        base64::engine::general_purpose::STANDARD.encode(key),
    )
    .expect("key file");
    let open311_key = std::fs::read_to_string(&keys)
        .expect("keys")
        .lines()
        .map(|l| l.split('#').next().unwrap_or("").trim().to_owned())
        .find(|l| !l.is_empty())
        .and_then(|l| l.split('\t').next().map(str::to_owned))
        .expect("a development Open311 key");
    let urls: Vec<(String, String)> = xf_e2e::SERVICES
        .iter()
        .map(|n| (format!("services.{n}_url"), ctx.svc(n).base_url.clone()))
        .collect();
    let public_key = root
        .join("dev/keys/dev-ed25519-public.pem")
        .display()
        .to_string();
    let private_key = root
        .join("dev/keys/dev-ed25519-private.pem")
        .display()
        .to_string();
    let key_path = key_file.display().to_string();
    let port_text = console_port.to_string();
    let mut overrides: Vec<(&str, &str)> = vec![
        ("http.port", port_text.as_str()),
        ("http.public_url", base.as_str()),
        ("auth.jwks_url", jwks_url.as_str()),
        ("oidc.enabled", "true"),
        ("oidc.issuer", provider.issuer.as_str()),
        ("oidc.client_id", "xinfang-console"),
        ("http.workers", "2"),
        ("auth.public_key_file", public_key.as_str()),
        ("dev_signin.private_key_file", private_key.as_str()),
        ("session.key_file", key_path.as_str()),
        ("assets.dir", assets_dir.as_str()),
        ("public.open311_api_key", open311_key.as_str()),
    ];
    for (k, v) in &urls {
        overrides.push((k.as_str(), v.as_str()));
    }
    let settings = xf_console::config::load_with(&overrides).expect("console settings");
    let console = xf_console::build(settings).expect("console builds");
    assert_eq!(console.port(), console_port);
    let stop = CancellationToken::new();
    let served = tokio::spawn(console.run_until_stopped(stop.clone()));

    // Plain HTTP first: forms without the CSRF token are refused, the session cookie is
    // HttpOnly and SameSite, the chart library is served by the console itself.
    let plain = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let r = plain
        .post(format!("{base}/lookup"))
        .form(&[("registration_no", "x"), ("code", "y")])
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 403, "a form without its CSRF token is refused");
    let r = plain
        .get(format!("{base}/signin/dev/clerk"))
        .send()
        .await
        .expect("dev sign-in");
    assert_eq!(r.status(), 303);
    let cookie = r
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        cookie.starts_with("xf_session=")
            && cookie.contains("HttpOnly")
            && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    let r = plain
        .get(format!("{base}/vendor/echarts.min.js"))
        .send()
        .await
        .expect("echarts");
    assert_eq!(
        r.status(),
        200,
        "ECharts is served from the local assets folder"
    );
    let r = plain
        .get(format!("{base}/desk"))
        .send()
        .await
        .expect("desk");
    assert_eq!(
        r.status(),
        303,
        "a staff page without a session goes to sign-in"
    );
    // The OIDC sign-in starts with the authorization code flow and PKCE (S256), its
    // state in a sealed HttpOnly cookie; a callback without that cookie, with another
    // state, or with the provider's refusal signs nobody in.
    let r = plain
        .get(format!("{base}/signin/oidc?next=/work"))
        .send()
        .await
        .expect("oidc start");
    assert_eq!(r.status(), 303);
    let to = r
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        to.starts_with(&format!("{}/auth?", provider.issuer))
            && to.contains("response_type=code")
            && to.contains("client_id=xinfang-console")
            && to.contains("code_challenge_method=S256")
            && to.contains("code_challenge=")
            && to.contains("nonce=")
            && to.contains("state="),
        "{to}"
    );
    let flow = r
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        flow.starts_with("xf_oidc=") && flow.contains("HttpOnly") && flow.contains("SameSite=Lax"),
        "{flow}"
    );
    let flow_cookie = flow.split(';').next().unwrap_or_default().to_owned();
    for (query, cookie, status) in [
        ("code=abc&state=def", "", 400),
        ("code=abc&state=not-this-flows", flow_cookie.as_str(), 400),
        ("error=access_denied&state=x", flow_cookie.as_str(), 401),
    ] {
        let r = plain
            .get(format!("{base}/signin/callback?{query}"))
            .header("cookie", cookie)
            .send()
            .await
            .expect("callback");
        assert_eq!(r.status(), status, "{query}");
        let set = r
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect::<Vec<_>>()
            .join(" | ");
        assert!(!set.contains("xf_session="), "nobody is signed in: {set}");
    }

    // Chromium through chromedriver, with a fresh profile.
    let wd_port = free_port();
    let mut wd = Command::new(&chromedriver)
        .arg(format!("--port={wd_port}"))
        .kill_on_drop(true)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let wd_url = format!("http://127.0.0.1:{wd_port}");
    let http = xf_testkit::http();
    xf_testkit::eventually("chromedriver answers", Duration::from_secs(20), || {
        let (http, u) = (http.clone(), format!("{wd_url}/status"));
        async move {
            http.get(u)
                .send()
                .await
                .ok()
                .filter(|r| r.status().is_success())
                .map(|_| ())
        }
    })
    .await;
    let profile = std::env::temp_dir().join(format!("xinfang-{}-chromium", ctx.id));
    let _guard = ProfileGuard(profile.display().to_string());
    let downloads = std::env::temp_dir().join(format!("xinfang-{}-downloads", ctx.id));
    std::fs::create_dir_all(&downloads).expect("downloads dir");
    let d = Driver::start(
        &wd_url,
        &chromium,
        &profile.display().to_string(),
        &downloads.display().to_string(),
    )
    .await
    .expect("a browser session");
    let shots = target_dir().join("screenshots");
    std::fs::create_dir_all(&shots).expect("screenshots dir");
    let mut b = Browser {
        d,
        base: base.clone(),
        shots,
        axe,
        checked: Vec::new(),
    };

    // The public home page and the sign-in page.
    b.go("/").await;
    assert!(
        b.body().await.contains("案件查询"),
        "home: {}",
        b.body().await
    );
    b.check("01-home").await;
    b.check_phone("01-home").await;
    b.go("/signin").await;
    b.check("02-signin").await;

    // A clerk registers a visit. One receiving staff member is refused beside the field,
    // and what was typed is still there.
    b.sign_in("clerk", "/desk").await;
    assert!(
        b.d.url().await.expect("url").ends_with("/desk"),
        "the clerk lands on the desk"
    );
    b.check("03-desk").await;
    b.check_phone("03-desk").await;
    let village = "330122002200";
    let summary = "在县城工地干了半年，工程完工后工资一直未结清";
    b.d.select("#f-channel", "visit").await.expect("channel");
    b.d.select("#f-jurisdiction_code", village)
        .await
        .expect("place");
    b.d.select("#f-category", "labour_wages")
        .await
        .expect("category");
    b.d.type_in("#f-summary", summary).await.expect("summary");
    b.d.type_in("#f-requests", "要求结清工资")
        .await
        .expect("requests");
    b.d.type_in("#f-p_name", "王某").await.expect("name");
    b.d.type_in("#f-p_phone", "13900001111")
        .await
        .expect("phone");
    b.d.type_in("#f-receiving_staff", "接待员甲")
        .await
        .expect("staff");
    b.d.click_css("#desk-submit").await.expect("save");
    assert!(
        b.wait("#e-receiving_staff").await,
        "intake's refusal of one receiving staff member is shown beside the field:\n{}",
        b.body().await
    );
    assert_eq!(
        b.d.attr("#f-summary", "value").await.expect("summary"),
        summary,
        "typed text kept"
    );
    assert_eq!(
        b.d.attr("#f-p_name", "value").await.expect("name"),
        "王某",
        "typed text kept"
    );
    b.check("04-desk-field-error").await;
    b.d.type_in("#f-receiving_staff", "接待员甲，接待员乙")
        .await
        .expect("staff");
    b.d.click_css("#desk-submit").await.expect("save");
    let no = b.must_text("#receipt-no", "a receipt").await;
    let code = b.d.text("#receipt-code").await.expect("query code");
    b.wait("#receipt-case").await;
    let case_href = b.d.attr("#receipt-case", "href").await.expect("case link");
    let case_path = case_href.trim_start_matches(&base).to_owned();
    b.check("05-receipt").await;

    // The handling unit (the labour bureau) finds it among its new cases, accepts it
    // and replies.
    b.sign_out().await;
    b.sign_in("handler-rsj", "/").await;
    b.until(
        "/work?queue=new",
        &no,
        "the dispatched case reaches the unit's queue",
    )
    .await;
    b.check("06-workbench").await;
    b.check_phone("06-workbench").await;
    b.d.link(&no)
        .await
        .expect("the case link")
        .click_and(&b.d)
        .await
        .expect("open the case");
    assert!(
        b.wait("#do-accept").await,
        "a dispatched case offers acceptance: {}",
        b.body().await
    );
    assert!(
        !b.d.exists("#do-close").await,
        "a dispatched case cannot be closed yet"
    );
    assert!(
        !b.d.exists("#do-reply").await,
        "a dispatched case cannot be replied to yet"
    );
    b.check("07-case-dispatched").await;
    b.d.click_css("#do-accept").await.expect("accept");
    assert!(b.wait("#case-done").await, "accepted: {}", b.body().await);
    assert!(
        !b.d.exists("#do-accept").await,
        "no acceptance offered twice"
    );
    let reply = "经核查，施工单位已承诺于本月底前结清所欠工资，人社局将跟踪落实。";
    b.d.select("#f-outcome", "support").await.expect("outcome");
    b.d.type_in("#f-text", reply).await.expect("reply text");
    b.d.click_css("#do-reply").await.expect("reply");
    assert!(
        b.wait("#do-close").await,
        "a replied case may be closed: {}",
        b.body().await
    );
    b.check("08-case-replied").await;
    b.check_phone("08-case-replied").await;
    // A stale form (acceptance, after the reply): the API's 409 is a plain message.
    let stale =
        b.d.exec(
            "var f = document.createElement('form'); f.method = 'post';
             f.action = arguments[0] + '/act/accept';
             var c = document.createElement('input'); c.type = 'hidden'; c.name = 'csrf';
             c.value = document.querySelector('input[name=csrf]').value; f.appendChild(c);
             document.body.appendChild(f); f.submit(); return true;",
            json!([case_path]),
        )
        .await;
    assert!(stale.is_ok(), "{stale:?}");
    tokio::time::sleep(Duration::from_millis(800)).await;
    let msg = b.must_text("#case-message", "a 409 message").await;
    assert!(
        msg.contains("不能进行"),
        "the conflict is a plain message: {msg}"
    );
    assert!(!b.body().await.contains("panicked"), "no stack trace");
    b.check("09-case-conflict").await;

    // The petitioner looks the case up: status, expected date, the reply.
    b.sign_out().await;
    let start = Instant::now();
    loop {
        b.go("/lookup").await;
        b.d.type_in("#f-registration_no", &no).await.expect("no");
        b.d.type_in("#f-code", &code).await.expect("code");
        b.d.click_css("#lookup-submit").await.expect("look up");
        if b.wait("#lookup-reply").await {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(90),
            "the reply never reached the petitioner's view: {}",
            b.body().await
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    assert!(
        b.d.text("#lookup-reply")
            .await
            .expect("reply")
            .contains("结清所欠工资")
    );
    let page = b.body().await;
    assert!(
        !page.contains("王某") && !page.contains("13900001111"),
        "no personal data on the public page"
    );
    b.check("10-lookup").await;
    b.check_phone("10-lookup").await;
    // A wrong code finds nothing, and says so.
    b.go("/lookup").await;
    b.d.type_in("#f-registration_no", &no).await.expect("no");
    b.d.type_in("#f-code", "WRONG123").await.expect("code");
    b.d.click_css("#lookup-submit").await.expect("look up");
    assert!(
        b.wait("p.message").await && b.body().await.contains("未找到该事项"),
        "{}",
        b.body().await
    );

    // The public reception calendar: the offices, and one office's month.
    b.go("/calendar").await;
    b.check("15-calendar-offices").await;
    if !b.wait(".offices a").await {
        panic!("the demo's offices are listed: {}", b.body().await);
    }
    let office =
        b.d.attr(".offices a", "href")
            .await
            .expect("an office link");
    let month = chrono::Utc::now().format("%Y-%m").to_string();
    b.go(&format!(
        "{}?month={month}",
        office.trim_start_matches(&base)
    ))
    .await;
    assert!(b.wait("#month").await, "a month view: {}", b.body().await);
    b.check("16-calendar-month").await;
    b.check_phone("16-calendar-month").await;

    // Online submission (public): a refused field is named, then it is accepted.
    b.go("/submit").await;
    b.d.select("#f-category", "transport")
        .await
        .expect("category");
    b.d.type_in("#f-description", "村口道路塌陷，雨天积水严重")
        .await
        .expect("text");
    b.d.click_css("form[action='/submit'] button")
        .await
        .expect("submit");
    assert!(
        b.wait("#e-place").await,
        "the missing place is named beside its field: {}",
        b.body().await
    );
    assert_eq!(
        b.d.attr("#f-description", "value").await.expect("text"),
        "村口道路塌陷，雨天积水严重",
        "typed text kept"
    );
    b.d.type_in("#f-place", village).await.expect("place");
    b.d.type_in("#f-name", "赵某").await.expect("name");
    b.d.click_css("form[action='/submit'] button")
        .await
        .expect("submit");
    assert!(
        b.wait("#submit-done").await,
        "submitted: {}",
        b.body().await
    );
    b.check("17-submitted").await;

    // The supervision office sees the cases that climbed a tier (the demo's review).
    b.sign_in("supervisor", "/monitor").await;
    assert!(
        b.d.find_all("#escalated tbody tr")
            .await
            .map(|r| r.len())
            .unwrap_or(0)
            >= 1,
        "the monitor lists an escalated case: {}",
        b.body().await
    );
    b.check("11-monitor").await;
    b.sign_out().await;

    // A leader opens the dashboard (charts drawn by ECharts, each also a table) and
    // downloads the month's XLSX.
    b.sign_in("leader", "/dashboard").await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    let drawn =
        b.d.exec(
            "return document.documentElement.getAttribute('data-charts');",
            json!([]),
        )
        .await
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    assert!(
        drawn.parse::<u32>().unwrap_or(0) >= 1,
        "ECharts drew the charts (served by the console): {drawn:?}"
    );
    assert!(
        b.d.exists("#chart-trend svg").await,
        "the trend chart is drawn"
    );
    assert!(
        b.d.exists("#overview tbody tr").await,
        "the figures are a table too"
    );
    b.check("12-dashboard").await;
    b.check_phone("12-dashboard").await;
    b.d.click_css("#download-xlsx").await.expect("download");
    let xlsx = xf_testkit::eventually("the XLSX download", Duration::from_secs(30), || {
        let dir = downloads.clone();
        async move {
            std::fs::read_dir(&dir)
                .ok()?
                .filter_map(Result::ok)
                .map(|e| e.path())
                .find(|p| p.extension().is_some_and(|x| x == "xlsx"))
        }
    })
    .await;
    let book: calamine::Xlsx<_> = calamine::open_workbook(&xlsx).expect("an XLSX workbook");
    let sheets = calamine::Reader::sheet_names(&book);
    assert!(
        sheets.iter().any(|s| s == "Summary"),
        "the monthly report's sheets: {sheets:?}"
    );
    b.sign_out().await;

    // An accusation against the labour bureau: the bureau's user cannot open it.
    b.sign_in("clerk", "/desk").await;
    b.d.select("#f-channel", "letter").await.expect("channel");
    b.d.select("#f-jurisdiction_code", village)
        .await
        .expect("place");
    b.d.select("#f-category", "accusation")
        .await
        .expect("category");
    b.d.type_in(
        "#f-summary",
        "反映县人社局某工作人员在办理工资争议时收受好处",
    )
    .await
    .expect("summary");
    b.d.type_in("#f-accused_unit_id", &format!("{COUNTY}-rsj"))
        .await
        .expect("accused");
    b.d.type_in("#f-p_name", "李某").await.expect("name");
    b.d.exec(
        "document.getElementById('f-received_on').value = '2026-01-05'; return true;",
        json!([]),
    )
    .await
    .expect("received on");
    b.d.click_css("#desk-submit").await.expect("save");
    if !b.wait("#receipt-case").await {
        panic!("the accusation is registered: {}", b.body().await);
    }
    let acc_href = b.d.attr("#receipt-case", "href").await.expect("case link");
    let acc_path = acc_href.trim_start_matches(&base).to_owned();
    let acc_id = acc_path.trim_start_matches("/cases/").to_owned();
    b.sign_out().await;
    // It has reached routing (an overseer sees it), so a refusal below is the rule, not a lag.
    let overseer = ctx.token(&[xf_auth::roles::SUPERVISOR], None, COUNTY);
    xf_testkit::eventually(
        "routing has the accusation",
        Duration::from_secs(60),
        || {
            let u = ctx
                .svc("routing")
                .url(&format!("/v1/cases/{acc_id}/routing"));
            let t = overseer.clone();
            async move {
                let r = xf_testkit::send("GET", &u, &t, None).await;
                r.status().is_success().then_some(())
            }
        },
    )
    .await;
    b.sign_in("handler-rsj", "/").await;
    b.go(&acc_path).await;
    let page = b.body().await;
    assert!(
        page.contains("未找到该事项，或您无权查看"),
        "the accused unit is refused: {page}"
    );
    assert!(
        !page.contains("收受好处"),
        "nothing of the accusation is shown: {page}"
    );
    b.check("13-accused-unit-refused").await;
    b.sign_out().await;

    // An expired session: to sign-in, then back to the same page.
    let sealer = xf_console::session::Sealer::new(&key, false, 3600).expect("sealer");
    let expired = ctx
        .signer()
        .sign(&xf_auth::claims(
            "demo-handler-rsj",
            &[xf_auth::roles::HANDLER],
            Some(&format!("{COUNTY}-rsj")),
            COUNTY,
            -3600,
        ))
        .expect("token");
    let sealed = sealer.seal(&xf_console::session::Session {
        token: expired,
        csrf: xf_console::session::secret(),
        name: "x".into(),
    });
    b.d.exec(
        "document.cookie = 'xf_session=' + arguments[0] + '; path=/'; return true;",
        json!([sealed]),
    )
    .await
    .ok();
    // HttpOnly cookies cannot be set from the page: set it through DevTools.
    b.d.cdp(
        "Network.setCookie",
        json!({"name": "xf_session", "value": sealed, "url": base, "httpOnly": true, "sameSite": "Lax"}),
    )
    .await
    .expect("set the expired session");
    b.go("/work?queue=closed").await;
    let url = b.d.url().await.expect("url");
    assert!(
        url.contains("/signin") && url.contains("expired=1"),
        "an expired session goes to sign-in: {url}"
    );
    assert!(b.body().await.contains("登录已过期"), "{}", b.body().await);
    b.d.click_css("#signin-handler-rsj")
        .await
        .expect("sign in again");
    assert!(b.wait("form[action='/signout']").await, "signed in again");
    let url = b.d.url().await.expect("url");
    assert!(
        url.ends_with("/work?queue=closed"),
        "back to the same page: {url}"
    );

    // Signing in with the county's identity provider: its login page, then back to the
    // page asked for, with the provider's token — which the services accept by the
    // provider's key set, so the unit's case page shows the case and its reply.
    b.sign_out().await;
    b.go(&format!("/signin?next={case_path}")).await;
    b.check("18-signin-with-oidc").await;
    b.d.click_css("#signin-oidc")
        .await
        .expect("the OIDC button");
    assert!(
        b.wait("input[name='login']").await,
        "the provider's login page"
    );
    b.d.type_in("input[name='login']", "oidc-handler-rsj")
        .await
        .expect("login");
    b.d.type_in("input[name='password']", "any")
        .await
        .expect("password");
    b.d.click_css("button[type='submit']")
        .await
        .expect("log in at the provider");
    assert!(
        b.wait("form[action='/signout']").await,
        "signed in through the provider: {}",
        b.body().await
    );
    let url = b.d.url().await.expect("url");
    assert!(
        url.ends_with(&case_path),
        "back to the page asked for: {url}"
    );
    let page = b.body().await;
    assert!(
        page.contains("oidc-handler-rsj")
            && page.contains(&no)
            && page.contains("结清所欠工资")
            && !page.contains("相关服务暂时不可用"),
        "the provider's user sees the unit's case: {page}"
    );
    b.check("19-case-after-oidc").await;

    // A service that is down: a clear banner, not a stack trace.
    ctx.svc_mut("routing").stop().await;
    b.go("/work").await;
    let page = b.body().await;
    assert!(
        page.contains("相关服务暂时不可用") && page.contains("交办服务"),
        "a banner names the service: {page}"
    );
    b.check("14-service-down").await;

    println!("pages checked (screenshot + axe-core): {:?}", b.checked);
    b.d.quit().await;
    let _ = wd.kill().await;
    stop.cancel();
    let _ = served.await;
    let _ = std::fs::remove_dir_all(&profile);
    let _ = std::fs::remove_dir_all(&downloads);
    let _ = std::fs::remove_file(&key_file);
    ctx.cleanup().await;
}
