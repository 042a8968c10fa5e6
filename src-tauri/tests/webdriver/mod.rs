//! Just enough of the W3C WebDriver protocol to drive the app through tauri-driver:
//! sessions, XPath lookups, clicks, typing, screenshots and the page source.

#![allow(dead_code)]

use std::time::{Duration, Instant};

use serde_json::{Value, json};

const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

pub struct Driver {
    http: reqwest::Client,
    session: String,
}

#[derive(Clone, Debug)]
pub struct Element(String);

impl Driver {
    /// Opens a session; the driver starts the app named in `capabilities`.
    pub async fn start(port: u16, capabilities: Value) -> Result<Self, String> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(120))
            .build()
            .map_err(|e| e.to_string())?;
        let base = format!("http://127.0.0.1:{port}/session");
        let body = json!({ "capabilities": { "alwaysMatch": capabilities, "firstMatch": [{}] } });
        let v = send(http.post(&base).json(&body)).await?;
        let id = v["sessionId"]
            .as_str()
            .ok_or_else(|| format!("no session id in {v}"))?;
        Ok(Self {
            session: format!("{base}/{id}"),
            http,
        })
    }

    async fn post(&self, path: &str, body: Value) -> Result<Value, String> {
        send(
            self.http
                .post(format!("{}{path}", self.session))
                .json(&body),
        )
        .await
    }

    async fn get(&self, path: &str) -> Result<Value, String> {
        send(self.http.get(format!("{}{path}", self.session))).await
    }

    pub async fn find_all(&self, xpath: &str) -> Result<Vec<Element>, String> {
        let v = self
            .post("/elements", json!({ "using": "xpath", "value": xpath }))
            .await?;
        if std::env::var_os("E2E_DEBUG").is_some() {
            eprintln!("e2e: elements {xpath} -> {v}");
        }
        Ok(v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|e| e[ELEMENT_KEY].as_str().map(|s| Element(s.to_owned())))
                    .collect()
            })
            .unwrap_or_default())
    }

    pub async fn find(&self, xpath: &str) -> Result<Element, String> {
        self.find_all(xpath)
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| format!("nothing matches {xpath}"))
    }

    /// Polls until something matches `xpath`.
    pub async fn wait_for(&self, xpath: &str, within: Duration) -> Result<Element, String> {
        let deadline = Instant::now() + within;
        loop {
            match self.find(xpath).await {
                Ok(e) => return Ok(e),
                Err(e) if Instant::now() > deadline => {
                    return Err(format!("after {within:?}: {e}"));
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }

    pub async fn click(&self, el: &Element) -> Result<(), String> {
        self.post(&format!("/element/{}/click", el.0), json!({}))
            .await
            .map(drop)
    }

    pub async fn type_text(&self, el: &Element, text: &str) -> Result<(), String> {
        let keys: Vec<String> = text.chars().map(String::from).collect();
        self.post(
            &format!("/element/{}/value", el.0),
            json!({ "text": text, "value": keys }),
        )
        .await
        .map(drop)
    }

    pub async fn source(&self) -> Result<String, String> {
        Ok(self
            .get("/source")
            .await?
            .as_str()
            .unwrap_or_default()
            .to_owned())
    }

    /// Ends the session (the driver closes the app).
    pub async fn quit(self) -> Result<(), String> {
        send(self.http.delete(&self.session)).await.map(drop)
    }
}

async fn send(req: reqwest::RequestBuilder) -> Result<Value, String> {
    let resp = req.send().await.map_err(|e| e.to_string())?;
    let status = resp.status();
    let v: Value = resp.json().await.map_err(|e| e.to_string())?;
    if !status.is_success() {
        return Err(format!("{status}: {}", v["value"]));
    }
    Ok(v["value"].clone())
}
