//! The object storage behind the fleet's Velero BackupStorageLocations, served over HTTPS
//! on loopback as S3 serves a bucket path-style: `GET /<bucket>/<key>` with a presigned
//! URL's query (`X-Amz-Date`, `X-Amz-Expires`, `X-Amz-Signature`). Velero's
//! DownloadRequest controller signs the URLs with the fleet's key; this server checks
//! them and answers as S3 does: the object, or a 403 or 404 with S3's XML error.
//!
//! Bucket `<env>-velero` with prefix `service-cluster` or `workload-cluster` is that
//! cluster's Velero storage (as the demo's BackupStorageLocations say).

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use ring::hmac;

use crate::clock::SimClock;
use crate::cluster::ClusterSim;
use crate::controllers::velero_files::{self, File};

/// The format of `X-Amz-Date`.
const AMZ_DATE: &str = "%Y%m%dT%H%M%SZ";

/// Where the fleet's object storage answers, and the key its URLs are signed with.
#[derive(Clone)]
pub struct Endpoint {
    /// `https://127.0.0.1:<port>`.
    pub url: String,
    key: Arc<hmac::Key>,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint").field("url", &self.url).finish()
    }
}

impl Endpoint {
    /// An endpoint at `url` with a key of its own.
    pub fn new(url: String) -> Endpoint {
        let secret: [u8; 32] = rand::random();
        Endpoint {
            url,
            key: Arc::new(hmac::Key::new(hmac::HMAC_SHA256, &secret)),
        }
    }

    /// A URL that reads `key` of `bucket` until `expires` after `now`, as S3 presigns it.
    pub fn presign(
        &self,
        bucket: &str,
        key: &str,
        now: DateTime<Utc>,
        expires: Duration,
    ) -> String {
        let path = format!("/{bucket}/{key}");
        let date = now.format(AMZ_DATE).to_string();
        let secs = expires.num_seconds();
        let signature = self.signature(&path, &date, secs);
        format!(
            "{}{path}?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date={date}&X-Amz-Expires={secs}\
             &X-Amz-SignedHeaders=host&X-Amz-Signature={signature}",
            self.url
        )
    }

