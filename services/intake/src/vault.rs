//! The petitioner vault: identity fields are sealed with AES-256-GCM under a
//! versioned key, and petitioners are known outside intake only by a keyed hash.

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Current key version written with every sealed value.
pub const KEY_VERSION: i32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error("{0}: the key file must hold a base64-encoded 32-byte key")]
    BadKey(&'static str),
    #[error("cannot read {0}: {1}")]
    Io(String, String),
    #[error("sealed value cannot be opened (wrong key or damaged)")]
    Open,
    #[error("sealed with key version {0}, which this deployment does not hold")]
    UnknownVersion(i32),
}

/// The keys of the vault. Cheap to clone.
#[derive(Clone)]
pub struct Vault {
    cipher: Aes256Gcm,
    pseudonym_key: [u8; 32],
    /// Keys the similarity shingles of summaries (derived from the pseudonym key).
    signature_key: [u8; 32],
    /// Keys the client tags of the public rate limits (derived likewise).
    client_key: [u8; 32],
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Vault([redacted])")
    }
}

fn read_key(path: &str, what: &'static str) -> Result<[u8; 32], VaultError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| VaultError::Io(path.to_owned(), e.to_string()))?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .map_err(|_| VaultError::BadKey(what))?;
    bytes.try_into().map_err(|_| VaultError::BadKey(what))
}

impl Vault {
    pub fn from_files(key_file: &str, pseudonym_key_file: &str) -> Result<Self, VaultError> {
        let key = read_key(key_file, "vault.key_file")?;
        let pkey = read_key(pseudonym_key_file, "vault.pseudonym_key_file")?;
        Self::from_keys(&key, &pkey)
    }

    pub fn from_keys(key: &[u8; 32], pseudonym_key: &[u8; 32]) -> Result<Self, VaultError> {
        let cipher =
            Aes256Gcm::new_from_slice(key).map_err(|_| VaultError::BadKey("vault.key_file"))?;
        Ok(Vault {
            cipher,
            pseudonym_key: *pseudonym_key,
            signature_key: derive(pseudonym_key, b"xinfang/similarity-signature/v1"),
            client_key: derive(pseudonym_key, b"xinfang/public-client-tag/v1"),
        })
    }

    /// The similarity signature of a summary: its shingles under intake's key, so the
    /// signature that travels on the bus cannot be read back into text by anyone who
    /// does not hold the key (routing only compares signatures).
    pub fn signature(&self, text: &str) -> xf_similarity::Signature {
        xf_similarity::Signature::keyed(text, &self.signature_key)
    }

    /// A keyed tag of a client address for the public rate limits (the address itself
    /// is not stored).
    pub fn client_tag(&self, address: &str) -> Vec<u8> {
        keyed(&self.client_key, address.as_bytes())[..16].to_vec()
    }

    /// Seals `plain`; the result is nonce ‖ ciphertext. `aad` binds it to its row.
    pub fn seal(&self, plain: &[u8], aad: &[u8]) -> Vec<u8> {
        let nonce_bytes: [u8; 12] = rand::random();
        let nonce = Nonce::from(nonce_bytes);
        let payload = aes_gcm::aead::Payload { msg: plain, aad };
        // Encryption with a valid key and a 12-byte nonce cannot fail.
        let ct = self.cipher.encrypt(&nonce, payload).unwrap_or_default();
        let mut out = Vec::with_capacity(12 + ct.len());
        out.extend_from_slice(&nonce_bytes);
        out.extend_from_slice(&ct);
        out
    }

    /// Opens a value sealed with [`Vault::seal`] under key `version`.
    pub fn open(&self, sealed: &[u8], aad: &[u8], version: i32) -> Result<Vec<u8>, VaultError> {
        if version != KEY_VERSION {
            return Err(VaultError::UnknownVersion(version));
        }
        if sealed.len() < 12 {
            return Err(VaultError::Open);
        }
        let (n, ct) = sealed.split_at(12);
        let nonce_bytes: [u8; 12] = n.try_into().map_err(|_| VaultError::Open)?;
        let nonce = Nonce::from(nonce_bytes);
        self.cipher
            .decrypt(&nonce, aes_gcm::aead::Payload { msg: ct, aad })
            .map_err(|_| VaultError::Open)
    }

    /// The sealed content (summary and requests) of an accusation, opened: it is sealed
    /// under the case id with key `version`.
    pub fn open_content(
        &self,
        sealed: &[u8],
        case_id: uuid::Uuid,
        version: i32,
    ) -> Result<serde_json::Value, xf_http::Problem> {
        let plain = self
            .open(sealed, case_id.as_bytes(), version)
            .map_err(|e| xf_http::Problem::internal(&e))?;
        serde_json::from_slice(&plain).map_err(|e| xf_http::Problem::internal(&e))
    }

    /// The pseudonymous petitioner id: a keyed hash over the normalised resident ID
    /// number, or else name and phone. None when there is nothing to identify.
    pub fn pseudonym(
        &self,
        id_number: Option<&str>,
        name: Option<&str>,
        phone: Option<&str>,
    ) -> Option<String> {
        let basis = match (id_number, name, phone) {
            (Some(id), _, _) if !id.trim().is_empty() => {
                format!("id:{}", id.trim().to_ascii_uppercase())
            }
            (_, Some(n), Some(p)) if !n.trim().is_empty() && !p.trim().is_empty() => {
                let n: String = n.chars().filter(|c| !c.is_whitespace()).collect();
                let p: String = normalise_phone(p);
                format!("np:{n}|{p}")
            }
            _ => return None,
        };
        let mut mac = <Hmac<Sha256> as hmac::KeyInit>::new_from_slice(&self.pseudonym_key).ok()?;
        mac.update(basis.as_bytes());
        let digest = mac.finalize().into_bytes();
        Some(format!("p1_{}", hex(&digest[..16])))
    }
}

