//! Retrying whole reads from cloud stores. object_store retries each HTTP
//! request by itself (`[storage]`), but an answer whose body breaks off
//! after the headers (a reset or short read mid-body), or a listing page
//! that does, can still surface as an error of the call. Reads of whole
//! objects and whole listings are therefore retried here too, under the
//! same `max_retries` and `retry_timeout`, with exponential backoff. Only
//! cloud stores are retried, and only errors of the transport (an
//! `HttpError` in the error's chain: a connection refused or reset, a
//! timeout, a body that broke off); an answer with an HTTP status (a 4xx
//! such as a missing bucket or denied access, or a 5xx object_store has
//! already retried), "not found" and the like fail at once.

use std::future::Future;
use std::time::{Duration, Instant};

use super::storage_options;

/// True for errors worth another attempt: a transport error somewhere in
/// a `Generic` error's chain.
fn transient(e: &object_store::Error) -> bool {
    let object_store::Error::Generic { source, .. } = e else {
        return false;
    };
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(source.as_ref());
    while let Some(c) = cause {
        if c.is::<object_store::client::HttpError>() {
            return true;
        }
        cause = c.source();
    }
    false
}

/// Run `attempt` until it succeeds, fails for good, or the retries of
/// `[storage]` are spent (`remote` false: once). `what` names the call in
/// the log line of each retry.
pub async fn retried<T, F, Fut>(remote: bool, what: &str, mut attempt: F) -> object_store::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = object_store::Result<T>>,
{
    let o = storage_options();
    let started = Instant::now();
    let mut delay = Duration::from_millis(50);
    let mut n = 0;
    loop {
        match attempt().await {
            Err(e)
                if remote
                    && transient(&e)
                    && n < o.max_retries
                    && started.elapsed() + delay < o.retry_timeout =>
            {
                n += 1;
                tracing::warn!(what, attempt = n, error = %e, "Transient store error; retrying.");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(10));
            }
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn generic() -> object_store::Error {
        use object_store::client::{HttpError, HttpErrorKind};
        object_store::Error::Generic {
            store: "test",
            source: Box::new(HttpError::new(
                HttpErrorKind::Interrupted,
                std::io::Error::from(std::io::ErrorKind::ConnectionReset),
            )),
        }
    }

    #[tokio::test]
    async fn an_answer_with_a_status_is_not_retried() {
        let calls = AtomicUsize::new(0);
        let denied = || {
            calls.fetch_add(1, Ordering::SeqCst);
            async {
                Err::<(), _>(object_store::Error::Generic {
                    store: "S3",
                    source: "Server returned non-2xx status code: 404 Not Found: NoSuchBucket"
                        .into(),
                })
            }
        };
        assert!(retried(true, "list", denied).await.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn transient_errors_are_retried_on_remote_stores_only() {
        let calls = AtomicUsize::new(0);
        let flaky = || {
            let n = calls.fetch_add(1, Ordering::SeqCst);
            async move {
                if n < 2 {
                    Err(generic())
                } else {
                    Ok(n)
                }
            }
        };
        assert_eq!(retried(true, "get", flaky).await.unwrap(), 2);
        calls.store(0, Ordering::SeqCst);
        assert!(retried(false, "get", flaky).await.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 1);

        // Not found is final.
        calls.store(0, Ordering::SeqCst);
        let missing = || {
            calls.fetch_add(1, Ordering::SeqCst);
            async {
                Err::<(), _>(object_store::Error::NotFound {
                    path: "x".into(),
                    source: "gone".into(),
                })
            }
        };
        assert!(retried(true, "get", missing).await.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }
}
