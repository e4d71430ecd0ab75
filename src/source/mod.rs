//! Sources: object-store URLs, listing, and whole-object gets
//! (spec/lake.md §1, spec/behave-shell.md §1.2).
//!
//! This stage is the only one (with `sink`) that talks to `object_store`.
//! It turns a URL into a store ([`open_url`]), lists what a source holds
//! as [`InputRef`]s per [`InputKind`] ([`list_inputs`]), and fetches an
//! object's bytes ([`fetch`]). It does not decompress or parse: bytes go to
//! `decode` as they are.
//!
//! Objects are read whole with one `get`. A sessrec shard is bounded by
//! design (one decky, one service, one UTC day, 10 MiB of payload per
//! session, spec §1.2) and the pipeline caps how many shards are in flight,
//! so whole-object reads keep peak memory at roughly
//! `threads × largest shard (decompressed)`.

mod layout;
mod retry;
mod s3_list;
mod storage;
mod url;

pub use layout::{classify, Candidate, ShardName};
pub use retry::retried;
pub use storage::{set_storage_options, storage_options, StorageOptions};
pub use url::{open_lake, open_url, redact, StoreUrl};

use bytes::Bytes;
use futures::TryStreamExt;
use object_store::path::Path;
use object_store::{ObjectMeta, ObjectStoreExt};

/// Errors from opening, listing or reading a source or lake store.
///
/// Messages carry redacted URLs and object paths, never credentials or
/// object content.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The URL could not be parsed.
    #[error("cannot parse the url {url}")]
    BadUrl {
        /// The redacted URL.
        url: String,
        /// Why.
        #[source]
        source: ::url::ParseError,
    },
    /// The URL's scheme has no store.
    #[error("unsupported url scheme {scheme:?} in {url} (use a path, file://, s3://, gs://, az:// or memory://)")]
    UnsupportedScheme {
        /// The scheme.
        scheme: String,
        /// The redacted URL.
        url: String,
    },
    /// A local path could not be resolved or created.
    #[error("cannot use the local path {path}")]
    LocalPath {
        /// The path as given.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A local source does not exist.
    #[error("the source {path} does not exist")]
    Missing {
        /// The path.
        path: String,
    },
    /// The store could not be configured (missing region, bad options, …).
    #[error("cannot open the store for {url}")]
    Store {
        /// The redacted URL.
        url: String,
        /// Why.
        #[source]
        source: object_store::Error,
    },
    /// The URL's path is not a valid object path.
    #[error("invalid object path in {url}")]
    Path {
        /// The redacted URL.
        url: String,
        /// Why.
        #[source]
        source: object_store::path::Error,
    },
    /// Listing failed.
    #[error("cannot list {url}")]
    List {
        /// The redacted URL.
        url: String,
        /// Why.
        #[source]
        source: object_store::Error,
    },
    /// Reading an object failed.
    #[error("cannot read {path}")]
    Read {
        /// The object path.
        path: String,
        /// Why.
        #[source]
        source: object_store::Error,
    },
}

/// What a source holds; decides which decoder reads it and the `_inputs.kind`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum InputKind {
    /// DECNET sessrec shards (spec/behave-shell.md §1).
    Sessrec,
    /// Plain asciinema recordings, one session per `.cast` file.
    Asciicast,
    /// The recorder's syslog lines with `session_recorded` events (spec §1.10).
    SessionLog,
    /// Agent telemetry: `.jsonl` (read incrementally) and `.json` files
    /// (spec/agent-monitor.md "Input").
    AgentEvents,
    /// OTel Collector `file` exporter output (telemetry-correlation.md §1).
    Otlp,
    /// Spec manifests, YAML or JSON (telemetry-correlation.md §3).
    Spec,
}

impl InputKind {
    /// The `_inputs.kind` code (lake.md §7).
    pub fn as_str(self) -> &'static str {
        match self {
            InputKind::Sessrec => "sessrec",
            InputKind::Asciicast => "asciicast",
            InputKind::SessionLog => "session_log",
            InputKind::AgentEvents => "agent_events",
            InputKind::Otlp => "otlp",
            InputKind::Spec => "spec",
        }
    }

    /// The job file's and `--source`'s key for this kind.
    pub fn job_key(self) -> &'static str {
        match self {
            InputKind::Sessrec => "sessrec",
            InputKind::Asciicast => "asciicast",
            InputKind::SessionLog => "session_logs",
            InputKind::AgentEvents => "agents",
            InputKind::Otlp => "otlp",
            InputKind::Spec => "specs",
        }
    }

    /// Parse a job-file / `--source` key.
    pub fn from_job_key(key: &str) -> Option<Self> {
        match key {
            "sessrec" => Some(InputKind::Sessrec),
            "asciicast" => Some(InputKind::Asciicast),
            "session_logs" | "session_log" => Some(InputKind::SessionLog),
            "agents" => Some(InputKind::AgentEvents),
            "otlp" => Some(InputKind::Otlp),
            "specs" | "spec" => Some(InputKind::Spec),
            _ => None,
        }
    }
}

