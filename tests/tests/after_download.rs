//! After a package completes: the command gets the folder and a JSON summary (never the
//! link), the summary is POSTed to a local URL, and a hook that fails is reported while
//! the package stays complete.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use inbound_e2e::inbound_engine::{AfterDownload, DownloadState, Engine, Event};
use inbound_e2e::inbound_sim::catalog;
use inbound_e2e::{Harness, assert_completes};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Waits for the hooks' outcome for `id`: `None` when they all ran.
async fn hooks_ran(
    engine: &Engine,
    events: &mut tokio::sync::broadcast::Receiver<Event>,
    id: &str,
) -> Option<String> {
    tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            if let Ok(Event::AfterDownload { id: got, error }) = events.recv().await
                && got == id
            {
                return error;
            }
        }
    })
    .await
    .unwrap_or_else(|_| {
        panic!(
            "the hooks never reported for {id}: {:?}",
            engine.get(id).unwrap().summary
        )
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_gets_the_folder_and_a_summary_without_the_link() {
    let out = tempfile::tempdir().unwrap();
    let probe = vec![
        env!("CARGO_BIN_EXE_hook-probe").to_owned(),
        out.path().display().to_string(),
    ];
    let h = Harness::with_config(vec![catalog::large("big", 1 << 20)], |c| {
        c.after_download = Some(AfterDownload {
            run: probe,
            post_url: None,
        });
    })
    .await;
    let mut events = h.engine.subscribe();
    let dest = h.dest();
    let link = h.link("big");
    let id = h.engine.add(&link, &dest, None).await.unwrap();
    assert_completes(&h, &id, "big", &dest, Duration::from_secs(30)).await;
    assert_eq!(hooks_ran(&h.engine, &mut events, &id).await, None);
    assert_eq!(
        std::fs::read_to_string(out.path().join("folder.txt")).unwrap(),
        dest.display().to_string()
    );
    let text = std::fs::read_to_string(out.path().join("summary.json")).unwrap();
    let summary: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(summary["download_id"], id.as_str());
    assert_eq!(summary["files"].as_array().unwrap().len(), 1);
    assert_eq!(summary["files"][0]["hash"]["algorithm"], "xxh128");
    let secret = link.split("secret=").nth(1).unwrap();
    assert!(!text.contains(secret) && !text.contains("secret"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_hook_is_reported_and_the_package_stays_complete() {
    let h = Harness::with_config(vec![catalog::large("big", 1 << 20)], |c| {
        c.after_download = Some(AfterDownload {
            run: vec![
                env!("CARGO_BIN_EXE_hook-probe").into(),
                "unused".into(),
                "fail".into(),
                "3".into(),
                "the ingest disk is full".into(),
            ],
            post_url: Some("http://127.0.0.1:9/nothing-listens".into()),
        });
    })
    .await;
    let mut events = h.engine.subscribe();
    let dest = h.dest();
    let id = h.engine.add(&h.link("big"), &dest, None).await.unwrap();
    assert_completes(&h, &id, "big", &dest, Duration::from_secs(30)).await;
    let error = hooks_ran(&h.engine, &mut events, &id).await.unwrap();
    assert!(
        error.contains("exited with 3: the ingest disk is full"),
        "{error}"
    );
    assert!(error.contains("could not connect"), "{error}");
    let summary = h.engine.get(&id).unwrap().summary;
    assert_eq!(summary.state, DownloadState::Complete);
    assert_eq!(summary.after_error.as_deref(), Some(error.as_str()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_summary_is_posted_to_a_local_url_and_other_hosts_are_refused() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/done", listener.local_addr().unwrap());
    let received = tokio::spawn(async move {
        let (mut conn, _) = listener.accept().await.unwrap();
        let mut request = Vec::new();
        let mut buf = [0u8; 8192];
        // Headers, then as many body bytes as Content-Length says.
        loop {
            let n = conn.read(&mut buf).await.unwrap();
            request.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&request).into_owned();
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let length: usize = head
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse().unwrap())
                    })
                    .unwrap_or(0);
                if body.len() >= length {
                    conn.write_all(b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n")
                        .await
                        .unwrap();
                    return (head.to_owned(), body.to_owned());
                }
            }
        }
    });
    let h = Harness::new(vec![catalog::large("big", 1 << 20)]).await;
    let refused = h.engine.set_after_download(AfterDownload {
        run: Vec::new(),
        post_url: Some("http://ingest.example/done".into()),
    });
    assert!(
        refused
            .unwrap_err()
            .to_string()
            .contains("not on this machine")
    );
    h.engine
        .set_after_download(AfterDownload {
            run: Vec::new(),
            post_url: Some(url),
        })
        .unwrap();
    let mut events = h.engine.subscribe();
    let dest = h.dest();
    let id = h.engine.add(&h.link("big"), &dest, None).await.unwrap();
    assert_completes(&h, &id, "big", &dest, Duration::from_secs(30)).await;
    assert_eq!(hooks_ran(&h.engine, &mut events, &id).await, None);
    let (head, body) = received.await.unwrap();
    assert!(head.starts_with("POST /done"), "{head}");
    let summary: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        summary["name"],
        h.engine.get(&id).unwrap().summary.name.as_str()
    );
    // Saved with the downloads.
    let h = h.restart(|_| {}).await;
    assert!(h.engine.after_download().post_url.is_some());
}

/// The summary goes to the URL set and nowhere else: a redirect is not followed (it
/// could lead the package's names and paths off this machine), and says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_from_the_summary_url_is_not_followed() {
    let elsewhere = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let elsewhere_url = format!("http://{}/stolen", elsewhere.local_addr().unwrap());
    let followed = tokio::spawn(async move { elsewhere.accept().await.is_ok() });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/done", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let (mut conn, _) = listener.accept().await.unwrap();
        let mut buf = [0u8; 8192];
        let _ = conn.read(&mut buf).await.unwrap();
        let answer = format!(
            "HTTP/1.1 307 Temporary Redirect\r\nlocation: {elsewhere_url}\r\ncontent-length: 0\r\n\r\n"
        );
        conn.write_all(answer.as_bytes()).await.unwrap();
    });
    let h = Harness::with_config(vec![catalog::large("big", 1 << 20)], |c| {
        c.after_download = Some(AfterDownload {
            run: Vec::new(),
            post_url: Some(url.clone()),
        });
    })
    .await;
    let mut events = h.engine.subscribe();
    let dest = h.dest();
    let id = h.engine.add(&h.link("big"), &dest, None).await.unwrap();
    assert_completes(&h, &id, "big", &dest, Duration::from_secs(30)).await;
    let error = hooks_ran(&h.engine, &mut events, &id)
        .await
        .unwrap_or_default();
    assert!(
        error.contains("307") && error.contains("redirect"),
        "{error}"
    );
    // The hooks are over: had the redirect been followed, it would have been by now.
    assert!(
        !followed.is_finished(),
        "the summary was posted where the redirect led"
    );
    followed.abort();
}
