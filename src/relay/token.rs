//! Access tokens: signed, expiring grants of read or read-write rights on the documents whose
//! ids start with a prefix.
//!
//! ## Format, version 1
//! `pa1.<claims>.<mac>`, where `<claims>` is base64url (no padding) of a JSON object
//! `{"p": prefix, "r": "r" | "rw", "exp": unix seconds, "dev": device hex (optional)}` and
//! `<mac>` is base64url of HMAC-SHA256(secret, `"pa1." + <claims>`). The relay checks the MAC
//! in constant time before it reads the claims, so a forged token is `Unauthorized`, never
//! `Expired`. A token with `dev` is valid only for that device.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use thiserror::Error;

use crate::DeviceId;
use crate::sync::{Access, Scope};

const PREFIX: &str = "pa1.";

/// Shortest secret accepted, in bytes.
pub const MIN_SECRET_BYTES: usize = 16;

/// What a token allows on its documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Rights {
    /// Receive the documents.
    #[serde(rename = "r")]
    Read,
    /// Receive and change them.
    #[serde(rename = "rw")]
    ReadWrite,
}

/// What a token grants.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// Documents whose id starts with this (empty: every document).
    #[serde(rename = "p")]
    pub prefix: String,
    /// Read or read-write.
    #[serde(rename = "r")]
    pub rights: Rights,
    /// Expiry, in seconds since the Unix epoch.
    #[serde(rename = "exp")]
    pub expires_at: u64,
    /// The only device that may use the token, if bound to one.
    #[serde(rename = "dev", default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
}

impl Claims {
    /// The access these claims give a session.
    pub fn access(&self) -> Access {
        let scope = if self.prefix.is_empty() {
            Scope::All
        } else {
            Scope::Prefixes(vec![self.prefix.clone()])
        };
        Access {
            read: scope.clone(),
            write: match self.rights {
                Rights::ReadWrite => scope,
                Rights::Read => Scope::Nothing,
            },
        }
    }
}

/// Why a token was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum TokenError {
    /// The secret is too short to sign with.
    #[error("the token secret has {len} bytes; use at least {MIN_SECRET_BYTES} random bytes")]
    WeakSecret {
        /// Its length.
        len: usize,
    },
    /// No token was presented.
    #[error(
        "this relay requires an access token: ask its operator for one (polyarch-relay token mint)"
    )]
    Missing,
    /// Not a token of this format.
    #[error("the access token is malformed: it must look like pa1.<claims>.<signature>")]
    Malformed,
    /// The signature does not match: forged, altered, or made with another relay's secret.
    #[error(
        "the access token was not issued by this relay (bad signature): get a token from this relay's operator"
    )]
    BadSignature,
    /// The token has expired.
    #[error("the access token expired at {expired_at} (Unix seconds): get a new one")]
    Expired {
        /// When it expired.
        expired_at: u64,
    },
    /// The token is bound to another device.
    #[error("the access token is bound to device {bound}, not to this device")]
    WrongDevice {
        /// The device it is bound to.
        bound: String,
    },
}

type HmacSha256 = hmac::Hmac<Sha256>;

fn mac(secret: &[u8]) -> Result<HmacSha256, TokenError> {
    if secret.len() < MIN_SECRET_BYTES {
        return Err(TokenError::WeakSecret { len: secret.len() });
    }
    HmacSha256::new_from_slice(secret).map_err(|_| TokenError::WeakSecret { len: secret.len() })
}

/// Signs `claims` with `secret`.
pub fn mint(secret: &[u8], claims: &Claims) -> Result<String, TokenError> {
    let json = serde_json::to_vec(claims).map_err(|_| TokenError::Malformed)?;
    let body = format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(json));
    let mut m = mac(secret)?;
    m.update(body.as_bytes());
    let sig = m.finalize().into_bytes();
    Ok(format!("{body}.{}", URL_SAFE_NO_PAD.encode(sig)))
}

/// Checks `token` against `secret` (constant-time MAC comparison), then its expiry against
/// `now` (Unix seconds) and its device binding against `device`.
pub fn verify(
    secret: &[u8],
    token: &str,
    now: u64,
    device: &DeviceId,
) -> Result<Claims, TokenError> {
    if token.is_empty() {
        return Err(TokenError::Missing);
    }
    let rest = token.strip_prefix(PREFIX).ok_or(TokenError::Malformed)?;
    let (claims_b64, sig_b64) = rest.split_once('.').ok_or(TokenError::Malformed)?;
    let body = token
        .get(..PREFIX.len() + claims_b64.len())
        .ok_or(TokenError::Malformed)?;
    let sig = URL_SAFE_NO_PAD
        .decode(sig_b64)
        .map_err(|_| TokenError::Malformed)?;
    let mut m = mac(secret)?;
    m.update(body.as_bytes());
    m.verify_slice(&sig).map_err(|_| TokenError::BadSignature)?;
    let json = URL_SAFE_NO_PAD
        .decode(claims_b64)
        .map_err(|_| TokenError::Malformed)?;
    let claims: Claims = serde_json::from_slice(&json).map_err(|_| TokenError::Malformed)?;
    if now >= claims.expires_at {
        return Err(TokenError::Expired {
            expired_at: claims.expires_at,
        });
    }
    if let Some(bound) = &claims.device
        && !bound.eq_ignore_ascii_case(&device.to_string())
    {
        return Err(TokenError::WrongDevice {
            bound: bound.clone(),
        });
    }
    Ok(claims)
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123";

    fn claims(exp: u64) -> Claims {
        Claims {
            prefix: "cal/".into(),
            rights: Rights::ReadWrite,
            expires_at: exp,
            device: None,
        }
    }

    #[test]
    fn round_trip_and_rejections() {
        let dev = DeviceId::random();
        let t = mint(SECRET, &claims(2_000)).unwrap();
        assert_eq!(verify(SECRET, &t, 1_000, &dev).unwrap(), claims(2_000));
        assert_eq!(
            verify(SECRET, &t, 2_000, &dev),
            Err(TokenError::Expired { expired_at: 2_000 })
        );
        assert_eq!(
            verify(b"another-secret-of-20b", &t, 1_000, &dev),
            Err(TokenError::BadSignature)
        );
        // Altering the claims breaks the signature, even when expired.
        let forged = mint(b"another-secret-of-20b", &claims(1)).unwrap();
        assert_eq!(
            verify(SECRET, &forged, 1_000, &dev),
            Err(TokenError::BadSignature)
        );
        assert_eq!(verify(SECRET, "", 0, &dev), Err(TokenError::Missing));
        assert_eq!(verify(SECRET, "pa1.x", 0, &dev), Err(TokenError::Malformed));
        assert_eq!(verify(SECRET, "xyz", 0, &dev), Err(TokenError::Malformed));
        assert!(matches!(
            mint(b"short", &claims(1)),
            Err(TokenError::WeakSecret { .. })
        ));
    }

    #[test]
    fn device_binding() {
        let dev = DeviceId::random();
        let mut c = claims(2_000);
        c.device = Some(dev.to_string());
        let t = mint(SECRET, &c).unwrap();
        assert!(verify(SECRET, &t, 1, &dev).is_ok());
        assert!(matches!(
            verify(SECRET, &t, 1, &DeviceId::random()),
            Err(TokenError::WrongDevice { .. })
        ));
    }
}
