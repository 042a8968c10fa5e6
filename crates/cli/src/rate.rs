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
    let s = input.trim().trim_end_matches("/s").trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let value: f64 = num.parse().map_err(|_| {
        format!("'{input}' is not a size; use a number with an optional unit, like 20M or 500K")
    })?;
    let factor: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        other => {
            return Err(format!(
                "unknown unit '{other}' in '{input}'; use K, M or G (binary: 1K = 1024 bytes)"
            ));
        }
    };
    let bytes = value * factor as f64;
    if !bytes.is_finite() || bytes < 1.0 {
        return Err(format!("'{input}' must be at least 1 byte"));
    }
    Ok(bytes as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units_and_rejects_nonsense() {
        assert_eq!(parse_bytes("1048576").unwrap(), 1 << 20);
        assert_eq!(parse_bytes("500K").unwrap(), 500 * 1024);
        assert_eq!(parse_bytes("20M/s").unwrap(), 20 << 20);
        assert_eq!(parse_bytes(" 1.5 MiB ").unwrap(), 3 << 19);
        assert_eq!(parse_bytes("2g").unwrap(), 2 << 30);
        assert!(parse_bytes("fast").is_err());
        assert!(parse_bytes("10X").is_err());
        assert!(parse_bytes("0").is_err());
    }
}
