//! Bearer tokens. The configuration holds only each token's SHA-256 (`[[token]]`), so reading
//! the file or the store never yields a usable token. A token's role is `read` (every GET) or
//! `admin` (also acknowledgements and runs on demand). The dashboard takes the same token from
//! a cookie set by its sign-in form, since a browser cannot add a header to a link.

use sha2::{Digest, Sha256};
use std::collections::HashMap;

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    Read,
    Admin,
}

/// Who is calling: the token's name (recorded as who acknowledged) and role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub name: String,
    pub role: Role,
}

/// The cookie the dashboard's sign-in sets.
pub const COOKIE: &str = "driftlog_token";

/// Configured tokens by the hex SHA-256 of their value.
#[derive(Debug, Clone, Default)]
pub struct Tokens(HashMap<String, Caller>);

impl Tokens {
    pub fn from_config(config: &driftlog_config::Config) -> Self {
        Self(
            config
                .tokens
                .iter()
                .map(|t| {
                    (
                        t.sha256.get_ref().to_ascii_lowercase(),
                        Caller {
                            name: t.name.get_ref().clone(),
                            role: if t.role.get_ref() == "admin" {
                                Role::Admin
                            } else {
                                Role::Read
                            },
                        },
                    )
                })
                .collect(),
        )
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Who `token` is; with no tokens configured (loopback only), everyone is an admin.
    pub fn check(&self, token: Option<&str>) -> Option<Caller> {
        if self.0.is_empty() {
            return Some(Caller {
                name: "anonymous".into(),
                role: Role::Admin,
            });
        }
        let hash = hex::encode(Sha256::digest(token?.trim().as_bytes()));
        self.0.get(&hash).cloned()
    }
}

/// The token of a request: `Authorization: Bearer …`, else the dashboard's cookie.
pub fn token_of(headers: &axum::http::HeaderMap) -> Option<&str> {
    if let Some(v) = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        return v.strip_prefix("Bearer ").map(str::trim);
    }
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| c.trim().strip_prefix(COOKIE)?.strip_prefix('='))
}

/// A new token (`dl_` + 32 random bytes in hex) and its SHA-256.
pub fn new_token() -> Result<(String, String), String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| e.to_string())?;
    let token = format!("dl_{}", hex::encode(bytes));
    let hash = hex::encode(Sha256::digest(token.as_bytes()));
    Ok((token, hash))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_known_by_its_hash_only() {
        let (token, hash) = new_token().unwrap();
        let config = driftlog_config::parse(
            "d.toml",
            &format!("[[token]]\nname = \"ci\"\nrole = \"read\"\nsha256 = \"{hash}\"\n"),
        )
        .unwrap();
        let tokens = Tokens::from_config(&config);
        assert_eq!(
            tokens.check(Some(&token)),
            Some(Caller {
                name: "ci".into(),
                role: Role::Read
            })
        );
        assert_eq!(tokens.check(Some(&hash)), None, "the hash is not a token");
        assert_eq!(tokens.check(None), None);
        let mut headers = axum::http::HeaderMap::new();
        headers.insert("cookie", "a=b; driftlog_token=xyz".parse().unwrap());
        assert_eq!(token_of(&headers), Some("xyz"));
        headers.insert("authorization", "Bearer abc".parse().unwrap());
        assert_eq!(token_of(&headers), Some("abc"));
    }
}