fn keyed(key: &[u8; 32], msg: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length; a 32-byte key cannot fail.
    let mut mac = <Hmac<Sha256> as hmac::KeyInit>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    mac.update(msg);
    mac.finalize().into_bytes().into()
}

/// A sub-key for one purpose (domain separation), so that one secret file yields
/// independent keys.
fn derive(root: &[u8; 32], purpose: &[u8]) -> [u8; 32] {
    keyed(root, purpose)
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Digits only, without a +86 / 0086 country prefix.
pub fn normalise_phone(p: &str) -> String {
    let digits: String = p.chars().filter(char::is_ascii_digit).collect();
    if let Some(rest) = digits.strip_prefix("0086") {
        return rest.to_owned();
    }
    if p.trim_start().starts_with("+86") {
        return digits.strip_prefix("86").unwrap_or(&digits).to_owned();
    }
    digits
}

/// A mainland mobile number (11 digits, 1[3-9]…) or a landline with area code.
pub fn valid_phone(p: &str) -> bool {
    let allowed = p.chars().all(|c| c.is_ascii_digit() || " -+()".contains(c));
    if !allowed {
        return false;
    }
    let d = normalise_phone(p);
    let mobile = d.len() == 11 && d.starts_with('1') && matches!(d.as_bytes()[1], b'3'..=b'9');
    let landline = d.starts_with('0') && (10..=12).contains(&d.len());
    mobile || landline
}

/// A resident ID number (GB 11643-1999): 17 digits, a check character, a real birth date.
pub fn valid_id_number(id: &str) -> bool {
    let id = id.trim().to_ascii_uppercase();
    let b = id.as_bytes();
    if b.len() != 18 || !b[..17].iter().all(u8::is_ascii_digit) {
        return false;
    }
    const W: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const CHECK: &[u8; 11] = b"10X98765432";
    let sum: u32 = b[..17]
        .iter()
        .zip(W)
        .map(|(d, w)| u32::from(d - b'0') * w)
        .sum();
    if CHECK[(sum % 11) as usize] != b[17] {
        return false;
    }
    chrono::NaiveDate::parse_from_str(&id[6..14], "%Y%m%d").is_ok()
}

/// Constant-time comparison of two byte strings.
pub fn same(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// SHA-256 of the query code bound to the case.
pub fn query_code_hash(case_id: uuid::Uuid, code: &str) -> Vec<u8> {
    use sha2::Digest;
    let mut h = Sha256::new();
    h.update(case_id.as_bytes());
    h.update(code.trim().to_ascii_uppercase().as_bytes());
    h.finalize().to_vec()
}

/// A fresh query code: 8 characters from an alphabet without look-alikes.
pub fn new_query_code() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    (0..8)
        .map(|_| ALPHABET[rand::random_range(0..ALPHABET.len())] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vault() -> Vault {
        Vault::from_keys(&[7; 32], &[9; 32]).expect("keys")
    }

    #[test]
    fn seal_and_open_bind_to_the_row() {
        let v = vault();
        let sealed = v.seal("张三".as_bytes(), b"case-1");
        assert!(!sealed.windows(6).any(|w| w == "张三".as_bytes()));
        assert_eq!(
            v.open(&sealed, b"case-1", KEY_VERSION).expect("opens"),
            "张三".as_bytes()
        );
        assert!(
            v.open(&sealed, b"case-2", KEY_VERSION).is_err(),
            "bound to its row"
        );
        assert!(v.open(&sealed, b"case-1", 2).is_err());
        let other = Vault::from_keys(&[8; 32], &[9; 32]).expect("keys");
        assert!(other.open(&sealed, b"case-1", KEY_VERSION).is_err());
    }

    #[test]
    fn pseudonyms_are_stable_and_keyed() {
        let v = vault();
        let a = v.pseudonym(Some("11010519491231002x"), Some("张三"), None);
        let b = v.pseudonym(Some(" 11010519491231002X "), None, Some("13800138000"));
        assert_eq!(a, b);
        let c = v.pseudonym(None, Some("张 三"), Some("+86 138-0013-8000"));
        let d = v.pseudonym(None, Some("张三"), Some("13800138000"));
        assert_eq!(c, d);
        assert_ne!(a, c);
        assert_eq!(v.pseudonym(None, Some("张三"), None), None);
        let other = Vault::from_keys(&[7; 32], &[1; 32]).expect("keys");
        assert_ne!(other.pseudonym(None, Some("张三"), Some("13800138000")), d);
    }

    #[test]
    fn id_numbers_and_phones() {
        assert!(valid_id_number("11010519491231002X"));
        assert!(!valid_id_number("110105194912310029"));
        assert!(!valid_id_number("11010519491331002X"), "month 13");
        assert!(!valid_id_number("1101051949123100"));
        assert!(valid_phone("13800138000"));
        assert!(valid_phone("+86 138 0013 8000"));
        assert!(valid_phone("0571-64212345"));
        assert!(!valid_phone("12345"));
        assert!(!valid_phone("1380013800a"));
        assert!(!valid_phone("23800138000"));
    }

    #[test]
    fn query_codes() {
        let code = new_query_code();
        assert_eq!(code.len(), 8);
        let id = uuid::Uuid::now_v7();
        assert!(same(
            &query_code_hash(id, &code),
            &query_code_hash(id, &code.to_lowercase())
        ));
        assert!(!same(
            &query_code_hash(id, &code),
            &query_code_hash(id, "AAAAAAAA")
        ));
    }
}
