//! C4 IDs (SMPTE ST 2114): a SHA-512 digest written in base 58, always 90 characters.
//! ASC MHL names each manifest in its chain file by one.

const ALPHABET: &[u8; 58] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
const DIGITS: usize = 88;

/// `c4` followed by the digest as a base-58 number, left-padded with `1` (zero).
pub fn encode(digest: &[u8; 64]) -> String {
    // Repeated division of the 512-bit big-endian number by 58.
    let mut number = *digest;
    let mut digits = [b'1'; DIGITS];
    for slot in digits.iter_mut().rev() {
        let mut remainder = 0u32;
        for byte in number.iter_mut() {
            let value = (remainder << 8) | u32::from(*byte);
            *byte = (value / 58) as u8;
            remainder = value % 58;
        }
        *slot = ALPHABET[remainder as usize];
    }
    let mut id = String::with_capacity(2 + DIGITS);
    id.push_str("c4");
    id.extend(digits.iter().map(|&d| char::from(d)));
    id
}

/// The digest behind a C4 ID, if it is one.
pub fn decode(id: &str) -> Option<[u8; 64]> {
    let digits = id.strip_prefix("c4")?.as_bytes();
    if digits.len() != DIGITS {
        return None;
    }
    let mut number = [0u8; 64];
    for &d in digits {
        let value = ALPHABET.iter().position(|&a| a == d)? as u32;
        // number = number * 58 + value
        let mut carry = value;
        for byte in number.iter_mut().rev() {
            let v = u32::from(*byte) * 58 + carry;
            *byte = (v & 0xff) as u8;
            carry = v >> 8;
        }
        if carry != 0 {
            return None;
        }
    }
    Some(number)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_and_max_round_trip() {
        let zero = [0u8; 64];
        assert_eq!(encode(&zero), format!("c4{}", "1".repeat(88)));
        for digest in [zero, [0xff; 64], core::array::from_fn(|i| i as u8)] {
            assert_eq!(decode(&encode(&digest)), Some(digest));
        }
        assert_eq!(decode("c4short"), None);
    }
}
