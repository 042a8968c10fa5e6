//! The curl lines MASV Agent scripts are written with (`-X METHOD`, `-H 'Name: value'`,
//! `-d BODY`, the URL), sent as curl sends them but from this process, so the same
//! tests run where there is no curl program (Windows under Wine).

use std::time::Duration;

/// What came back.
pub struct Answer {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: String,
}

/// Sends the request these curl arguments describe. Like curl: `-d` makes a POST
/// unless `-X` says otherwise, and a body without a `Content-Type` goes as
/// `application/x-www-form-urlencoded`; every request says `Accept: */*` and who sent it.
pub fn send(args: &[&str]) -> Answer {
    let mut method = None;
    let mut headers: Vec<(String, String)> = Vec::new();
    let mut body: Option<String> = None;
    let mut url = None;
    let mut it = args.iter();
    while let Some(&arg) = it.next() {
        let mut value = || *it.next().unwrap_or_else(|| panic!("{arg} needs a value"));
        match arg {
            "-X" | "--request" => method = Some(value().to_owned()),
            "-H" | "--header" => {
                let (name, v) = value().split_once(':').expect("a header is 'Name: value'");
                headers.push((name.trim().to_owned(), v.trim().to_owned()));
            }
            "-d" | "--data" => body = Some(value().to_owned()),
            "-s" | "--silent" => {}
            other if other.starts_with('-') => panic!("curl option {other} is not known here"),
            other => url = Some(other.to_owned()),
        }
    }
    let method = method.unwrap_or_else(|| if body.is_some() { "POST" } else { "GET" }.into());
    let mut request = http::Request::builder()
        .method(method.as_str())
        .uri(url.expect("a URL"))
        .header("Accept", "*/*")
        .header("User-Agent", "curl/8 (inbound tests)");
    let has_type = headers
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case("content-type"));
    if body.is_some() && !has_type {
        request = request.header("Content-Type", "application/x-www-form-urlencoded");
    }
    for (name, v) in &headers {
        request = request.header(name.as_str(), v.as_str());
    }
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into();
    let sent = match body {
        Some(b) => agent.run(request.body(b.into_bytes()).unwrap()),
        None => agent.run(request.body(()).unwrap()),
    };
    let mut response = sent.unwrap_or_else(|e| panic!("{method} failed: {e}"));
    Answer {
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        body: response.body_mut().read_to_string().unwrap_or_default(),
    }
}
