//! Listing S3 keys that object_store cannot hold as a `Path`.
//!
//! S3 keys are any UTF-8 text: `a/../b`, `a//b`, `./x` or control
//! characters are legal keys, but not valid object_store paths, and
//! object_store fails a whole listing page on the first one. Such a key in
//! a source bucket would stop every run. When a listing fails that way,
//! the source is listed again here with ListObjectsV2 (signed with AWS
//! Signature Version 4, the credentials object_store resolved), keys as
//! plain text: the ones object_store can read go on as inputs, and the
//! others become `bad_name` dead letters whose key is data only, never
//! fetched and never a path of anything written (spec §1.2).

use std::fmt::Write as _;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use object_store::aws::{AmazonS3, AmazonS3Builder, AmazonS3ConfigKey};
use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use ring::{digest, hmac};
use serde::Deserialize;

/// What S3 leaves unescaped in a canonical URI or query (RFC 3986
/// unreserved characters).
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// SHA-256 of an empty payload (a GET's body).
const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// An S3 bucket as the listing requests address it.
#[derive(Clone, Debug)]
pub struct RawS3 {
    store: Arc<AmazonS3>,
    /// `https://host[:port]` and, path-style, `/bucket`; no trailing `/`.
    bucket_url: url::Url,
    region: String,
    /// Anonymous requests (`AWS_SKIP_SIGNATURE`, public buckets).
    unsigned: bool,
    /// The `[storage]` timeouts the HTTP client gets when a listing needs
    /// one (rarely: only after object_store failed on a key).
    request_timeout: std::time::Duration,
    connect_timeout: std::time::Duration,
}

/// One listed key.
#[derive(Clone, Debug, PartialEq)]
pub struct RawObject {
    /// The key, exactly as stored.
    pub key: String,
    /// Size in bytes.
    pub size: u64,
    /// Entity tag, when given.
    pub e_tag: Option<String>,
    /// Last modification time.
    pub last_modified: DateTime<Utc>,
}

impl RawS3 {
    /// `bucket` of `store`, addressed as `builder` configured it.
    ///
    /// # Errors
    /// A message when the builder's endpoint is not a URL.
    pub fn new(
        store: Arc<AmazonS3>,
        bucket: &str,
        builder: &AmazonS3Builder,
        options: &super::StorageOptions,
    ) -> Result<Self, String> {
        let get = |k| builder.get_config_value(&k);
        let region = get(AmazonS3ConfigKey::Region).unwrap_or_else(|| "us-east-1".into());
        let virtual_hosted =
            get(AmazonS3ConfigKey::VirtualHostedStyleRequest).is_some_and(|v| v == "true");
        let text = match get(AmazonS3ConfigKey::Endpoint) {
            Some(e) if virtual_hosted => e.trim_end_matches('/').to_string(),
            Some(e) => format!("{}/{bucket}", e.trim_end_matches('/')),
            None => format!("https://{bucket}.s3.{region}.amazonaws.com"),
        };
        let bucket_url = url::Url::parse(&text).map_err(|e| format!("endpoint: {e}"))?;
        let unsigned = get(AmazonS3ConfigKey::SkipSignature).is_some_and(|v| v == "true");
        Ok(RawS3 {
            store,
            bucket_url,
            region,
            unsigned,
            request_timeout: options.request_timeout,
            connect_timeout: options.connect_timeout,
        })
    }