/// One object to read: where it is and what listing said about it.
#[derive(Clone, Debug)]
pub struct InputRef {
    /// Decoder to use.
    pub kind: InputKind,
    /// The object's path inside its store.
    pub location: Path,
    /// The object's full, redacted URL (`file:///…`, `s3://bucket/key`):
    /// the `source` / `shard` value in the lake. Data only; never a path
    /// component of anything we write.
    pub url: String,
    /// Size in bytes.
    pub size: u64,
    /// The store's entity tag, when it has one.
    pub e_tag: Option<String>,
    /// Last modification time.
    pub last_modified: chrono::DateTime<chrono::Utc>,
    /// The validated DECNET name (sessrec shards only).
    pub shard: Option<ShardName>,
    /// The object's path relative to the source URL (its file name when
    /// the URL names the object itself).
    pub rel_path: String,
    /// OTLP only: the signal the job's source names (for length-prefixed
    /// protobuf, whose bytes do not say), else `None`.
    pub signal: Option<crate::telemetry::model::Signal>,
}

/// An object that looks like a sessrec shard but fails the naming rules of
/// spec §1.2. It becomes one `dlq` row with reason `bad_name`.
#[derive(Clone, Debug)]
pub struct RejectedName {
    /// The object's full, redacted URL (data only).
    pub url: String,
    /// Size in bytes.
    pub size: u64,
    /// Last modification time (the dlq row's date when the name has none).
    pub last_modified: chrono::DateTime<chrono::Utc>,
    /// The date in the basename, when it has a valid one.
    pub date: Option<chrono::NaiveDate>,
    /// Which rule failed (human text, no path content).
    pub why: &'static str,
}

/// The result of listing one source URL.
#[derive(Clone, Debug, Default)]
pub struct Listing {
    /// Objects to read, sorted by URL.
    pub inputs: Vec<InputRef>,
    /// Shard-like objects with invalid names, sorted by URL.
    pub rejected: Vec<RejectedName>,
}

