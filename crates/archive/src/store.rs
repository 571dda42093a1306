//! The object store behind the archive, and its few verbs: compressed
//! objects written whole (a reader never sees half of one), read back.

use std::io::{Read, Write};
use std::sync::Arc;

use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::prefix::PrefixStore;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

pub type Store = Arc<dyn ObjectStore>;

/// The store `url` names. `file:///var/lib/minitask-archive` is a
/// directory (a PersistentVolumeClaim in the cluster); `s3://bucket/prefix`,
/// `gs://bucket/prefix` and `az://container/prefix` are object stores,
/// configured by `options` (the `AWS_*`, `GOOGLE_*` and `AZURE_*`
/// variables of the environment, see `options_from_env`). Nothing is read
/// or written here: a store that cannot be reached says so on first use.
pub fn open(url: &str, options: &[(String, String)]) -> anyhow::Result<Store> {
    if let Some(dir) = url.strip_prefix("file://") {
        std::fs::create_dir_all(dir).map_err(|e| anyhow::anyhow!("cannot create the archive directory {dir}: {e}"))?;
        let fs = LocalFileSystem::new_with_prefix(dir)
            .map_err(|e| anyhow::anyhow!("cannot use {dir} as the archive: {e}"))?;
        return Ok(Arc::new(fs));
    }
    let parsed = url::Url::parse(url).map_err(|e| anyhow::anyhow!("--store {url}: not a URL ({e})"))?;
    if !matches!(parsed.scheme(), "s3" | "s3a" | "gs" | "az" | "azure" | "abfs" | "abfss") {
        anyhow::bail!(
            "--store {url}: use file:///path (a directory, such as a mounted PersistentVolumeClaim), s3://bucket/prefix, gs://bucket/prefix or az://container/prefix"
        );
    }
    // reqwest's TLS is rustls without a built-in provider: ring, as the
    // rest of the archive (a second call finds it installed).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let (store, prefix) = object_store::parse_url_opts(&parsed, options.iter().map(|(k, v)| (k, v.clone())))
        .map_err(|e| anyhow::anyhow!("--store {url}: {e}"))?;
    Ok(Arc::new(PrefixStore::new(store, prefix)))
}

/// The object store settings in the environment (from a Secret or the
/// cloud's workload identity): every `AWS_*`, `GOOGLE_*` and `AZURE_*`
/// variable, as object_store's builders name them (`aws_endpoint`, ...).
pub fn options_from_env() -> Vec<(String, String)> {
    std::env::vars()
        .filter(|(key, _)| ["AWS_", "GOOGLE_", "AZURE_"].iter().any(|p| key.starts_with(p)))
        .map(|(key, value)| (key.to_ascii_lowercase(), value))
        .collect()
}

pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = GzEncoder::new(Vec::new(), Compression::fast());
    // Writing to a Vec cannot fail.
    let _ = out.write_all(bytes);
    out.finish().unwrap_or_default()
}

pub fn gunzip(bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    GzDecoder::new(bytes).read_to_end(&mut out)?;
    Ok(out)
}

pub async fn put(store: &Store, key: &str, bytes: Vec<u8>) -> object_store::Result<()> {
    store.put(&Path::from(key), PutPayload::from(bytes)).await.map(|_| ())
}

/// What is directly under `dir`, each sorted: (sub-directories, objects).
pub async fn list_dir(store: &Store, dir: &str) -> object_store::Result<(Vec<String>, Vec<String>)> {
    let listed = store.list_with_delimiter(Some(&Path::from(dir))).await?;
    let mut dirs: Vec<String> = listed.common_prefixes.iter().map(|p| p.to_string()).collect();
    let mut objects: Vec<String> = listed.objects.iter().map(|o| o.location.to_string()).collect();
    dirs.sort();
    objects.sort();
    Ok((dirs, objects))
}

/// The object at `key`, or None when there is none.
pub async fn get(store: &Store, key: &str) -> object_store::Result<Option<Vec<u8>>> {
    match store.get(&Path::from(key)).await {
        Ok(got) => Ok(Some(got.bytes().await?.to_vec())),
        Err(object_store::Error::NotFound { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}
