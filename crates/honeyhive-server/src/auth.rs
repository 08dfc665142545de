//! API keys: generation, hashing, and the per-request `Authorization` check.
//!
//! Keys are stored only as sha256 hashes. A verified key's tenant is cached in
//! memory, so authenticating costs one hash and one map lookup per request
//! (never per span); an unknown key is remembered for a few seconds too, so a
//! client retrying a bad key does not cost a store read each time.
//!
//! Only `Authorization: Bearer <key>` is read (the scheme in any case): a bare
//! key is refused with a hint, so a misconfigured client finds out at once.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use honeyhive_model::{ErrorCode, ErrorCoded};
use parking_lot::RwLock;
use sha2::{Digest, Sha256};

use crate::store::{CatalogStore, StoreError, Tenant};

/// Most keys remembered, verified or unknown; past it that cache is cleared.
const MAX_CACHED_KEYS: usize = 10_000;
/// How long an unknown key is answered 401 without asking the store again. A
/// key created with `hh keys create` while the server runs works at most this
/// long after a client first tried it.
const UNKNOWN_KEY_TTL: Duration = Duration::from_secs(10);
/// Shortest bootstrap key the server starts with.
pub const MIN_KEY_LEN: usize = 16;
/// Fewest distinct characters a bootstrap key may have.
const MIN_DISTINCT_KEY_CHARS: usize = 8;
/// Below this length a bootstrap key is accepted with a warning.
const RECOMMENDED_KEY_LEN: usize = 32;

