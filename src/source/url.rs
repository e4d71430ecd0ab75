//! URL → object store (spec/lake.md §1).
//!
//! Credentials come from the environment through each builder's `from_env`
//! and never appear in a message: every URL we print or store goes through
//! [`redact`] first.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::ObjectStore;
use url::Url;

use super::SourceError;

/// An opened store and where in it a source or lake lives.
#[derive(Clone, Debug)]
pub struct StoreUrl {
    /// The store.
    pub store: Arc<dyn ObjectStore>,
    /// The source's or lake's root inside the store (may be empty).
    pub prefix: Path,
    /// The store's root URL (scheme + authority, ending in `/`, redacted):
    /// what DataFusion's `register_object_store` wants, e.g. `file:///`,
    /// `s3://bucket/`, `memory://tests/`.
    pub base: Url,
    /// S3 only: the bucket for listings of keys object_store cannot hold
    /// (`super::s3_list`).
    pub(crate) s3: Option<Arc<super::s3_list::RawS3>>,
}

impl StoreUrl {
    /// The full redacted URL of an object of this store.
    pub fn object_url(&self, location: &Path) -> String {
        format!("{}{}", self.base, location)
    }

    /// True for cloud stores (s3, gs, az): their calls can fail transiently
    /// and are retried ([`crate::source::retried`]).
    pub fn is_remote(&self) -> bool {
        !matches!(self.base.scheme(), "file" | "memory")
    }

    /// The redacted URL of the root (for messages).
    pub fn redacted(&self) -> String {
        self.object_url(&self.prefix)
    }

    /// The path of `rel` (a `/`-separated relative path) below the root.
    pub fn child(&self, rel: &str) -> Path {
        rel.split('/')
            .filter(|p| !p.is_empty())
            .fold(self.prefix.clone(), |acc, part| acc.join(part))
    }
}

/// Open a source URL: a plain path (relative to the current directory), or a
/// `file://`, `s3://`, `gs://`, `az://`/`abfs[s]://` or `memory://` URL.
///
/// A local source must exist. `memory://<name>/<prefix>` names a
/// process-wide in-memory store so tests can share one between a writer
/// and a reader.
///
/// # Errors
/// [`SourceError`] when the URL cannot be parsed, the scheme is unknown,
/// a local path does not exist, or a cloud builder rejects its
/// configuration.
pub fn open_url(url: &str) -> Result<StoreUrl, SourceError> {
    open(url, false)
}

/// Open a lake URL: as [`open_url`], but a local lake directory is created
/// when missing.
///
/// # Errors
/// As [`open_url`], plus [`SourceError::LocalPath`] when the directory
/// cannot be created.
pub fn open_lake(url: &str) -> Result<StoreUrl, SourceError> {
    open(url, true)
}