    fn signature(&self, path: &str, date: &str, expires: i64) -> String {
        let tag = hmac::sign(
            &self.key,
            format!("GET\n{path}\n{date}\n{expires}").as_bytes(),
        );
        tag.as_ref().iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Whether the query signs `path` and is still valid at `now`.
    fn check(&self, path: &str, q: &Signed, now: DateTime<Utc>) -> Result<(), S3Error> {
        let (Some(date), Some(expires), Some(signature)) =
            (&q.date, q.expires, q.signature.as_deref())
        else {
            return Err(S3Error::AccessDenied(
                "Query-string authentication requires the X-Amz-Date, X-Amz-Expires and X-Amz-Signature parameters",
            ));
        };
        let hex: Option<Vec<u8>> = (signature.len() % 2 == 0)
            .then(|| {
                (0..signature.len() / 2)
                    .map(|i| u8::from_str_radix(signature.get(2 * i..2 * i + 2)?, 16).ok())
                    .collect()
            })
            .flatten();
        let hex = hex.ok_or(S3Error::SignatureDoesNotMatch)?;
        let message = format!("GET\n{path}\n{date}\n{expires}");
        if hmac::verify(&self.key, message.as_bytes(), &hex).is_err() {
            return Err(S3Error::SignatureDoesNotMatch);
        }
        let signed = NaiveDateTime::parse_from_str(date, AMZ_DATE)
            .map_err(|_| S3Error::AccessDenied("X-Amz-Date must be in the ISO8601 Long Format"))?
            .and_utc();
        if now > signed + Duration::seconds(expires) {
            return Err(S3Error::AccessDenied("Request has expired"));
        }
        Ok(())
    }
}

/// The presigned query.
#[derive(Debug, serde::Deserialize)]
struct Signed {
    #[serde(rename = "X-Amz-Date")]
    date: Option<String>,
    #[serde(rename = "X-Amz-Expires")]
    expires: Option<i64>,
    #[serde(rename = "X-Amz-Signature")]
    signature: Option<String>,
}

/// The errors S3 answers with, as its XML error document.
#[derive(Debug)]
enum S3Error {
    AccessDenied(&'static str),
    SignatureDoesNotMatch,
    NoSuchKey(String),
    NoSuchBucket(String),
}

impl IntoResponse for S3Error {
    fn into_response(self) -> Response {
        let (status, code, message, resource) = match self {
            S3Error::AccessDenied(m) => (StatusCode::FORBIDDEN, "AccessDenied", m, String::new()),
            S3Error::SignatureDoesNotMatch => (
                StatusCode::FORBIDDEN,
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided.",
                String::new(),
            ),
            S3Error::NoSuchKey(key) => (
                StatusCode::NOT_FOUND,
                "NoSuchKey",
                "The specified key does not exist.",
                key,
            ),
            S3Error::NoSuchBucket(bucket) => (
                StatusCode::NOT_FOUND,
                "NoSuchBucket",
                "The specified bucket does not exist",
                bucket,
            ),
        };
        let body = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code>\
             <Message>{message}</Message><Resource>{resource}</Resource></Error>"
        );
        (status, [("content-type", "application/xml")], body).into_response()
    }
}

/// Finds a cluster of the fleet by its name (`acme-wc`).
pub type Lookup = Arc<dyn Fn(&str) -> Option<Arc<ClusterSim>> + Send + Sync>;

#[derive(Clone)]
struct Storage {
    endpoint: Endpoint,
    clock: SimClock,
    clusters: Lookup,
}

/// The object storage's HTTP routes.
pub fn router(endpoint: Endpoint, clock: SimClock, clusters: Lookup) -> Router {
    Router::new()
        .route("/{bucket}/{*key}", axum::routing::get(get_object))
        .with_state(Storage {
            endpoint,
            clock,
            clusters,
        })
}

async fn get_object(
    State(st): State<Storage>,
    Path((bucket, key)): Path<(String, String)>,
    Query(q): Query<Signed>,
) -> Result<Response, S3Error> {
    st.endpoint
        .check(&format!("/{bucket}/{key}"), &q, st.clock.now())?;
    let cluster = bucket
        .strip_suffix("-velero")
        .and_then(|env| {
            let (prefix, _) = key.split_once('/')?;
            let role = match prefix {
                "service-cluster" => "sc",
                "workload-cluster" => "wc",
                _ => return None,
            };
            (st.clusters)(&format!("{env}-{role}"))
        })
        .ok_or_else(|| S3Error::NoSuchBucket(bucket.clone()))?;
    // `<prefix>/backups/<backup>/<file>`.
    let missing = || S3Error::NoSuchKey(key.clone());
    let mut parts = key.splitn(4, '/').skip(1);
    let (Some("backups"), Some(backup), Some(file)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(missing());
    };
    let file = File::from_name(backup, file).ok_or_else(missing)?;
    let bytes = velero_files::object(&cluster, backup, file).ok_or_else(missing)?;
    Ok(([("content-type", "application/octet-stream")], bytes).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(url: &str) -> Signed {
        let q = url.split_once('?').unwrap().1;
        let get = |k: &str| {
            q.split('&')
                .find_map(|p| p.strip_prefix(&format!("{k}=")))
                .map(str::to_owned)
        };
        Signed {
            date: get("X-Amz-Date"),
            expires: get("X-Amz-Expires").and_then(|e| e.parse().ok()),
            signature: get("X-Amz-Signature"),
        }
    }

    #[test]
    fn a_presigned_url_reads_its_key_until_it_expires() {
        let e = Endpoint::new("https://127.0.0.1:1".into());
        let now = Utc::now();
        let url = e.presign(
            "acme-velero",
            "workload-cluster/backups/b/b-logs.gz",
            now,
            Duration::minutes(10),
        );
        let path = "/acme-velero/workload-cluster/backups/b/b-logs.gz";
        assert!(
            url.starts_with(&format!("https://127.0.0.1:1{path}?")),
            "{url}"
        );
        let q = query(&url);
        assert!(e.check(path, &q, now + Duration::minutes(9)).is_ok());
        assert!(matches!(
            e.check(path, &q, now + Duration::minutes(11)),
            Err(S3Error::AccessDenied("Request has expired"))
        ));
        // Another key, or another endpoint's signature, is refused.
        assert!(matches!(
            e.check("/acme-velero/workload-cluster/backups/c/c-logs.gz", &q, now),
            Err(S3Error::SignatureDoesNotMatch)
        ));
        // A signature with a character more, or one changed, is not the signature.
        let sig = q.signature.clone().unwrap();
        for spoiled in [
            format!("{sig}0"),
            format!("{sig}00"),
            format!("{}x", &sig[..sig.len() - 1]),
        ] {
            let q = Signed {
                signature: Some(spoiled),
                date: q.date.clone(),
                expires: q.expires,
            };
            assert!(matches!(
                e.check(path, &q, now),
                Err(S3Error::SignatureDoesNotMatch)
            ));
        }
        let other = Endpoint::new("https://127.0.0.1:1".into());
        assert!(matches!(
            other.check(path, &q, now),
            Err(S3Error::SignatureDoesNotMatch)
        ));
        let unsigned = Signed {
            date: None,
            expires: None,
            signature: None,
        };
        assert!(matches!(
            e.check(path, &unsigned, now),
            Err(S3Error::AccessDenied(_))
        ));
    }
}
