/// Parses a hash format name (`--hash`).
pub fn parse_hash(input: &str) -> Result<inbound_engine::HashAlgorithm, String> {
    inbound_engine::HashAlgorithm::parse(input).ok_or_else(|| {
        let names: Vec<&str> = inbound_engine::HashAlgorithm::ALL
            .iter()
            .map(|a| a.name())
            .collect();
        format!(
            "'{input}' is not a hash format ASC MHL knows; use one of {} (SHA-256 is not one: no ASC MHL tool could verify it)",
            names.join(", ")
        )
    })
}

/// Parses a rate or size such as `500K`, `20M`, `1.5MiB`, `2g/s` or `1048576` into bytes
/// (binary units: `K` = 1024).
pub fn parse_bytes(input: &str) -> Result<u64, String> {
    inbound_engine::parse_bytes(input).map_err(|e| e.to_string())
}
