//! The staging area where a version is built before it becomes visible.
//!
//! Every file of the bag is written through [`Staging`], which hashes the bytes as they are
//! written (never re-reading them) and keeps the inventory from which the manifests are
//! produced. Writes go through `object_store` (a `LocalFileSystem` rooted at the staging
//! directory), so the same code path serves other stores. Zarr arrays are written through
//! [`StagingZarrStore`], a zarrs storage adapter over the same machinery.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use bytes::Bytes;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use zarrs::storage::{
    AsyncWritableStorageTraits, OffsetBytesIterator, StorageError, StoreKey, StorePrefix,
};

use crate::bag::{self, BagInfo, FileEntry, Inventory};
use crate::hashing::finish_hex;
use sha2::{Digest, Sha256};

/// A bag under construction in a local directory.
#[derive(Debug)]
pub struct Staging {
    root: PathBuf,
    store: Arc<dyn ObjectStore>,
    payload: Mutex<Inventory>,
    tags: Mutex<Inventory>,
}

impl Staging {
    /// Creates the staging directory `root` (which must not exist yet).
    pub fn create(root: PathBuf) -> Result<Arc<Staging>> {
        std::fs::create_dir_all(&root)
            .with_context(|| format!("cannot create staging directory {}", root.display()))?;
        let store = LocalFileSystem::new_with_prefix(&root)
            .with_context(|| format!("cannot open staging directory {}", root.display()))?;
        Ok(Arc::new(Staging {
            root,
            store: Arc::new(store),
            payload: Mutex::new(Inventory::new()),
            tags: Mutex::new(Inventory::new()),
        }))
    }

    /// The staging directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn inventory_for(&self, path: &str) -> &Mutex<Inventory> {
        if path.starts_with(bag::PAYLOAD_DIR) {
            &self.payload
        } else {
            &self.tags
        }
    }

    /// Writes `bytes` at `path` (relative to the bag root), hashing them on the way.
    pub async fn put(&self, path: &str, bytes: Bytes) -> Result<()> {
        self.put_parts(path, vec![bytes]).await
    }

    /// Writes the file made of `parts`, one after the other, at `path` (relative to the bag
    /// root), hashing them on the way.
    pub async fn put_parts(&self, path: &str, parts: Vec<Bytes>) -> Result<()> {
        bag::check_relative_path(path)?;
        let mut hasher = Sha256::new();
        for p in &parts {
            hasher.update(p);
        }
        let entry = FileEntry {
            size: parts.iter().map(|p| p.len() as u64).sum(),
            sha256: finish_hex(hasher),
        };
        let location =
            ObjectPath::parse(path).with_context(|| format!("bad object path {path:?}"))?;
        self.store
            .put(&location, parts.into_iter().collect::<PutPayload>())
            .await
            .with_context(|| format!("cannot write {}", self.root.join(path).display()))?;
        lock(self.inventory_for(path)).insert(path.to_string(), entry);
        Ok(())
    }

    /// Removes `path` if it exists.
    pub async fn delete(&self, path: &str) -> Result<()> {
        let location =
            ObjectPath::parse(path).with_context(|| format!("bad object path {path:?}"))?;
        match self.store.delete(&location).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => {
                return Err(e)
                    .with_context(|| format!("cannot delete {}", self.root.join(path).display()));
            }
        }
        lock(self.inventory_for(path)).remove(path);
        Ok(())
    }

    /// A zarrs storage whose keys live under `prefix` (for example `data/grid.zarr`).
    pub fn zarr_store(self: &Arc<Self>, prefix: &str) -> Arc<StagingZarrStore> {
        Arc::new(StagingZarrStore {
            staging: self.clone(),
            prefix: prefix.trim_end_matches('/').to_string(),
        })
    }

    /// The payload written so far.
    pub fn payload(&self) -> Inventory {
        lock(&self.payload).clone()
    }

    /// Writes `metadata/sizes.txt`, `manifest-sha256.txt`, `bagit.txt`, `bag-info.txt`
    /// (with Payload-Oxum and the digest filled in) and finally `tagmanifest-sha256.txt`.
    /// Returns the version digest (`sha256:<hex>`). Equivalent to [`Staging::finish_payload`]
    /// followed by [`Staging::finish_tags`], for writers that add no tag files in between.
    pub async fn finish_bag(&self, info: BagInfo, dataset: &str, version: &str) -> Result<String> {
        let finished = self.finish_payload().await?;
        self.finish_tags(info, dataset, version, &finished.digest)
            .await?;
        Ok(finished.digest)
    }

    /// First half of finishing a bag: writes `metadata/sizes.txt` and `manifest-sha256.txt`
    /// and returns the version digest with the payload inventory it names. No payload file
    /// may be written afterwards; tag files under `metadata/` may (they are covered by the
    /// tag manifest that [`Staging::finish_tags`] writes, not by the digest).
    pub async fn finish_payload(&self) -> Result<FinishedPayload> {
        let payload = self.payload();
        anyhow::ensure!(!payload.is_empty(), "the version has no payload files");
        self.put(bag::SIZES, Bytes::from(bag::sizes_text(&payload)))
            .await?;
        let manifest = bag::manifest_text(&payload);
        let digest = bag::digest_of_manifest(manifest.as_bytes());
        self.put(bag::MANIFEST, Bytes::from(manifest)).await?;
        Ok(FinishedPayload { digest, payload })
    }

    /// Second half: writes `bagit.txt`, `bag-info.txt` (Payload-Oxum and `digest` filled in,
    /// then the fields of `info`) and finally `tagmanifest-sha256.txt` over every tag file
    /// written so far.
    pub async fn finish_tags(
        &self,
        mut info: BagInfo,
        dataset: &str,
        version: &str,
        digest: &str,
    ) -> Result<()> {
        let payload = self.payload();
        self.put(bag::BAGIT, Bytes::from_static(bag::BAGIT_TXT.as_bytes()))
            .await?;
        let (bytes, count) = bag::payload_oxum(&payload);
        let mut full = BagInfo::default();
        full.push("Payload-Oxum", format!("{bytes}.{count}"));
        full.push(
            "Bagging-Date",
            chrono::Utc::now().format("%Y-%m-%d").to_string(),
        );
        full.push(
            "External-Identifier",
            format!("{dataset}@{version} {digest}"),
        );
        full.push("Bag-Group-Identifier", dataset);
        full.push("Version", version);
        full.push(
            "Bag-Software-Agent",
            format!("{} {}", env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION")),
        );
        full.fields.append(&mut info.fields);
        self.put(bag::BAG_INFO, Bytes::from(full.to_text())).await?;
        let tags = lock(&self.tags).clone();
        self.put(bag::TAGMANIFEST, Bytes::from(bag::manifest_text(&tags)))
            .await?;
        Ok(())
    }
}