/// List the inputs of one source.
///
/// The URL may name a directory (every matching object below it is an
/// input) or one object. For [`InputKind::Sessrec`], every object whose
/// name ends in `.jsonl`, `.jsonl.gz` or `.jsonl.zst` is a candidate shard
/// and is validated against DECNET's layout (see [`classify`]); other
/// objects are ignored. In a directory, [`InputKind::Asciicast`] takes
/// `.cast` (optionally `.gz`/`.zst`) and [`InputKind::SessionLog`] every
/// object whose name does not start with a dot; a URL naming one object of
/// these kinds takes it whatever its name (e.g. an asciicast v1 `.json`).
///
/// # Errors
/// [`SourceError::List`] when the store cannot be listed.
pub async fn list_inputs(src: &StoreUrl, kind: InputKind) -> Result<Listing, SourceError> {
    let (metas, single, unreadable) = list_objects(src).await?;
    let mut listing = Listing::default();
    for o in unreadable {
        // Data only: the key is kept in the dead letter's URL, never
        // fetched and never part of a path we write. Its day is the one
        // its basename names, as for other bad names.
        let parts: Vec<&str> = o.key.split('/').collect();
        let date = match classify(&parts) {
            Candidate::Shard(name) => Some(name.date),
            Candidate::BadName { date, .. } => date,
            Candidate::NotAShard => None,
        };
        listing.rejected.push(RejectedName {
            url: format!("{}{}", src.base, o.key),
            size: o.size,
            last_modified: o.last_modified,
            date,
            why: "the key is not a valid object path (an empty, '.' or '..' segment)",
        });
    }
    for meta in metas {
        let url = src.object_url(&meta.location);
        let rel_path = match meta.location.prefix_match(&src.prefix) {
            Some(parts) if !single => parts
                .map(|p| p.as_ref().to_string())
                .collect::<Vec<_>>()
                .join("/"),
            _ => meta.location.filename().unwrap_or_default().to_string(),
        };
        let parts: Vec<String> = meta
            .location
            .parts()
            .map(|p| p.as_ref().to_string())
            .collect();
        let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
        let shard = match kind {
            InputKind::Sessrec => match classify(&parts) {
                Candidate::Shard(name) => Some(name),
                Candidate::NotAShard => continue,
                Candidate::BadName { why, date } => {
                    listing.rejected.push(RejectedName {
                        url,
                        size: meta.size,
                        last_modified: meta.last_modified,
                        date,
                        why,
                    });
                    continue;
                }
            },
            InputKind::Asciicast => {
                let name = parts.last().copied().unwrap_or("");
                if !single && !is_cast_name(name) {
                    continue;
                }
                None
            }
            InputKind::SessionLog => {
                if !single && parts.last().is_none_or(|n| n.starts_with('.')) {
                    continue;
                }
                None
            }
            InputKind::Otlp | InputKind::Spec => {
                // Recursive, globbed loosely (the exporter rotates files
                // under timestamped names, telemetry-correlation.md §1):
                // every object not hidden and not documentation; specs
                // take `.yaml`, `.yml` and `.json`.
                let hidden = rel_path.split('/').any(|p| p.starts_with('.'));
                let name = parts.last().copied().unwrap_or("");
                let wanted = if kind == InputKind::Spec {
                    is_manifest_name(name)
                } else {
                    is_telemetry_name(name)
                };
                if !single && (hidden || !wanted) {
                    continue;
                }
                None
            }
            InputKind::AgentEvents => {
                // Recursive: every `.jsonl` / `.json` below the source, dot
                // files and anything under a dot directory excluded; other
                // extensions are ignored (spec "Input").
                let hidden = rel_path.split('/').any(|p| p.starts_with('.'));
                let name = parts.last().copied().unwrap_or("");
                if !single && (hidden || agent_format(name).is_none()) {
                    continue;
                }
                None
            }
        };
        listing.inputs.push(InputRef {
            kind,
            location: meta.location,
            url,
            size: meta.size,
            e_tag: meta.e_tag,
            last_modified: meta.last_modified,
            shard,
            rel_path,
            signal: None,
        });
    }
    listing.inputs.sort_by(|a, b| a.url.cmp(&b.url));
    listing.rejected.sort_by(|a, b| a.url.cmp(&b.url));
    Ok(listing)
}

/// How an agent telemetry object is framed, from its name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AgentFormat {
    /// `.jsonl`: one event per line, append-only, read incrementally.
    Lines,
    /// `.json`: one event per file, read whole.
    Document,
}

/// The framing of an agent telemetry object named `name`, `None` when the
/// spec ignores it (a URL naming one object is read as JSON lines unless it
/// ends in `.json`).
pub fn agent_format(name: &str) -> Option<AgentFormat> {
    if name.ends_with(".jsonl") {
        Some(AgentFormat::Lines)
    } else if name.ends_with(".json") {
        Some(AgentFormat::Document)
    } else {
        None
    }
}

/// A spec manifest: `.yaml`, `.yml` or `.json`.
fn is_manifest_name(name: &str) -> bool {
    [".yaml", ".yml", ".json"].iter().any(|s| name.ends_with(s))
}

/// An exporter file: anything but documentation and configuration beside
/// it (the exporter's names carry no fixed extension).
fn is_telemetry_name(name: &str) -> bool {
    ![".md", ".txt", ".yaml", ".yml", ".toml"]
        .iter()
        .any(|s| name.ends_with(s))
}

fn is_cast_name(name: &str) -> bool {
    [".cast", ".cast.gz", ".cast.zst"]
        .iter()
        .any(|s| name.ends_with(s))
        && !name.starts_with('.')
}