    /// Every key below `prefix` (a key prefix, `""` for the bucket), in
    /// key order.
    ///
    /// # Errors
    /// An object_store `Generic` error: credentials, transport, a non-2xx
    /// answer (its status and S3 error code, never the credentials), or an
    /// answer that is not a listing.
    pub async fn list(&self, prefix: &str) -> object_store::Result<Vec<RawObject>> {
        let err = |e: String| object_store::Error::Generic {
            store: "S3",
            source: e.into(),
        };
        let client = reqwest::Client::builder()
            .timeout(self.request_timeout)
            .connect_timeout(self.connect_timeout)
            .build()
            .map_err(|e| err(format!("http client: {e}")))?;
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut query = vec![
                ("encoding-type", "url".to_string()),
                ("list-type", "2".to_string()),
                ("prefix", prefix.to_string()),
            ];
            if let Some(t) = &token {
                query.push(("continuation-token", t.clone()));
            }
            let body = self.get(&client, &query).await.map_err(err)?;
            let page: ListPage = quick_xml::de::from_str(&body)
                .map_err(|e| err(format!("the listing answer is not a ListBucketResult: {e}")))?;
            for c in page.contents {
                let key = percent_decode_str(&c.key)
                    .decode_utf8()
                    .map_err(|e| err(format!("a listed key is not UTF-8: {e}")))?
                    .into_owned();
                let last_modified = DateTime::parse_from_rfc3339(&c.last_modified)
                    .map_err(|e| err(format!("LastModified {:?}: {e}", c.last_modified)))?
                    .with_timezone(&Utc);
                out.push(RawObject {
                    key,
                    size: c.size,
                    e_tag: c.e_tag,
                    last_modified,
                });
            }
            match (page.is_truncated, page.next_continuation_token) {
                (true, Some(t)) => token = Some(t),
                (true, None) => {
                    return Err(err(
                        "a truncated listing without a continuation token".into()
                    ))
                }
                (false, _) => return Ok(out),
            }
        }
    }

    /// One signed GET of the bucket with `query`; the body text.
    async fn get(
        &self,
        client: &reqwest::Client,
        query: &[(&str, String)],
    ) -> Result<String, String> {
        let cred = if self.unsigned {
            None
        } else {
            let provider = self.store.credentials();
            Some(
                provider
                    .get_credential()
                    .await
                    .map_err(|e| format!("credentials: {e}"))?,
            )
        };
        let amz_date = Utc::now().format("%Y%m%dT%H%M%SZ").to_string();
        let canonical_query = canonical_query(query);
        let host = match (self.bucket_url.host_str(), self.bucket_url.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_string(),
            (None, _) => return Err("the endpoint has no host".into()),
        };
        let path = match self.bucket_url.path() {
            "" => "/".to_string(),
            p => p.to_string(),
        };
        let url = format!(
            "{}://{host}{path}?{canonical_query}",
            self.bucket_url.scheme()
        );
        let mut headers = vec![
            ("host", host),
            ("x-amz-content-sha256", EMPTY_SHA256.to_string()),
            ("x-amz-date", amz_date.clone()),
        ];
        let mut req = client.get(&url);
        if let Some(cred) = cred {
            if let Some(t) = &cred.token {
                headers.push(("x-amz-security-token", t.clone()));
            }
            let names = headers.iter().map(|(k, _)| *k).collect::<Vec<_>>();
            let canonical = canonical_request("GET", &path, &canonical_query, &headers);
            let signature = signature(&cred.secret_key, &amz_date, &self.region, &canonical);
            req = req.header(
                "authorization",
                format!(
                    "AWS4-HMAC-SHA256 Credential={}/{}/{}/s3/aws4_request, SignedHeaders={}, Signature={signature}",
                    cred.key_id,
                    &amz_date[..8],
                    self.region,
                    names.join(";")
                ),
            );
        }
        for (k, v) in headers.iter().skip(1) {
            req = req.header(*k, v);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| format!("listing {}: {e}", self.shown()))?;
        let status = resp.status();
        let text = resp
            .text()
            .await
            .map_err(|e| format!("listing {}: {e}", self.shown()))?;
        if !status.is_success() {
            let code = quick_xml::de::from_str::<S3Error>(&text)
                .map(|e| e.code)
                .unwrap_or_default();
            return Err(format!("listing {}: HTTP {status} {code}", self.shown()));
        }
        Ok(text)
    }

    /// The bucket URL for messages (redacted as every URL we print).
    fn shown(&self) -> String {
        super::redact(self.bucket_url.as_str())
    }
}

/// The SigV4 canonical request of a body-less request: `headers` are
/// lowercase names in sorted order, the payload hash is the empty body's.
fn canonical_request(
    method: &str,
    path: &str,
    canonical_query: &str,
    headers: &[(&str, String)],
) -> String {
    let mut c = format!("{method}\n{path}\n{canonical_query}\n");
    for (k, v) in headers {
        let _ = writeln!(c, "{k}:{}", v.trim());
    }
    let names = headers
        .iter()
        .map(|(k, _)| *k)
        .collect::<Vec<_>>()
        .join(";");
    let _ = write!(c, "\n{names}\n{EMPTY_SHA256}");
    c
}

/// The SigV4 signature (hex) of `canonical` for S3 in `region` at
/// `amz_date` (`YYYYMMDDTHHMMSSZ`).
fn signature(secret: &str, amz_date: &str, region: &str, canonical: &str) -> String {
    let day = &amz_date[..8];
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{day}/{region}/s3/aws4_request\n{}",
        hex::encode(digest::digest(&digest::SHA256, canonical.as_bytes()))
    );
    let sign = |key: &[u8], data: &str| {
        hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), data.as_bytes())
    };
    let k = sign(format!("AWS4{secret}").as_bytes(), day);
    let k = sign(k.as_ref(), region);
    let k = sign(k.as_ref(), "s3");
    let k = sign(k.as_ref(), "aws4_request");
    hex::encode(sign(k.as_ref(), &to_sign))
}