/// A fresh random API key, `hh_` followed by 64 hex characters.
///
/// ```
/// let key = honeyhive_server::auth::generate_key();
/// assert!(key.starts_with("hh_") && key.len() == 67);
/// ```
pub fn generate_key() -> String {
    format!(
        "hh_{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

/// The stored form of a key: lowercase hex sha256.
///
/// ```
/// let h = honeyhive_server::auth::hash_key("k");
/// assert_eq!(h.len(), 64);
/// ```
pub fn hash_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// How a bootstrap key (`HH_API_KEY`) measures up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyStrength {
    /// Long and varied enough.
    Strong,
    /// Accepted, but shorter than recommended: the server warns.
    Short,
}

/// Checks a key an operator chose (`HH_API_KEY`), since it guards every
/// request of its project: at least 16 characters with at least 8 different
/// ones, and 32 or more recommended. Keys from [`generate_key`] pass.
///
/// ```
/// use honeyhive_server::auth::{check_operator_key, generate_key, KeyStrength};
/// assert_eq!(check_operator_key(&generate_key()), Ok(KeyStrength::Strong));
/// assert_eq!(check_operator_key("hh-demo-key-local-only"), Ok(KeyStrength::Short));
/// assert!(check_operator_key("secret").is_err());
/// assert!(check_operator_key("aaaaaaaaaaaaaaaaaaaaaaaa").is_err());
/// ```
pub fn check_operator_key(key: &str) -> Result<KeyStrength, String> {
    let len = key.chars().count();
    if len < MIN_KEY_LEN {
        return Err(format!(
            "the api key has {len} characters; use at least {MIN_KEY_LEN} (`hh keys create` makes a random one)"
        ));
    }
    let mut distinct: Vec<char> = key.chars().collect();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.len() < MIN_DISTINCT_KEY_CHARS {
        return Err(format!(
            "the api key uses only {} different characters; use a random key (`hh keys create` makes one)",
            distinct.len()
        ));
    }
    Ok(if len < RECOMMENDED_KEY_LEN {
        KeyStrength::Short
    } else {
        KeyStrength::Strong
    })
}

/// Why a request was not authenticated.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// No `Authorization` header.
    #[error("missing api key")]
    Missing,
    /// An `Authorization` header that is not `Bearer <key>`.
    #[error("the authorization header is not `Bearer <key>`")]
    NotBearer,
    /// A key no project has.
    #[error("unknown api key")]
    Unknown,
    /// The store could not be asked.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A missing, malformed or unknown key is answered 401 with what to send; a
/// store that cannot be asked, as the store's error.
impl ErrorCoded for AuthError {
    fn code(&self) -> ErrorCode {
        match self {
            AuthError::Missing | AuthError::NotBearer | AuthError::Unknown => {
                ErrorCode::Unauthenticated
            }
            AuthError::Store(e) => e.code(),
        }
    }

    fn hint(&self) -> Option<&str> {
        match self {
            AuthError::Missing | AuthError::NotBearer => Some("send `Authorization: Bearer <key>`"),
            AuthError::Unknown => Some("create one with `hh keys create --project NAME`"),
            AuthError::Store(e) => e.hint(),
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            AuthError::Store(e) => e.retry_after(),
            _ => None,
        }
    }

    fn public_message(&self) -> String {
        match self {
            AuthError::Store(e) => e.public_message(),
            other => other.to_string(),
        }
    }

    fn is_server_fault(&self) -> bool {
        matches!(self, AuthError::Store(e) if e.is_server_fault())
    }
}

/// Verified key hashes → tenant, and recently refused hashes.
#[derive(Debug, Default)]
pub struct KeyCache {
    verified: RwLock<HashMap<String, Tenant>>,
    unknown: RwLock<HashMap<String, Instant>>,
}

impl KeyCache {
    /// The tenant of `key`, from the cache or the store; `Unauthenticated` if unknown.
    pub async fn authenticate(
        &self,
        store: &dyn CatalogStore,
        key: &str,
    ) -> Result<Tenant, AuthError> {
        self.authenticate_hash(store, hash_key(key)).await
    }

    /// The tenant of the key whose hash is `hash` (a dashboard session names
    /// its key by hash), from the cache or the store, as [`Self::authenticate`].
    pub async fn authenticate_hash(
        &self,
        store: &dyn CatalogStore,
        hash: String,
    ) -> Result<Tenant, AuthError> {
        if let Some(tenant) = self.verified.read().get(&hash) {
            return Ok(tenant.clone());
        }
        if self
            .unknown
            .read()
            .get(&hash)
            .is_some_and(|seen| seen.elapsed() < UNKNOWN_KEY_TTL)
        {
            return Err(AuthError::Unknown);
        }
        match store.tenant_for_key(&hash).await? {
            Some(tenant) => {
                let mut cache = self.verified.write();
                if cache.len() >= MAX_CACHED_KEYS {
                    cache.clear();
                }
                cache.insert(hash, tenant.clone());
                Ok(tenant)
            }
            None => {
                let mut unknown = self.unknown.write();
                if unknown.len() >= MAX_CACHED_KEYS {
                    unknown.retain(|_, seen| seen.elapsed() < UNKNOWN_KEY_TTL);
                    if unknown.len() >= MAX_CACHED_KEYS {
                        unknown.clear();
                    }
                }
                unknown.insert(hash, Instant::now());
                Err(AuthError::Unknown)
            }
        }
    }

    /// Forgets that `key` was unknown (a key just created in this process).
    pub fn forget_unknown(&self, key: &str) {
        self.unknown.write().remove(&hash_key(key));
    }
}

/// The key of an `Authorization` header value: `Bearer <key>`, the scheme in
/// any case. `None` for anything else.
///
/// ```
/// use honeyhive_server::auth::bearer_token;
/// assert_eq!(bearer_token("Bearer hh_abc"), Some("hh_abc"));
/// assert_eq!(bearer_token("bearer   hh_abc "), Some("hh_abc"));
/// assert_eq!(bearer_token("hh_abc"), None);
/// assert_eq!(bearer_token("Basic dXNlcg=="), None);
/// assert_eq!(bearer_token("Bearer "), None);
/// ```
pub fn bearer_token(value: &str) -> Option<&str> {
    let value = value.trim();
    let (scheme, token) = value.split_once(|c: char| c.is_ascii_whitespace())?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}