/// Every object under the source: the object itself when the URL names
/// one (`true`), else everything below the prefix (`false`); and, on S3,
/// the keys object_store cannot hold as a path (never read).
async fn list_objects(
    src: &StoreUrl,
) -> Result<(Vec<ObjectMeta>, bool, Vec<s3_list::RawObject>), SourceError> {
    if !src.prefix.as_ref().is_empty() {
        // A URL that names one object (a single shard or cast file).
        let head = retried(src.is_remote(), "head", || src.store.head(&src.prefix)).await;
        if let Ok(meta) = head {
            return Ok((vec![meta], true, Vec::new()));
        }
    }
    let prefix = (!src.prefix.as_ref().is_empty()).then_some(&src.prefix);
    let listed = retried(src.is_remote(), "list", || {
        src.store.list(prefix).try_collect::<Vec<ObjectMeta>>()
    })
    .await;
    let list_err = |source| SourceError::List {
        url: src.redacted(),
        source,
    };
    match (listed, &src.s3) {
        (Ok(metas), _) => Ok((metas, false, Vec::new())),
        (Err(object_store::Error::InvalidPath { .. }), Some(raw)) => {
            // A key object_store cannot parse ('..', '.', an empty
            // segment) fails its whole page: list the keys as text.
            let key_prefix = match prefix {
                Some(p) => format!("{p}/"),
                None => String::new(),
            };
            let objects = retried(true, "list", || raw.list(&key_prefix))
                .await
                .map_err(list_err)?;
            let (mut metas, mut bad) = (Vec::new(), Vec::new());
            for o in objects {
                match Path::parse(&o.key) {
                    Ok(location) => metas.push(ObjectMeta {
                        location,
                        last_modified: o.last_modified,
                        size: o.size,
                        e_tag: o.e_tag,
                        version: None,
                    }),
                    Err(_) => bad.push(o),
                }
            }
            tracing::warn!(
                url = %src.redacted(),
                unreadable = bad.len(),
                "Keys that are not valid object paths were listed; they become bad_name dead letters."
            );
            Ok((metas, false, bad))
        }
        (Err(e), _) => Err(list_err(e)),
    }
}

/// Read one object whole.
///
/// # Errors
/// [`SourceError::Read`] when the get fails or the body breaks off.
pub async fn fetch(src: &StoreUrl, input: &InputRef) -> Result<Bytes, SourceError> {
    let read_err = |source| SourceError::Read {
        path: input.url.clone(),
        source,
    };
    retried(src.is_remote(), "get", || async {
        src.store.get(&input.location).await?.bytes().await
    })
    .await
    .map_err(read_err)
}

/// Read the bytes `range` of one object (an append-only file's new tail,
/// or its head for the rotation check).
///
/// # Errors
/// [`SourceError::Read`] when the get fails or the body breaks off.
pub async fn fetch_range(
    src: &StoreUrl,
    input: &InputRef,
    range: std::ops::Range<u64>,
) -> Result<Bytes, SourceError> {
    if range.is_empty() {
        return Ok(Bytes::new());
    }
    retried(src.is_remote(), "get", || {
        src.store.get_range(&input.location, range.clone())
    })
    .await
    .map_err(|source| SourceError::Read {
        path: input.url.clone(),
        source,
    })
}