/// The SigV4 canonical query string: names and values encoded, sorted.
fn canonical_query(query: &[(&str, String)]) -> String {
    let mut params: Vec<(String, String)> = query.iter().map(|(k, v)| (enc(k), enc(v))).collect();
    params.sort();
    params
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// URI-encode `s` as SigV4 wants (every byte but the unreserved ones).
fn enc(s: &str) -> String {
    utf8_percent_encode(s, UNRESERVED).to_string()
}

/// A ListObjectsV2 answer (the parts used).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListPage {
    #[serde(default)]
    contents: Vec<ListEntry>,
    #[serde(default)]
    is_truncated: bool,
    next_continuation_token: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListEntry {
    key: String,
    size: u64,
    last_modified: String,
    #[serde(rename = "ETag")]
    e_tag: Option<String>,
}

/// An S3 error answer (its code only).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct S3Error {
    #[serde(default)]
    code: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listing_page_parses_with_url_encoded_keys() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Name>b</Name><Prefix>art/</Prefix><KeyCount>2</KeyCount><MaxKeys>1000</MaxKeys>
  <EncodingType>url</EncodingType><IsTruncated>true</IsTruncated>
  <NextContinuationToken>tok+1</NextContinuationToken>
  <Contents><Key>art/x/../y%00z.jsonl</Key><LastModified>2026-05-03T10:00:00.000Z</LastModified>
    <ETag>"abc"</ETag><Size>12</Size><StorageClass>STANDARD</StorageClass></Contents>
  <Contents><Key>art/ok.jsonl</Key><LastModified>2026-05-03T10:00:01Z</LastModified><Size>3</Size></Contents>
</ListBucketResult>"#;
        let page: ListPage = quick_xml::de::from_str(xml).unwrap();
        assert!(page.is_truncated);
        assert_eq!(page.next_continuation_token.as_deref(), Some("tok+1"));
        assert_eq!(page.contents.len(), 2);
        assert_eq!(
            percent_decode_str(&page.contents[0].key)
                .decode_utf8()
                .unwrap(),
            "art/x/../y\0z.jsonl"
        );
        assert_eq!(page.contents[0].e_tag.as_deref(), Some("\"abc\""));
        assert_eq!(page.contents[1].e_tag, None);
        let empty: ListPage = quick_xml::de::from_str(
            "<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>",
        )
        .unwrap();
        assert!(empty.contents.is_empty() && !empty.is_truncated);
    }

    #[test]
    fn signing_matches_the_aws_documentation_example() {
        // AWS's S3 SigV4 example "GET Object" (first 10 bytes of test.txt
        // from examplebucket, 2013-05-24, us-east-1, the documentation's
        // example secret key).
        let headers = [
            ("host", "examplebucket.s3.amazonaws.com".to_string()),
            ("range", "bytes=0-9".to_string()),
            ("x-amz-content-sha256", EMPTY_SHA256.to_string()),
            ("x-amz-date", "20130524T000000Z".to_string()),
        ];
        let c = canonical_request("GET", "/test.txt", "", &headers);
        assert_eq!(
            hex::encode(digest::digest(&digest::SHA256, c.as_bytes())),
            "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972"
        );
        assert_eq!(
            signature(
                "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                "20130524T000000Z",
                "us-east-1",
                &c
            ),
            "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
        );
    }

    #[test]
    fn a_listing_request_is_signed_as_botocore_signs_it() {
        // botocore's S3SigV4Auth over the same request (the documentation's
        // example keys, its clock fixed at 2026-11-22T12:00:00Z) gives this
        // signature: a path-style bucket on a port, the query encoded.
        let query = [
            ("list-type", "2".to_string()),
            ("prefix", "art/x y/".to_string()),
            ("encoding-type", "url".to_string()),
        ];
        let q = canonical_query(&query);
        assert_eq!(q, "encoding-type=url&list-type=2&prefix=art%2Fx%20y%2F");
        let headers = [
            ("host", "127.0.0.1:5999".to_string()),
            ("x-amz-content-sha256", EMPTY_SHA256.to_string()),
            ("x-amz-date", "20261122T120000Z".to_string()),
        ];
        let c = canonical_request("GET", "/hostile", &q, &headers);
        assert_eq!(
            signature(
                "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                "20261122T120000Z",
                "us-east-1",
                &c
            ),
            "1760938958e44b5e601d3ba3f53c3f3ce9d2e27ce1f4b2ce24fd2cd83c135d88"
        );
    }

    #[test]
    fn canonical_encoding_keeps_only_unreserved_bytes() {
        assert_eq!(enc("art/x y~_.-é"), "art%2Fx%20y~_.-%C3%A9");
        assert_eq!(enc("tok+1="), "tok%2B1%3D");
    }
}
