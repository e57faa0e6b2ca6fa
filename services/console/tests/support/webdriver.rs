//! A small W3C WebDriver client over HTTP (chromedriver): sessions, navigation,
//! elements, scripts, screenshots and Chrome DevTools commands.

use std::time::Duration;

use base64::Engine;
use serde_json::{Value, json};

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

pub struct Driver {
    http: reqwest::Client,
    base: String,
    session: String,
}

pub struct Element(String);

impl Driver {
    /// Opens a session of headless Chromium (`binary`) downloading into `downloads`.
    pub async fn start(
        driver_url: &str,
        binary: &str,
        profile: &str,
        downloads: &str,
    ) -> anyhow::Result<Driver> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(120))
            .build()?;
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": binary,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking", "--disable-component-update",
                    "--disable-sync", "--disable-dev-shm-usage", "--window-size=1280,1000",
                    "--lang=zh-CN", format!("--user-data-dir={profile}")],
                "prefs": {"download.default_directory": downloads, "download.prompt_for_download": false,
                    "intl.accept_languages": "zh-CN"}
            }
        }}});
        let r: Value = http
            .post(format!("{driver_url}/session"))
            .json(&caps)
            .send()
            .await?
            .json()
            .await?;
        let session = r["value"]["sessionId"]
            .as_str()
            .ok_or_else(|| anyhow::anyhow!("no WebDriver session: {r}"))?
            .to_owned();
        let d = Driver {
            http,
            base: driver_url.to_owned(),
            session,
        };
        d.cmd(
            "POST",
            "/timeouts",
            json!({"script": 120_000, "pageLoad": 60_000}),
        )
        .await?;
        d.cdp(
            "Browser.setDownloadBehavior",
            json!({"behavior": "allow", "downloadPath": downloads}),
        )
        .await?;
        Ok(d)
    }

    async fn cmd(&self, method: &str, path: &str, body: Value) -> anyhow::Result<Value> {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let rb = match method {
            "GET" => self.http.get(url),
            "DELETE" => self.http.delete(url),
            _ => self.http.post(url).json(&body),
        };
        let r: Value = rb.send().await?.json().await?;
        if let Some(e) = r["value"]["error"].as_str() {
            anyhow::bail!("WebDriver {method} {path}: {e}: {}", r["value"]["message"]);
        }
        Ok(r["value"].clone())
    }

    /// A Chrome DevTools Protocol command through chromedriver.
    pub async fn cdp(&self, cmd: &str, params: Value) -> anyhow::Result<Value> {
        self.cmd(
            "POST",
            "/goog/cdp/execute",
            json!({"cmd": cmd, "params": params}),
        )
        .await
    }

    pub async fn goto(&self, url: &str) -> anyhow::Result<()> {
        self.cmd("POST", "/url", json!({"url": url}))
            .await
            .map(|_| ())
    }

    pub async fn url(&self) -> anyhow::Result<String> {
        Ok(self
            .cmd("GET", "/url", Value::Null)
            .await?
            .as_str()
            .unwrap_or_default()
            .to_owned())
    }

    pub async fn find(&self, css: &str) -> anyhow::Result<Element> {
        let v = self
            .cmd(
                "POST",
                "/element",
                json!({"using": "css selector", "value": css}),
            )
            .await?;
        v[ELEMENT]
            .as_str()
            .map(|s| Element(s.to_owned()))
            .ok_or_else(|| anyhow::anyhow!("no element {css}"))
    }

    pub async fn find_all(&self, css: &str) -> anyhow::Result<Vec<Element>> {
        let v = self
            .cmd(
                "POST",
                "/elements",
                json!({"using": "css selector", "value": css}),
            )
            .await?;
        Ok(v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|e| e[ELEMENT].as_str().map(|s| Element(s.to_owned())))
                    .collect()
            })
            .unwrap_or_default())
    }

    pub async fn exists(&self, css: &str) -> bool {
        self.find_all(css)
            .await
            .map(|v| !v.is_empty())
            .unwrap_or(false)
    }

    pub async fn link(&self, text: &str) -> anyhow::Result<Element> {
        let v = self
            .cmd(
                "POST",
                "/element",
                json!({"using": "link text", "value": text}),
            )
            .await?;
        v[ELEMENT]
            .as_str()
            .map(|s| Element(s.to_owned()))
            .ok_or_else(|| anyhow::anyhow!("no link {text}"))
    }

    pub async fn click(&self, e: &Element) -> anyhow::Result<()> {
        self.cmd("POST", &format!("/element/{}/click", e.0), json!({}))
            .await
            .map(|_| ())
    }

    pub async fn click_css(&self, css: &str) -> anyhow::Result<()> {
        let e = self.find(css).await?;
        self.click(&e).await
    }

    pub async fn clear(&self, e: &Element) -> anyhow::Result<()> {
        self.cmd("POST", &format!("/element/{}/clear", e.0), json!({}))
            .await
            .map(|_| ())
    }

    /// Types `text` into the field `css` (cleared first).
    pub async fn type_in(&self, css: &str, text: &str) -> anyhow::Result<()> {
        let e = self.find(css).await?;
        self.clear(&e).await?;
        self.cmd(
            "POST",
            &format!("/element/{}/value", e.0),
            json!({"text": text}),
        )
        .await
        .map(|_| ())
    }

    /// Picks the option `value` of the select `css`.
    pub async fn select(&self, css: &str, value: &str) -> anyhow::Result<()> {
        self.click_css(&format!("{css} option[value='{value}']"))
            .await
    }

    pub async fn text(&self, css: &str) -> anyhow::Result<String> {
        let e = self.find(css).await?;
        Ok(self
            .cmd("GET", &format!("/element/{}/text", e.0), Value::Null)
            .await?
            .as_str()
            .unwrap_or_default()
            .to_owned())
    }

    pub async fn attr(&self, css: &str, name: &str) -> anyhow::Result<String> {
        let e = self.find(css).await?;
        Ok(self
            .cmd(
                "GET",
                &format!("/element/{}/property/{name}", e.0),
                Value::Null,
            )
            .await?
            .as_str()
            .unwrap_or_default()
            .to_owned())
    }

    pub async fn exec(&self, script: &str, args: Value) -> anyhow::Result<Value> {
        self.cmd(
            "POST",
            "/execute/sync",
            json!({"script": script, "args": args}),
        )
        .await
    }

    pub async fn exec_async(&self, script: &str, args: Value) -> anyhow::Result<Value> {
        self.cmd(
            "POST",
            "/execute/async",
            json!({"script": script, "args": args}),
        )
        .await
    }

    /// The page's text.
    pub async fn body(&self) -> anyhow::Result<String> {
        self.text("body").await
    }

    /// Emulates a screen `width` wide (a phone: 390), or the desktop again (None).
    pub async fn viewport(&self, width: Option<u32>) -> anyhow::Result<()> {
        match width {
            Some(w) => {
                self.cdp(
                    "Emulation.setDeviceMetricsOverride",
                    json!({"width": w, "height": 844, "deviceScaleFactor": 1, "mobile": true}),
                )
                .await?
            }
            None => {
                self.cdp("Emulation.clearDeviceMetricsOverride", json!({}))
                    .await?
            }
        };
        Ok(())
    }

    /// A PNG of the whole page.
    pub async fn screenshot(&self, path: &std::path::Path) -> anyhow::Result<()> {
        let m = self.cdp("Page.getLayoutMetrics", json!({})).await?;
        let size = &m["cssContentSize"];
        let (w, h) = (
            size["width"].as_f64().unwrap_or(1280.0),
            size["height"].as_f64().unwrap_or(1000.0).min(8000.0),
        );
        let v = self
            .cdp(
                "Page.captureScreenshot",
                json!({"format": "png", "captureBeyondViewport": true,
                    "clip": {"x": 0, "y": 0, "width": w, "height": h, "scale": 1}}),
            )
            .await?;
        let data = v["data"]
            .as_str()
            .ok_or_else(|| anyhow::anyhow!("no screenshot data"))?;
        let png = base64::engine::general_purpose::STANDARD.decode(data)?;
        std::fs::write(path, png)?;
        Ok(())
    }

    pub async fn quit(self) {
        let _ = self.cmd("DELETE", "", Value::Null).await;
    }
}

impl Element {
    /// Clicks this element.
    pub async fn click_and(self, d: &Driver) -> anyhow::Result<()> {
        d.click(&self).await
    }
}