fn open(url: &str, create: bool) -> Result<StoreUrl, SourceError> {
    if !url.contains("://") && !url.starts_with("memory:") {
        return open_local(std::path::Path::new(url), url, create);
    }
    let parsed = Url::parse(url).map_err(|source| SourceError::BadUrl {
        url: redact(url),
        source,
    })?;
    match parsed.scheme() {
        "file" => {
            let path = parsed.to_file_path().map_err(|()| SourceError::LocalPath {
                path: redact(url),
                source: std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    "not a local file url",
                ),
            })?;
            open_local(&path, url, create)
        }
        "memory" => open_memory(&parsed, url),
        "s3" | "s3a" => {
            use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
            let o = super::storage_options();
            let builder = o
                .client_config()
                .into_iter()
                .fold(
                    AmazonS3Builder::from_env().with_retry(o.retry()),
                    |b, (k, v)| b.with_config(AmazonS3ConfigKey::Client(k), v),
                )
                .with_url(url);
            let store = Arc::new(
                builder
                    .clone()
                    .build()
                    .map_err(|source| SourceError::Store {
                        url: redact(url),
                        source,
                    })?,
            );
            let bucket = parsed.host_str().unwrap_or_default();
            let raw = super::s3_list::RawS3::new(Arc::clone(&store), bucket, &builder, &o)
                .map_err(|e| tracing::debug!("no raw S3 listing for {}: {e}", redact(url)))
                .ok();
            let mut opened = cloud(store, &parsed, url)?;
            opened.s3 = raw.map(Arc::new);
            Ok(opened)
        }
        "gs" => {
            use object_store::gcp::{GoogleCloudStorageBuilder, GoogleConfigKey};
            let o = super::storage_options();
            let store = o
                .client_config()
                .into_iter()
                .fold(
                    GoogleCloudStorageBuilder::from_env().with_retry(o.retry()),
                    |b, (k, v)| b.with_config(GoogleConfigKey::Client(k), v),
                )
                .with_url(url)
                .build()
                .map_err(|source| SourceError::Store {
                    url: redact(url),
                    source,
                })?;
            cloud(Arc::new(store), &parsed, url)
        }
        "az" | "adl" | "azure" | "abfs" | "abfss" => {
            use object_store::azure::{AzureConfigKey, MicrosoftAzureBuilder};
            let o = super::storage_options();
            let store = o
                .client_config()
                .into_iter()
                .fold(
                    MicrosoftAzureBuilder::from_env().with_retry(o.retry()),
                    |b, (k, v)| b.with_config(AzureConfigKey::Client(k), v),
                )
                .with_url(url)
                .build()
                .map_err(|source| SourceError::Store {
                    url: redact(url),
                    source,
                })?;
            cloud(Arc::new(store), &parsed, url)
        }
        other => Err(SourceError::UnsupportedScheme {
            scheme: other.to_string(),
            url: redact(url),
        }),
    }
}

fn open_local(path: &std::path::Path, shown: &str, create: bool) -> Result<StoreUrl, SourceError> {
    let local_err = |source| SourceError::LocalPath {
        path: redact(shown),
        source,
    };
    if create {
        std::fs::create_dir_all(path).map_err(local_err)?;
    } else if !path.exists() {
        return Err(SourceError::Missing {
            path: redact(shown),
        });
    }
    // canonicalize resolves `..` and symlinks, so one directory always has
    // one object path (and one `source` string in the lake).
    let abs = std::fs::canonicalize(path).map_err(local_err)?;
    let prefix = Path::from_absolute_path(&abs).map_err(|source| SourceError::Path {
        url: redact(shown),
        source,
    })?;
    Ok(StoreUrl {
        store: Arc::new(object_store::local::LocalFileSystem::new()),
        prefix,
        base: Url::parse("file:///").expect("constant url parses"),
        s3: None,
    })
}

/// The process-wide named in-memory stores behind `memory://<name>/`.
fn memory_store(name: &str) -> Arc<InMemory> {
    static STORES: OnceLock<Mutex<HashMap<String, Arc<InMemory>>>> = OnceLock::new();
    let stores = STORES.get_or_init(Default::default);
    // A poisoned lock only means another thread panicked while inserting;
    // the map itself is still consistent.
    let mut map = stores.lock().unwrap_or_else(|e| e.into_inner());
    Arc::clone(
        map.entry(name.to_string())
            .or_insert_with(|| Arc::new(InMemory::new())),
    )
}

fn open_memory(parsed: &Url, shown: &str) -> Result<StoreUrl, SourceError> {
    let name = parsed.host_str().unwrap_or("");
    let prefix = Path::from_url_path(parsed.path()).map_err(|source| SourceError::Path {
        url: redact(shown),
        source,
    })?;
    let base = Url::parse(&format!("memory://{name}/")).map_err(|source| SourceError::BadUrl {
        url: redact(shown),
        source,
    })?;
    Ok(StoreUrl {
        store: memory_store(name),
        prefix,
        base,
        s3: None,
    })
}

