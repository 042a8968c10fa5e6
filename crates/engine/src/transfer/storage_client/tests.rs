use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::*;

/// A server that answers every connection's first request with `answer` (headers,
/// then `body_len` bytes of `fill` written as fast as the socket takes them), and
/// hands back the request it read.
async fn serve_once(
    answer_headers: String,
    body_len: usize,
) -> (SocketAddr, tokio::task::JoinHandle<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let (mut conn, _) = listener.accept().await.unwrap();
        let mut request = Vec::new();
        let mut buf = [0u8; 4096];
        while !request.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = conn.read(&mut buf).await.unwrap();
            assert!(n > 0, "the client closed before sending a request");
            request.extend_from_slice(&buf[..n]);
        }
        conn.write_all(answer_headers.as_bytes()).await.unwrap();
        let block = vec![7u8; 1 << 20];
        let mut left = body_len;
        while left > 0 {
            let n = left.min(block.len());
            if conn.write_all(&block[..n]).await.is_err() {
                break;
            }
            left -= n;
        }
        let _ = conn.shutdown().await;
        String::from_utf8_lossy(&request).into_owned()
    });
    (addr, task)
}

/// A server answering its first request with the first byte of a 5-byte object.
async fn serve_first_byte() -> (SocketAddr, tokio::task::JoinHandle<String>) {
    serve_once(
        "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 0-0/5\r\nContent-Length: 1\r\n\r\n"
            .into(),
        1,
    )
    .await
}

fn client() -> StorageClient {
    let never = Matcher::builder().build();
    StorageClient::new(never, reqwest::Client::new()).unwrap()
}

#[tokio::test]
async fn each_connection_reads_at_most_its_fixed_buffer_at_a_time() {
    // Loopback delivers faster than the body is read: hyper's own buffer would grow
    // towards 400 KiB per connection here.
    let len = 16 << 20;
    let (addr, server) = serve_once(
        format!("HTTP/1.1 200 OK\r\nContent-Length: {len}\r\n\r\n"),
        len,
    )
    .await;
    let url = Secret::new(format!("http://{addr}/object?X-Amz-Signature=s3cr3t"));
    let mut resp = client().get(&url, &[]).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let (mut total, mut largest) = (0, 0);
    while let Some(piece) = resp.chunk().await.unwrap() {
        total += piece.len();
        largest = largest.max(piece.len());
        // Give the sender time to fill the socket, as a busy disk would.
        tokio::task::yield_now().await;
    }
    assert_eq!(total, len);
    assert!(
        largest <= READ_BUFFER,
        "a read took {largest} bytes, more than the {READ_BUFFER}-byte buffer"
    );
    let request = server.await.unwrap();
    assert!(request.starts_with("GET /object?X-Amz-Signature=s3cr3t HTTP/1.1\r\n"));
    assert!(request.contains("user-agent: Inbound/"), "{request}");
}

#[tokio::test]
async fn a_url_the_environment_proxies_is_sent_through_the_proxy() {
    let (proxy, server) = serve_first_byte().await;
    let proxy_url = format!("http://{proxy}");
    let proxies = Matcher::builder().http(proxy_url.clone()).build();
    let proxied = reqwest::Client::builder()
        .proxy(reqwest::Proxy::http(&proxy_url).unwrap())
        .build()
        .unwrap();
    let storage = StorageClient::new(proxies, proxied).unwrap();
    // The host does not resolve: only the proxy can reach it.
    let url = Secret::new("http://storage.invalid/object?X-Amz-Signature=s3cr3t");
    let range = [(http::header::RANGE, HeaderValue::from_static("bytes=0-0"))];
    let mut resp = storage.get(&url, &range).await.unwrap();
    assert_eq!(resp.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(resp.chunk().await.unwrap().as_deref(), Some(&[7u8][..]));
    let request = server.await.unwrap();
    assert!(
        request
            .starts_with("GET http://storage.invalid/object?X-Amz-Signature=s3cr3t HTTP/1.1\r\n"),
        "the proxy got: {request}"
    );
    assert!(request.to_ascii_lowercase().contains("range: bytes=0-0"));
}

#[tokio::test]
async fn a_failed_request_is_described_without_its_url() {
    // A port nothing listens on.
    let closed = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let url = Secret::new(format!("http://{closed}/object?X-Amz-Signature=s3cr3t"));
    match client().get(&url, &[]).await {
        Err(SendError::Network(why)) => {
            assert_eq!(why, "could not connect to the server");
        }
        Err(SendError::BadUrl) => panic!("a good URL was called bad"),
        Ok(_) => panic!("a closed port answered"),
    }
    for bad in ["not a url", "/relative/path", "http://"] {
        assert!(
            matches!(
                client().get(&Secret::new(bad), &[]).await,
                Err(SendError::BadUrl)
            ),
            "{bad}"
        );
    }
}

#[tokio::test]
async fn a_body_cut_short_is_a_cut_connection() {
    let (addr, _server) =
        serve_once("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n".into(), 10).await;
    let url = Secret::new(format!("http://{addr}/object"));
    let mut resp = client().get(&url, &[]).await.unwrap();
    let mut got = 0;
    let err = loop {
        match resp.chunk().await {
            Ok(Some(piece)) => got += piece.len(),
            Ok(None) => panic!("a body 990 bytes short ended as if complete"),
            Err(why) => break why,
        }
    };
    assert_eq!(got, 10);
    assert_eq!(err, "the connection was cut");
}

#[tokio::test]
async fn a_redirect_is_followed_with_the_same_headers() {
    let (target, target_server) = serve_first_byte().await;
    let (first, first_server) = serve_once(
        format!(
            "HTTP/1.1 307 Temporary Redirect\r\nLocation: http://{target}/elsewhere?sig=2\r\nContent-Length: 0\r\n\r\n"
        ),
        0,
    )
    .await;
    let url = Secret::new(format!("http://{first}/object?sig=1"));
    let range = [(http::header::RANGE, HeaderValue::from_static("bytes=0-0"))];
    let mut resp = client().get(&url, &range).await.unwrap();
    assert_eq!(resp.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(resp.chunk().await.unwrap().as_deref(), Some(&[7u8][..]));
    assert!(
        first_server
            .await
            .unwrap()
            .starts_with("GET /object?sig=1 ")
    );
    let followed = target_server.await.unwrap();
    assert!(
        followed.starts_with("GET /elsewhere?sig=2 HTTP/1.1\r\n"),
        "{followed}"
    );
    assert!(
        followed.to_ascii_lowercase().contains("range: bytes=0-0"),
        "{followed}"
    );
}
