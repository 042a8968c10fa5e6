//! The committed OpenAPI document is the one the code generates.

#![allow(clippy::unwrap_used)]

#[test]
fn committed_openapi_matches_the_code() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("openapi.json");
    let generated = inbound_agent::openapi_json() + "\n";
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "crates/agent/openapi.json is stale; run UPDATE_OPENAPI=1 cargo test -p inbound-agent --test openapi"
    );
    let doc: serde_json::Value = serde_json::from_str(&generated).unwrap();
    for route in [
        "/downloads",
        "/downloads/{download_id}",
        "/downloads/{download_id}/pause",
        "/downloads/{download_id}/resume",
    ] {
        assert!(doc["paths"][route].is_object(), "{route} documented");
    }
}
