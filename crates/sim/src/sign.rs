use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Signs and checks presigned URLs and package tokens, like S3 and MASV do, so a
/// client cannot forge or extend them.
#[derive(Clone)]
pub(crate) struct Signer {
    key: [u8; 32],
}

impl Signer {
    pub(crate) fn new(key: [u8; 32]) -> Self {
        Self { key }
    }

    pub(crate) fn sign(&self, parts: &[&str]) -> String {
        hex::encode(self.mac(parts).finalize().into_bytes())
    }

    pub(crate) fn verify(&self, parts: &[&str], signature_hex: &str) -> bool {
        let Ok(sig) = hex::decode(signature_hex) else {
            return false;
        };
        self.mac(parts).verify_slice(&sig).is_ok()
    }

    fn mac(&self, parts: &[&str]) -> Hmac<Sha256> {
        // HMAC accepts keys of any length, so this cannot fail.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
        for p in parts {
            mac.update(p.as_bytes());
            mac.update(b"\n");
        }
        mac
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_bind_every_part() {
        let s = Signer::new([7; 32]);
        let sig = s.sign(&["a", "b"]);
        assert!(s.verify(&["a", "b"], &sig));
        assert!(!s.verify(&["a", "c"], &sig));
        assert!(!s.verify(&["ab"], &sig));
        assert!(!Signer::new([8; 32]).verify(&["a", "b"], &sig));
        assert!(!s.verify(&["a", "b"], "zz"));
    }
}
