//! Repositories in object stores: `s3://` (AWS and S3-compatible endpoints), `gs://`, `az://`,
//! `file://`, and read-only `http(s)://`, all through `object_store`.
//!
//! S3 configuration comes from the standard AWS environment variables (`AWS_ENDPOINT_URL` or
//! `AWS_ENDPOINT`, `AWS_REGION`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
//! `AWS_SESSION_TOKEN`, `AWS_VIRTUAL_HOSTED_STYLE_REQUEST`, `AWS_ALLOW_HTTP`).
//!
//! Google Cloud Storage (`gs://bucket/prefix`) reads `GOOGLE_SERVICE_ACCOUNT` (a key file),
//! `GOOGLE_SERVICE_ACCOUNT_KEY` (the key's JSON), `GOOGLE_APPLICATION_CREDENTIALS`, else the
//! gcloud application-default credentials, else the instance metadata server;
//! `GOOGLE_BASE_URL` overrides the endpoint, and `STORAGE_EMULATOR_HOST` (host:port or URL, the
//! Google client libraries' convention) names an emulator, which is sent no credentials.
//!
//! Azure Blob Storage (`az://container/prefix`, `abfs[s]://container/prefix` or
//! `abfs[s]://container@account.dfs.core.windows.net/prefix`) reads `AZURE_STORAGE_ACCOUNT_NAME`
//! and one of `AZURE_STORAGE_ACCOUNT_KEY`, `AZURE_STORAGE_SAS_KEY`, `AZURE_STORAGE_TOKEN`,
//! `AZURE_CLIENT_ID`/`AZURE_CLIENT_SECRET`/`AZURE_TENANT_ID` (service principal), workload or
//! managed identity; `AZURE_STORAGE_ENDPOINT` overrides the endpoint, and
//! `AZURE_STORAGE_USE_EMULATOR=true` talks to Azurite at `AZURITE_BLOB_STORAGE_URL`
//! (default `http://127.0.0.1:10000`) with its well-known development account.
//!
//! Credentials are never printed or logged.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use futures::StreamExt;
use object_store::aws::{AmazonS3Builder, Checksum};
use object_store::azure::MicrosoftAzureBuilder;
use object_store::gcp::{GcpCredential, GcpSigningCredential, GoogleCloudStorageBuilder};
use object_store::path::Path as ObjectPath;
use object_store::{
    Attribute, AttributeValue, Attributes, BackoffConfig, ClientOptions, GetOptions, ObjectStore,
    ObjectStoreExt, PutMode, PutOptions, PutPayload, RetryConfig, StaticCredentialProvider,
};

use crate::record::VersionRecord;

/// The user-metadata key under which every uploaded object carries its SHA-256 (hex).
pub const SHA256_METADATA: &str = "sha256";

/// What a HEAD request tells about an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteObject {
    pub size: u64,
    /// The SHA-256 stored with the object at upload time, if the store keeps it.
    pub sha256: Option<String>,
}

/// A repository in an object store.
#[derive(Debug, Clone)]
pub struct Remote {
    /// The repository URL as given (credentials are never part of it).
    pub url: String,
    store: Arc<dyn ObjectStore>,
    prefix: String,
    /// False for plain HTTP(S) repositories, which are read-only.
    pub writable: bool,
    /// True for plain HTTP(S), where objects cannot be listed.
    pub http: bool,
    /// False where the store cannot keep user metadata (local files): no stored SHA-256.
    pub keeps_metadata: bool,
}

/// True when `location` names an object store rather than a local directory.
pub fn is_remote(location: &str) -> bool {
    let lower = location.to_ascii_lowercase();
    [
        "s3://", "gs://", "az://", "abfs://", "abfss://", "file://", "http://", "https://",
    ]
    .iter()
    .any(|s| lower.starts_with(s))
}

fn retry() -> RetryConfig {
    RetryConfig {
        backoff: BackoffConfig {
            init_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(15),
            base: 2.0,
        },
        max_retries: 8,
        retry_timeout: Duration::from_secs(300),
    }
}

fn client_options() -> ClientOptions {
    ClientOptions::new()
        .with_connect_timeout(Duration::from_secs(30))
        .with_timeout(Duration::from_secs(300))
}

/// The part size of multipart uploads: 16 MiB unless `SCIML_DATA_MULTIPART_PART_SIZE` gives
/// another size in bytes (S3 and GCS want at least 5 MiB for every part but the last). Every
/// part but the last has exactly this size, which the multipart ETag check relies on.
pub fn multipart_part_size() -> usize {
    std::env::var("SCIML_DATA_MULTIPART_PART_SIZE")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or(16 << 20)
}