/// Stream the bytes `range` of one object in the store's chunks (an
/// append-only file's new tail read without holding it whole), handing
/// each chunk to `each` on the calling thread.
///
/// # Errors
/// [`SourceError::Read`] when the get fails or the body breaks off.
pub async fn stream_range(
    src: &StoreUrl,
    input: &InputRef,
    range: std::ops::Range<u64>,
    mut each: impl FnMut(&[u8]),
) -> Result<(), SourceError> {
    use futures::StreamExt;
    if range.is_empty() {
        return Ok(());
    }
    let read_err = |source| SourceError::Read {
        path: input.url.clone(),
        source,
    };
    // A body that breaks off is asked for again from the first byte not
    // yet handed to `each` (within the `[storage]` retries).
    let mut pos = range.start;
    let mut breaks = 0;
    loop {
        let opts = object_store::GetOptions::default().with_range(Some(pos..range.end));
        let mut body = retried(src.is_remote(), "get", || {
            src.store.get_opts(&input.location, opts.clone())
        })
        .await
        .map_err(read_err)?
        .into_stream();
        let mut broke = None;
        while let Some(chunk) = body.next().await {
            match chunk {
                Ok(c) => {
                    pos += c.len() as u64;
                    each(&c);
                }
                Err(e) => {
                    broke = Some(e);
                    break;
                }
            }
        }
        match broke {
            None => return Ok(()),
            Some(e) if src.is_remote() && breaks < storage_options().max_retries => {
                breaks += 1;
                tracing::warn!(source = %input.url, offset = pos, error = %e, "Body broke off; reading on.");
            }
            Some(e) => return Err(read_err(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use object_store::PutPayload;

    #[tokio::test]
    async fn list_agents_recursively_by_extension() {
        let src = open_url("memory://source-agents/telemetry").unwrap();
        put(&src, "a/b/events.jsonl", b"{}\n").await;
        put(&src, "one.json", b"{}").await;
        put(&src, "notes.txt", b"x").await;
        put(&src, "a/.hidden.jsonl", b"x").await;
        put(&src, ".cache/x.jsonl", b"x").await;
        put(&src, "a/events.jsonl.gz", b"x").await;
        let listing = list_inputs(&src, InputKind::AgentEvents).await.unwrap();
        let rel: Vec<&str> = listing.inputs.iter().map(|i| i.rel_path.as_str()).collect();
        assert_eq!(rel, ["a/b/events.jsonl", "one.json"]);
        assert!(listing.rejected.is_empty());
        let bytes = fetch_range(&src, &listing.inputs[0], 1..3).await.unwrap();
        assert_eq!(&bytes[..], b"}\n");
        let mut streamed = Vec::new();
        stream_range(&src, &listing.inputs[0], 1..3, |c| {
            streamed.extend_from_slice(c)
        })
        .await
        .unwrap();
        assert_eq!(streamed, b"}\n");
        assert_eq!(agent_format("x.jsonl"), Some(AgentFormat::Lines));
        assert_eq!(agent_format("x.json"), Some(AgentFormat::Document));
        assert_eq!(agent_format("x.ndjson"), None);
    }

    async fn put(src: &StoreUrl, rel: &str, body: &'static [u8]) {
        let loc = src.child(rel);
        src.store
            .put(&loc, PutPayload::from_static(body))
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn list_sessrec_splits_valid_invalid_and_ignored() {
        let src = open_url("memory://source-list-test/art").unwrap();
        put(
            &src,
            "web-01/ssh/transcripts/sessions-2026-05-02.jsonl",
            b"{}\n",
        )
        .await;
        put(&src, "web-01/telnet/sessions-2026-05-03.jsonl.gz", b"x").await;
        put(&src, "Web_01/ssh/sessions-2026-05-02.jsonl", b"{}\n").await;
        put(&src, "web-01/ftp/sessions-2026-05-02.jsonl", b"{}\n").await;
        put(&src, "web-01/ssh/README.md", b"hello").await;
        let listing = list_inputs(&src, InputKind::Sessrec).await.unwrap();
        let urls: Vec<&str> = listing.inputs.iter().map(|i| i.url.as_str()).collect();
        assert_eq!(
            urls,
            [
                "memory://source-list-test/art/web-01/ssh/transcripts/sessions-2026-05-02.jsonl",
                "memory://source-list-test/art/web-01/telnet/sessions-2026-05-03.jsonl.gz",
            ]
        );
        let shard = listing.inputs[1].shard.as_ref().unwrap();
        assert_eq!(
            (shard.decky.as_str(), shard.service.as_str()),
            ("web-01", "telnet")
        );
        assert_eq!(shard.basename, "sessions-2026-05-03.jsonl");
        assert_eq!(
            listing.inputs[1].rel_path,
            "web-01/telnet/sessions-2026-05-03.jsonl.gz"
        );
        assert_eq!(listing.rejected.len(), 2);
        assert!(listing.rejected.iter().all(|r| r.date.is_some()));
    }

    #[tokio::test]
    async fn list_single_object_url() {
        let src = open_url("memory://source-single/a/web-01/ssh").unwrap();
        put(&src, "sessions-2026-05-02.jsonl", b"{}\n").await;
        let one =
            open_url("memory://source-single/a/web-01/ssh/sessions-2026-05-02.jsonl").unwrap();
        let listing = list_inputs(&one, InputKind::Sessrec).await.unwrap();
        assert_eq!(listing.inputs.len(), 1);
        assert_eq!(listing.inputs[0].size, 3);
        assert_eq!(listing.inputs[0].rel_path, "sessions-2026-05-02.jsonl");
        let bytes = fetch(&one, &listing.inputs[0]).await.unwrap();
        assert_eq!(&bytes[..], b"{}\n");
    }

    #[tokio::test]
    async fn list_casts_and_logs() {
        let src = open_url("memory://source-kinds/").unwrap();
        put(&src, "casts/a.cast", b"{}").await;
        put(&src, "casts/b.txt", b"{}").await;
        put(&src, "logs/.hidden", b"x").await;
        put(&src, "logs/decnet.log", b"x").await;
        let casts = list_inputs(
            &open_url("memory://source-kinds/casts").unwrap(),
            InputKind::Asciicast,
        )
        .await
        .unwrap();
        assert_eq!(casts.inputs.len(), 1);
        let logs = list_inputs(
            &open_url("memory://source-kinds/logs").unwrap(),
            InputKind::SessionLog,
        )
        .await
        .unwrap();
        assert_eq!(logs.inputs.len(), 1);
        assert!(logs.inputs[0].url.ends_with("logs/decnet.log"));
    }
}
