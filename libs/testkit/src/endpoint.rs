//! A small HTTP/1.1 endpoint for tests of what the services call out to: a webhook
//! receiver for outbound notices, or an identity provider's key set the test changes.
//! It records every request (headers with lower-case names, body) and answers what the
//! test's rule picks.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Got {
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
}

impl Got {
    /// The body as JSON (`Null` when it is not).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_default()
    }
}

/// What the endpoint answers: given a request and whether a request with the same
/// `idempotency-key` came before, the status code and a JSON body (empty for none).
pub type Rule = Arc<dyn Fn(&Got, bool) -> (u16, Vec<u8>) + Send + Sync>;

/// Starts a receiver on a free port: its URL (`http://127.0.0.1:PORT/hook`) and the
/// requests it got, in order.
pub async fn receiver(rule: Rule) -> (String, Arc<Mutex<Vec<Got>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
    let got: Arc<Mutex<Vec<Got>>> = Arc::default();
    let log = got.clone();
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            tokio::spawn(serve(sock, log.clone(), rule.clone()));
        }
    });
    (url, got)
}

/// A receiver that accepts everything (200).
pub async fn accepting() -> (String, Arc<Mutex<Vec<Got>>>) {
    receiver(Arc::new(|_, _| (200, Vec::new()))).await
}

/// Serves the JSON document `doc` holds at the moment of each request.
pub async fn document(doc: Arc<Mutex<serde_json::Value>>) -> (String, Arc<Mutex<Vec<Got>>>) {
    receiver(Arc::new(move |_, _| {
        let body = doc.lock().map(|d| d.to_string()).unwrap_or_default();
        (200, body.into_bytes())
    }))
    .await
}

async fn serve(mut sock: TcpStream, log: Arc<Mutex<Vec<Got>>>, rule: Rule) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let (head_end, len) = loop {
        let Ok(n) = sock.read(&mut chunk).await else {
            return;
        };
        if n == 0 {
            return;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..p]).to_lowercase();
            let len = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            break (p + 4, len);
        }
    };
    while buf.len() < head_end + len {
        let Ok(n) = sock.read(&mut chunk).await else {
            return;
        };
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let headers: HashMap<String, String> = head
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_lowercase(), v.trim().to_owned()))
        .collect();
    let got = Got {
        headers,
        body: buf[head_end..].to_vec(),
    };
    let (status, body) = {
        let mut g = log.lock().expect("lock");
        let key = got.headers.get("idempotency-key");
        let seen = key.is_some() && g.iter().any(|x| x.headers.get("idempotency-key") == key);
        let reply = rule(&got, seen);
        g.push(got);
        reply
    };
    let head = format!(
        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    let _ = sock.write_all(head.as_bytes()).await;
    let _ = sock.write_all(&body).await;
}