/// The GCS emulator named by `STORAGE_EMULATOR_HOST` (the Google client libraries'
/// convention: `host:port` or a URL), as a base URL.
fn gcs_emulator_host() -> Option<String> {
    let host = std::env::var("STORAGE_EMULATOR_HOST").ok()?;
    let host = host.trim().trim_end_matches('/');
    if host.is_empty() {
        return None;
    }
    Some(if host.contains("://") {
        host.to_string()
    } else {
        format!("http://{host}")
    })
}

impl Remote {
    /// Opens the repository at `url`.
    pub fn open(url: &str) -> Result<Remote> {
        let url = url.trim_end_matches('/').to_string();
        let parsed =
            url::Url::parse(&url).with_context(|| format!("{url:?} is not a valid URL"))?;
        let scheme = parsed.scheme().to_ascii_lowercase();
        let path = parsed.path().trim_matches('/').to_string();
        let (store, prefix, writable, http): (Arc<dyn ObjectStore>, String, bool, bool) =
            match scheme.as_str() {
                "s3" => {
                    let bucket = parsed.host_str().context("s3:// URL without a bucket")?;
                    let mut b = AmazonS3Builder::from_env()
                        .with_bucket_name(bucket)
                        .with_checksum_algorithm(Checksum::SHA256)
                        .with_retry(retry())
                        .with_client_options(client_options());
                    let endpoint = std::env::var("AWS_ENDPOINT_URL")
                        .or_else(|_| std::env::var("AWS_ENDPOINT"))
                        .ok();
                    if let Some(e) = endpoint {
                        b = b
                            .with_endpoint(&e)
                            .with_allow_http(e.starts_with("http://"));
                    }
                    if std::env::var("AWS_REGION").is_err()
                        && std::env::var("AWS_DEFAULT_REGION").is_err()
                    {
                        b = b.with_region("us-east-1");
                    }
                    let store = b
                        .build()
                        .with_context(|| format!("cannot configure S3 access for {url}"))?;
                    (Arc::new(store), path, true, false)
                }
                "file" => {
                    let dir = parsed
                        .to_file_path()
                        .map_err(|_| anyhow::anyhow!("{url}: not a local file URL"))?;
                    std::fs::create_dir_all(&dir)
                        .with_context(|| format!("cannot create {}", dir.display()))?;
                    let store = object_store::local::LocalFileSystem::new_with_prefix(&dir)?;
                    (Arc::new(store), String::new(), true, false)
                }
                "http" | "https" => {
                    let base = &parsed[..url::Position::BeforePath];
                    let store = object_store::http::HttpBuilder::new()
                        .with_url(base)
                        .with_retry(retry())
                        .with_client_options(client_options().with_allow_http(scheme == "http"))
                        .build()?;
                    (Arc::new(store), path, false, true)
                }
                "gs" => {
                    let bucket = parsed.host_str().context("gs:// URL without a bucket")?;
                    let mut b = GoogleCloudStorageBuilder::from_env()
                        .with_bucket_name(bucket)
                        .with_retry(retry());
                    // GOOGLE_BASE_URL (read by from_env) or the Google client libraries'
                    // STORAGE_EMULATOR_HOST points at another endpoint, e.g. an emulator.
                    let mut base_url = std::env::var("GOOGLE_BASE_URL").ok();
                    if let Some(host) = gcs_emulator_host() {
                        // An emulator takes no OAuth token: a static empty one, so that no
                        // credential (and no metadata server) is ever looked up.
                        b = b
                            .with_credentials(Arc::new(StaticCredentialProvider::new(
                                GcpCredential {
                                    bearer: String::new(),
                                },
                            )))
                            .with_signing_credentials(Arc::new(StaticCredentialProvider::new(
                                GcpSigningCredential {
                                    email: String::new(),
                                    private_key: None,
                                },
                            )));
                        if base_url.is_none() {
                            b = b.with_base_url(&host);
                            base_url = Some(host);
                        }
                    }
                    let plain_http = base_url.is_some_and(|u| u.starts_with("http://"));
                    let store = b
                        .with_client_options(client_options().with_allow_http(plain_http))
                        .build()
                        .with_context(|| {
                            format!("cannot configure Google Cloud Storage access for {url}")
                        })?;
                    (Arc::new(store), path, true, false)
                }
                "az" | "abfs" | "abfss" => {
                    // The container (and, for abfs[s]://container@account.dfs.core.windows.net,
                    // the account) come from the URL; everything else from AZURE_* variables.
                    let endpoint = std::env::var("AZURE_STORAGE_ENDPOINT")
                        .or_else(|_| std::env::var("AZURE_ENDPOINT"))
                        .ok();
                    let plain_http = endpoint.is_some_and(|e| e.starts_with("http://"));
                    let store = MicrosoftAzureBuilder::from_env()
                        .with_url(url.as_str())
                        .with_retry(retry())
                        .with_client_options(client_options().with_allow_http(plain_http))
                        .build()
                        .with_context(|| {
                            format!("cannot configure Azure Blob Storage access for {url}")
                        })?;
                    (Arc::new(store), path, true, false)
                }
                other => bail!("unsupported repository URL scheme {other:?} in {url}"),
            };
        Ok(Remote {
            keeps_metadata: scheme != "file",
            url,
            store,
            prefix,
            writable,
            http,
        })
    }

