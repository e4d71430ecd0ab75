//! How driftlake talks to cloud object stores (`[storage]` in the job
//! file): retries of transient failures and request timeouts, applied to
//! every `s3://`, `gs://` and `az://` store the process opens (sources, the
//! lake and the read commands alike). Local and in-memory stores do not
//! fail transiently and ignore them.
//!
//! Retries are object_store's own (`RetryConfig`): a 5xx or 429 answer, a
//! connection error or a timeout is retried with exponential backoff until
//! `max_retries` or `retry_timeout` is reached; a 4xx other than 429 is not
//! retried. A request that still fails becomes the error of the call (an
//! input that fails, or a failed run when the lake cannot be written).

use std::sync::RwLock;
use std::time::Duration;

use object_store::{ClientConfigKey, RetryConfig};

/// Cloud store client settings.
#[derive(Clone, Debug, PartialEq)]
pub struct StorageOptions {
    /// Retries of one request after its first attempt (0: none).
    pub max_retries: usize,
    /// No retry starts later than this after the first attempt.
    pub retry_timeout: Duration,
    /// One request's whole time (connect, send, receive).
    pub request_timeout: Duration,
    /// The connect phase's time.
    pub connect_timeout: Duration,
}

impl Default for StorageOptions {
    /// object_store's defaults: 10 retries within 3 minutes, 30 s per
    /// request, 5 s to connect.
    fn default() -> Self {
        let retry = RetryConfig::default();
        StorageOptions {
            max_retries: retry.max_retries,
            retry_timeout: retry.retry_timeout,
            request_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(5),
        }
    }
}

impl StorageOptions {
    /// object_store's retry settings (its default backoff).
    pub fn retry(&self) -> RetryConfig {
        RetryConfig {
            max_retries: self.max_retries,
            retry_timeout: self.retry_timeout,
            ..RetryConfig::default()
        }
    }

    /// The client settings as object_store config entries (applied on top
    /// of what the builders read from the environment, so `AWS_ALLOW_HTTP`
    /// and the like still hold).
    pub fn client_config(&self) -> [(ClientConfigKey, String); 2] {
        let ms = |d: Duration| format!("{}ms", d.as_millis().max(1));
        [
            (ClientConfigKey::Timeout, ms(self.request_timeout)),
            (ClientConfigKey::ConnectTimeout, ms(self.connect_timeout)),
        ]
    }
}

static OPTIONS: RwLock<Option<StorageOptions>> = RwLock::new(None);

/// Use `options` for every cloud store opened from now on (a job sets its
/// `[storage]` before it opens anything).
pub fn set_storage_options(options: StorageOptions) {
    *OPTIONS.write().unwrap_or_else(|e| e.into_inner()) = Some(options);
}

/// The settings cloud stores are opened with.
pub fn storage_options() -> StorageOptions {
    OPTIONS
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_object_stores_and_map_to_its_config() {
        let o = StorageOptions::default();
        assert_eq!(o.retry().max_retries, RetryConfig::default().max_retries);
        let c = StorageOptions {
            request_timeout: Duration::from_millis(2500),
            ..o
        }
        .client_config();
        assert_eq!(c[0], (ClientConfigKey::Timeout, "2500ms".to_string()));
        assert_eq!(
            c[1],
            (ClientConfigKey::ConnectTimeout, "5000ms".to_string())
        );
    }
}