/// What [`Staging::finish_payload`] fixed: the digest and the payload it names.
#[derive(Debug, Clone)]
pub struct FinishedPayload {
    /// `sha256:<hex>` of `manifest-sha256.txt`.
    pub digest: String,
    /// Every payload file with its size and SHA-256 (the manifest's content).
    pub payload: Inventory,
}

impl Drop for Staging {
    /// A staging area that was not committed (an error, a panic) leaves nothing behind;
    /// after a commit the directory has been moved away and this is a no-op.
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A write-only zarrs store that writes through a [`Staging`] area (hashing every object).
/// Chunks must be written whole (no partial writes), which is also what keeps outputs
/// deterministic.
#[derive(Debug)]
pub struct StagingZarrStore {
    staging: Arc<Staging>,
    prefix: String,
}

impl StagingZarrStore {
    fn path(&self, key: &str) -> String {
        format!("{}/{}", self.prefix, key)
    }

    /// Stores the object made of `parts`, one after the other, at `key` (hashed into the
    /// manifest like every other object): a shard written without first copying its
    /// subchunks into one buffer.
    pub async fn set_parts(&self, key: &StoreKey, parts: Vec<Bytes>) -> Result<()> {
        self.staging
            .put_parts(&self.path(key.as_str()), parts)
            .await
    }
}

fn storage_err(e: anyhow::Error) -> StorageError {
    StorageError::Other(format!("{e:#}"))
}

#[async_trait::async_trait]
impl AsyncWritableStorageTraits for StagingZarrStore {
    async fn set(&self, key: &StoreKey, value: Bytes) -> Result<(), StorageError> {
        self.staging
            .put(&self.path(key.as_str()), value)
            .await
            .map_err(storage_err)
    }

    async fn set_partial_many<'a>(
        &'a self,
        _key: &StoreKey,
        _offset_values: OffsetBytesIterator<'a>,
    ) -> Result<(), StorageError> {
        Err(StorageError::Unsupported(
            "partial writes are not supported while staging a version".into(),
        ))
    }

    async fn erase(&self, key: &StoreKey) -> Result<(), StorageError> {
        self.staging
            .delete(&self.path(key.as_str()))
            .await
            .map_err(storage_err)
    }

    async fn erase_prefix(&self, prefix: &StorePrefix) -> Result<(), StorageError> {
        let full = self.path(prefix.as_str());
        let keys: Vec<String> = lock(&self.staging.payload)
            .keys()
            .chain(lock(&self.staging.tags).keys())
            .filter(|k| k.starts_with(&full))
            .cloned()
            .collect();
        for k in keys {
            self.staging.delete(&k).await.map_err(storage_err)?;
        }
        Ok(())
    }

    fn supports_set_partial(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_file_written_in_parts_is_their_concatenation_and_its_hash() {
        let dir = tempfile::tempdir().expect("tempdir");
        let staging = Staging::create(dir.path().join("bag")).expect("staging");
        let parts = vec![
            Bytes::from_static(b"zstd frame one|"),
            Bytes::new(),
            Bytes::from(vec![7u8; 70_000]),
            Bytes::from_static(b"|index"),
        ];
        let whole: Vec<u8> = parts.iter().flat_map(|p| p.iter().copied()).collect();
        staging
            .put_parts("data/a.zarr/v/c/0/0", parts)
            .await
            .expect("put_parts");
        staging
            .put("data/b.bin", Bytes::from(whole.clone()))
            .await
            .expect("put");
        let on_disk = std::fs::read(dir.path().join("bag/data/a.zarr/v/c/0/0")).expect("read");
        assert_eq!(on_disk, whole);
        let payload = staging.payload();
        let a = &payload["data/a.zarr/v/c/0/0"];
        assert_eq!(a.size, whole.len() as u64);
        assert_eq!(a.sha256, crate::hashing::sha256_hex(&whole));
        assert_eq!(a, &payload["data/b.bin"]);
        // Paths that leave the bag are refused before anything is written.
        assert!(
            staging
                .put_parts("../escape", vec![Bytes::from_static(b"x")])
                .await
                .is_err()
        );
        assert!(!dir.path().join("escape").exists());
    }
}