    /// The object path of `rel` (a '/'-separated path relative to the repository).
    pub fn path(&self, rel: &str) -> Result<ObjectPath> {
        let full = if self.prefix.is_empty() {
            rel.to_string()
        } else {
            format!("{}/{}", self.prefix, rel)
        };
        ObjectPath::parse(&full).with_context(|| format!("invalid object path {full:?}"))
    }

    /// The underlying store.
    pub fn store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    /// The whole object, `None` if it does not exist.
    pub async fn get(&self, rel: &str) -> Result<Option<Bytes>> {
        match self.store.get(&self.path(rel)?).await {
            Ok(r) => {
                Ok(Some(r.bytes().await.with_context(|| {
                    format!("cannot read {}/{rel}", self.url)
                })?))
            }
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e).with_context(|| format!("cannot read {}/{rel}", self.url)),
        }
    }

    /// A byte stream of the object.
    pub async fn stream(
        &self,
        rel: &str,
    ) -> Result<futures::stream::BoxStream<'static, object_store::Result<Bytes>>> {
        let r = self
            .store
            .get(&self.path(rel)?)
            .await
            .with_context(|| format!("cannot read {}/{rel}", self.url))?;
        Ok(r.into_stream())
    }

    /// Size and stored SHA-256 of an object, `None` if it does not exist.
    pub async fn head(&self, rel: &str) -> Result<Option<RemoteObject>> {
        let opts = GetOptions {
            head: true,
            ..Default::default()
        };
        match self.store.get_opts(&self.path(rel)?, opts).await {
            Ok(r) => {
                let sha256 = r
                    .attributes
                    .get(&Attribute::Metadata(SHA256_METADATA.into()))
                    .map(|v| v.as_ref().to_ascii_lowercase());
                Ok(Some(RemoteObject {
                    size: r.meta.size,
                    sha256,
                }))
            }
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e).with_context(|| format!("cannot stat {}/{rel}", self.url)),
        }
    }

    fn check_writable(&self) -> Result<()> {
        if !self.writable {
            bail!(
                "{} is read-only (plain HTTP); publish to s3://, gs://, az:// or file:// instead",
                self.url
            );
        }
        Ok(())
    }

    /// The object attributes that carry `sha256` as user metadata (none where the store keeps
    /// no metadata).
    fn sha256_attributes(&self, sha256: &str) -> Attributes {
        let mut attributes = Attributes::new();
        if self.keeps_metadata {
            attributes.insert(
                Attribute::Metadata(SHA256_METADATA.into()),
                AttributeValue::from(sha256.to_string()),
            );
        }
        attributes
    }

    /// Uploads `bytes` with its SHA-256 as object metadata. `create` uses a conditional
    /// create (If-None-Match: *): `Ok(false)` means the object already existed.
    pub async fn put(&self, rel: &str, bytes: Bytes, sha256: &str, create: bool) -> Result<bool> {
        self.check_writable()?;
        let attributes = self.sha256_attributes(sha256);
        let opts = PutOptions {
            mode: if create {
                PutMode::Create
            } else {
                PutMode::Overwrite
            },
            attributes,
            ..Default::default()
        };
        match self
            .store
            .put_opts(&self.path(rel)?, PutPayload::from_bytes(bytes), opts)
            .await
        {
            Ok(_) => Ok(true),
            Err(object_store::Error::AlreadyExists { .. }) if create => Ok(false),
            Err(e) => Err(e).with_context(|| format!("cannot upload {}/{rel}", self.url)),
        }
    }

    /// Uploads a payload object (overwriting) with its SHA-256 as object metadata; returns the
    /// ETag the store answered with, for the transfer check ([`crate::etag`]).
    pub async fn put_payload(
        &self,
        rel: &str,
        bytes: Bytes,
        sha256: &str,
    ) -> Result<Option<String>> {
        self.check_writable()?;
        let attributes = self.sha256_attributes(sha256);
        let opts = PutOptions {
            attributes,
            ..Default::default()
        };
        let r = self
            .store
            .put_opts(&self.path(rel)?, PutPayload::from_bytes(bytes), opts)
            .await
            .with_context(|| format!("cannot upload {}/{rel}", self.url))?;
        Ok(r.e_tag)
    }

    /// Starts a multipart upload carrying `sha256` as object metadata.
    pub async fn put_multipart(
        &self,
        rel: &str,
        sha256: &str,
    ) -> Result<object_store::WriteMultipart> {
        self.check_writable()?;
        let attributes = self.sha256_attributes(sha256);
        let opts = object_store::PutMultipartOptions {
            attributes,
            ..Default::default()
        };
        let upload = self
            .store
            .put_multipart_opts(&self.path(rel)?, opts)
            .await
            .with_context(|| format!("cannot start uploading {}/{rel}", self.url))?;
        Ok(object_store::WriteMultipart::new_with_chunk_size(
            upload,
            multipart_part_size(),
        ))
    }

    /// The whole object, fetched again (up to 3 times) until its SHA-256 is `sha256`: a byte
    /// damaged in transit is never accepted.
    pub async fn get_verified(&self, rel: &str, sha256: &str) -> Result<Bytes> {
        let mut actual = String::new();
        for _ in 0..3 {
            let bytes = self
                .get(rel)
                .await?
                .with_context(|| format!("{}/{rel} is missing", self.url))?;
            actual = crate::hashing::sha256_hex(&bytes);
            if actual == sha256 {
                return Ok(bytes);
            }
        }
        bail!(
            "{}/{rel}: the downloaded bytes do not match the manifest (expected {sha256}, got {actual}); not accepted",
            self.url
        )
    }

    /// The SHA-256 (hex) of the object's bytes, streamed (for large objects).
    pub async fn stream_sha256(&self, rel: &str) -> Result<String> {
        use futures::StreamExt;
        use sha2::{Digest, Sha256};
        let mut s = self.stream(rel).await?;
        let mut h = Sha256::new();
        while let Some(chunk) = s.next().await {
            h.update(&chunk.with_context(|| format!("cannot read {}/{rel}", self.url))?);
        }
        Ok(hex::encode(h.finalize()))
    }

    /// Deletes an object (missing is fine).
    pub async fn delete(&self, rel: &str) -> Result<()> {
        self.check_writable()?;
        match self.store.delete(&self.path(rel)?).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e).with_context(|| format!("cannot delete {}/{rel}", self.url)),
        }
    }

    /// The version record, `None` if the version does not exist.
    pub async fn record(
        &self,
        dataset: &str,
        version: &semver::Version,
    ) -> Result<Option<VersionRecord>> {
        let rel = format!("{dataset}/versions/{version}.json");
        let Some(bytes) = self.get(&rel).await? else {
            return Ok(None);
        };
        let record: VersionRecord = serde_json::from_slice(&bytes)
            .with_context(|| format!("{}/{rel}: not a valid version record", self.url))?;
        record.check_names(dataset, version, &format!("{}/{rel}", self.url))?;
        Ok(Some(record))
    }

    /// All versions of a dataset, oldest first (needs listing: not over plain HTTP).
    /// Every object under the folder `rel` (recursively): path relative to the repository ->
    /// size. One LIST request per 1,000 objects.
    pub async fn list_sizes(&self, rel: &str) -> Result<std::collections::HashMap<String, u64>> {
        let prefix = self.path(rel)?;
        let strip = if self.prefix.is_empty() {
            String::new()
        } else {
            format!("{}/", self.prefix)
        };
        let mut listing = self.store.list(Some(&prefix));
        let mut out = std::collections::HashMap::new();
        while let Some(meta) = listing.next().await {
            let meta = meta.with_context(|| format!("cannot list {}/{rel}", self.url))?;
            let full = meta.location.to_string();
            let rel = full.strip_prefix(&strip).unwrap_or(&full).to_string();
            out.insert(rel, meta.size);
        }
        Ok(out)
    }

    pub async fn versions(&self, dataset: &str) -> Result<Vec<VersionRecord>> {
        if self.http {
            bail!(
                "{} is plain HTTP, which cannot list objects; name a version ({}/{dataset}@<version>)",
                self.url,
                self.url
            );
        }
        let prefix = self.path(&format!("{dataset}/versions"))?;
        let mut listing = self.store.list(Some(&prefix));
        let mut versions = Vec::new();
        while let Some(meta) = listing.next().await {
            let meta =
                meta.with_context(|| format!("cannot list {}/{dataset}/versions", self.url))?;
            let Some(name) = meta.location.filename() else {
                continue;
            };
            let Some(v) = crate::record::version_of_record_file(name) else {
                continue;
            };
            if let Some(r) = self.record(dataset, &v).await? {
                versions.push((v, r));
            }
        }
        versions.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(versions.into_iter().map(|(_, r)| r).collect())
    }
}