fn cloud(store: Arc<dyn ObjectStore>, parsed: &Url, shown: &str) -> Result<StoreUrl, SourceError> {
    let prefix = Path::from_url_path(parsed.path()).map_err(|source| SourceError::Path {
        url: redact(shown),
        source,
    })?;
    let mut base = parsed.clone();
    base.set_path("/");
    base.set_query(None);
    base.set_fragment(None);
    let _ = base.set_password(None);
    // Only abfs(s) puts meaningful data (the container) in the user part.
    if !matches!(parsed.scheme(), "abfs" | "abfss") {
        let _ = base.set_username("");
    }
    Ok(StoreUrl {
        store,
        prefix,
        base,
        s3: None,
    })
}

/// A URL with its password, query string and fragment removed (SAS tokens
/// and signed-URL parameters live there), and the user removed except for
/// `abfs[s]://container@account`. Plain paths come back unchanged.
pub fn redact(url: &str) -> String {
    if !url.contains("://") {
        return url.to_string();
    }
    match Url::parse(url) {
        Ok(mut u) => {
            let _ = u.set_password(None);
            if !matches!(u.scheme(), "abfs" | "abfss") {
                let _ = u.set_username("");
            }
            u.set_query(None);
            u.set_fragment(None);
            u.to_string()
        }
        // Unparseable: keep only the scheme so nothing secret leaks.
        Err(_) => format!("{}://…", url.split("://").next().unwrap_or("")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_drops_secrets() {
        assert_eq!(
            redact("s3://AKIA:s3cret@bucket/p?X-Amz-Signature=abc"),
            "s3://bucket/p"
        );
        assert_eq!(
            redact("abfss://cont:pw@acct.dfs.core.windows.net/x?sig=1"),
            "abfss://cont@acct.dfs.core.windows.net/x"
        );
        assert_eq!(redact("./lake"), "./lake");
        assert_eq!(redact("s3://[bad"), "s3://…");
    }

    #[test]
    fn local_lake_is_created_and_absolute() {
        let dir = tempfile::tempdir().unwrap();
        let lake = dir.path().join("a b/lake");
        let su = open_lake(lake.to_str().unwrap()).unwrap();
        assert!(lake.is_dir());
        assert_eq!(su.base.as_str(), "file:///");
        let canon = std::fs::canonicalize(&lake).unwrap();
        assert_eq!(std::path::PathBuf::from(format!("/{}", su.prefix)), canon);
        // file:// form resolves to the same prefix.
        let url = Url::from_file_path(&canon).unwrap();
        assert_eq!(open_url(url.as_str()).unwrap().prefix, su.prefix);
    }

    #[test]
    fn missing_local_source_is_an_error() {
        let err = open_url("/definitely/not/here/xyz").unwrap_err();
        assert!(matches!(err, SourceError::Missing { .. }));
    }

    #[test]
    fn memory_stores_are_shared_by_name() {
        let a = open_url("memory://shared-name/x").unwrap();
        let b = open_url("memory://shared-name/y").unwrap();
        assert!(Arc::ptr_eq(&a.store, &b.store));
        assert_eq!(a.base.as_str(), "memory://shared-name/");
        assert_eq!(a.prefix.as_ref(), "x");
        let c = open_url("memory:///z").unwrap();
        assert_eq!(c.base.as_str(), "memory:///");
    }

    #[test]
    fn unknown_scheme_is_rejected() {
        assert!(matches!(
            open_url("ftp://h/x"),
            Err(SourceError::UnsupportedScheme { .. })
        ));
    }

    #[test]
    fn s3_base_is_bucket_root() {
        // Building the S3 client does no I/O; a region keeps the builder happy.
        std::env::set_var("AWS_REGION", "us-east-1");
        let su = open_url("s3://bucket/some/prefix").unwrap();
        assert_eq!(su.base.as_str(), "s3://bucket/");
        assert_eq!(su.prefix.as_ref(), "some/prefix");
    }
}
