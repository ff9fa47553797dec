//! Opaque, tamper-evident page tokens: a position plus an HMAC over the
//! position and the query it belongs to, so a token cannot be forged,
//! edited or replayed against another query.

use super::AppError;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

const MAC_LEN: usize = 16;

/// A requested page: its size (already clamped) and the token, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub size: usize,
    pub token: String,
}

impl Page {
    /// Applies the AIP-158 rules: negative is an error, 0 means the
    /// default, above the maximum is clamped.
    pub fn parse(size: i32, token: String, default: usize, max: usize) -> Result<Self, AppError> {
        let size = match size {
            n if n < 0 => return Err(AppError::invalid("page_size", "must not be negative")),
            0 => default,
            n => (n as usize).min(max),
        };
        Ok(Self { size, token })
    }
}

#[derive(Clone)]
pub struct PageTokens {
    key: Vec<u8>,
}

impl PageTokens {
    pub fn new(secret: &[u8]) -> Self {
        Self {
            key: secret.to_vec(),
        }
    }

    fn hmac(&self, scope: &str, payload: &[u8]) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(&(scope.len() as u64).to_be_bytes());
        mac.update(scope.as_bytes());
        mac.update(payload);
        mac
    }

    fn mac(&self, scope: &str, payload: &[u8]) -> [u8; MAC_LEN] {
        let full = self.hmac(scope, payload).finalize().into_bytes();
        let mut out = [0u8; MAC_LEN];
        out.copy_from_slice(&full[..MAC_LEN]);
        out
    }

    pub fn encode(&self, scope: &str, payload: &str) -> String {
        let mut bytes = payload.as_bytes().to_vec();
        bytes.extend_from_slice(&self.mac(scope, payload.as_bytes()));
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// The payload of a token made by [`PageTokens::encode`] for this scope.
    pub fn decode(&self, scope: &str, token: &str) -> Result<String, AppError> {
        let invalid = || AppError::invalid("page_token", "is not a page token of this query");
        let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| invalid())?;
        if bytes.len() < MAC_LEN {
            return Err(invalid());
        }
        let (payload, mac) = bytes.split_at(bytes.len() - MAC_LEN);
        // Constant-time comparison through the hmac crate's verifier.
        self.hmac(scope, payload)
            .verify_truncated_left(mac)
            .map_err(|_| invalid())?;
        String::from_utf8(payload.to_vec()).map_err(|_| invalid())
    }

    pub fn encode_offset(&self, scope: &str, offset: usize) -> String {
        self.encode(scope, &offset.to_string())
    }

    /// The offset a page starts at: 0 without a token.
    pub fn offset(&self, page: &Page, scope: &str) -> Result<usize, AppError> {
        if page.token.is_empty() {
            return Ok(0);
        }
        self.decode(scope, &page.token)?
            .parse()
            .map_err(|_| AppError::invalid("page_token", "is not a page token of this query"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_decodes_only_in_its_own_scope_and_unaltered() {
        let tokens = PageTokens::new(b"secret");
        let token = tokens.encode_offset("search:abc", 50);
        let page = Page {
            size: 50,
            token: token.clone(),
        };
        assert_eq!(tokens.offset(&page, "search:abc").unwrap(), 50);
        assert!(tokens.offset(&page, "search:xyz").is_err());

        let mut bytes = URL_SAFE_NO_PAD.decode(&token).unwrap();
        bytes[0] = b'9';
        let tampered = Page {
            size: 50,
            token: URL_SAFE_NO_PAD.encode(bytes),
        };
        assert!(tokens.offset(&tampered, "search:abc").is_err());
        assert!(
            PageTokens::new(b"other")
                .offset(&page, "search:abc")
                .is_err()
        );
    }

    #[test]
    fn page_sizes_follow_the_aip_rules() {
        assert!(Page::parse(-1, String::new(), 50, 200).is_err());
        assert_eq!(Page::parse(0, String::new(), 50, 200).unwrap().size, 50);
        assert_eq!(Page::parse(1000, String::new(), 50, 200).unwrap().size, 200);
    }
}
