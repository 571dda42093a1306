//! Writing container images as OCI image-layout archives, without Docker.
//!
//! One tar holds the OCI layout (`oci-layout`, `index.json`, `blobs/`) plus
//! Docker's `manifest.json`, so `ctr images import`, `docker load` and
//! `kind load image-archive` all accept it. Layers are uncompressed tars
//! with fixed times and owners, so the same inputs give the same digests.

use anyhow::Context;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::path::Path;

/// A file or directory in an image layer.
pub enum Entry {
    File { path: String, mode: u32, data: Vec<u8> },
    Dir { path: String, mode: u32 },
    Symlink { path: String, target: String },
}

impl Entry {
    pub fn dir(path: &str, mode: u32) -> Entry {
        Entry::Dir {
            path: path.into(),
            mode,
        }
    }
    pub fn file(path: &str, mode: u32, data: Vec<u8>) -> Entry {
        Entry::File {
            path: path.into(),
            mode,
            data,
        }
    }
}

/// What the image runs, as in the OCI image config.
pub struct Config {
    pub entrypoint: Vec<String>,
    pub cmd: Vec<String>,
    pub user: String,
    pub env: Vec<String>,
}

/// A reference such as `docker.io/library/busybox:latest`.
pub struct Image {
    pub name: String,
    /// The OCI architecture of its binaries: `amd64`, `arm64`.
    pub architecture: String,
    pub entries: Vec<Entry>,
    pub config: Config,
}

/// A content-addressed blob.
struct Blob {
    digest: String,
    bytes: Vec<u8>,
}

impl Blob {
    fn new(bytes: Vec<u8>) -> Blob {
        Blob {
            digest: format!("sha256:{:x}", Sha256::digest(&bytes)),
            bytes,
        }
    }
    fn path(&self) -> String {
        format!("blobs/sha256/{}", self.digest.trim_start_matches("sha256:"))
    }
    fn descriptor(&self, media_type: &str) -> Value {
        json!({"mediaType": media_type, "digest": self.digest, "size": self.bytes.len()})
    }
}

/// The archive of `image`, as bytes.
pub fn archive(image: &Image) -> anyhow::Result<Vec<u8>> {
    let layer = Blob::new(layer_tar(&image.entries)?);
    let c = &image.config;
    let config = Blob::new(serde_json::to_vec(&json!({
        "architecture": image.architecture,
        "os": "linux",
        "config": {"Entrypoint": c.entrypoint, "Cmd": c.cmd, "User": c.user, "Env": c.env, "WorkingDir": "/"},
        "rootfs": {"type": "layers", "diff_ids": [layer.digest]},
    }))?);
    let manifest = Blob::new(serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": config.descriptor("application/vnd.oci.image.config.v1+json"),
        "layers": [layer.descriptor("application/vnd.oci.image.layer.v1.tar")],
    }))?);
    let tag = image.name.rsplit_once(':').map(|(_, t)| t).unwrap_or("latest");
    let mut manifest_ref = manifest.descriptor("application/vnd.oci.image.manifest.v1+json");
    manifest_ref["platform"] = json!({"architecture": image.architecture, "os": "linux"});
    manifest_ref["annotations"] =
        json!({"io.containerd.image.name": image.name, "org.opencontainers.image.ref.name": tag});
    let index = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [manifest_ref]});
    let docker = json!([{"Config": config.path(), "RepoTags": [image.name], "Layers": [layer.path()]}]);

    let mut out = tar::Builder::new(Vec::new());
    append(&mut out, "oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#, 0o644)?;
    append(&mut out, "index.json", &serde_json::to_vec(&index)?, 0o644)?;
    append(&mut out, "manifest.json", &serde_json::to_vec(&docker)?, 0o644)?;
    for blob in [&layer, &config, &manifest] {
        append(&mut out, &blob.path(), &blob.bytes, 0o644)?;
    }
    Ok(out.into_inner()?)
}

/// Writes the archive of `image` to `path`.
pub fn write(image: &Image, path: &Path) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, archive(image)?).with_context(|| format!("writing {}", path.display()))
}

fn layer_tar(entries: &[Entry]) -> anyhow::Result<Vec<u8>> {
    let mut layer = tar::Builder::new(Vec::new());
    for entry in entries {
        let mut header = tar::Header::new_gnu();
        header.set_mtime(0);
        header.set_uid(0);
        header.set_gid(0);
        match entry {
            Entry::File { path, mode, data } => {
                header.set_entry_type(tar::EntryType::Regular);
                header.set_mode(*mode);
                header.set_size(data.len() as u64);
                layer.append_data(&mut header, path, data.as_slice())?;
            }
            Entry::Dir { path, mode } => {
                header.set_entry_type(tar::EntryType::Directory);
                header.set_mode(*mode);
                header.set_size(0);
                layer.append_data(&mut header, path, std::io::empty())?;
            }
            Entry::Symlink { path, target } => {
                header.set_entry_type(tar::EntryType::Symlink);
                header.set_mode(0o777);
                header.set_size(0);
                layer.append_link(&mut header, path, target)?;
            }
        }
    }
    Ok(layer.into_inner()?)
}

fn append(out: &mut tar::Builder<Vec<u8>>, path: &str, data: &[u8], mode: u32) -> anyhow::Result<()> {
    let mut header = tar::Header::new_gnu();
    header.set_mtime(0);
    header.set_mode(mode);
    header.set_size(data.len() as u64);
    header.set_entry_type(tar::EntryType::Regular);
    out.append_data(&mut header, path, data)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::io::Read;

    fn sample() -> Image {
        Image {
            architecture: "amd64".into(),
            name: "example.com/demo:1".into(),
            entries: vec![
                Entry::Dir {
                    path: "bin".into(),
                    mode: 0o755,
                },
                Entry::File {
                    path: "bin/app".into(),
                    mode: 0o755,
                    data: b"#!/bin/true\n".to_vec(),
                },
                Entry::Symlink {
                    path: "bin/alias".into(),
                    target: "app".into(),
                },
            ],
            config: Config {
                entrypoint: vec!["/bin/app".into()],
                cmd: vec![],
                user: "65532:65532".into(),
                env: vec![],
            },
        }
    }

    fn unpack(tar_bytes: &[u8]) -> HashMap<String, Vec<u8>> {
        let mut archive = tar::Archive::new(tar_bytes);
        let mut out = HashMap::new();
        for entry in archive.entries().unwrap() {
            let mut entry = entry.unwrap();
            let path = entry.path().unwrap().display().to_string();
            let mut data = Vec::new();
            entry.read_to_end(&mut data).unwrap();
            out.insert(path, data);
        }
        out
    }

    #[test]
    fn every_reference_points_at_a_blob_with_that_digest() {
        let files = unpack(&archive(&sample()).unwrap());
        let blob = |digest: &str| files[&format!("blobs/sha256/{}", digest.trim_start_matches("sha256:"))].clone();
        for (path, data) in files.iter().filter(|(p, _)| p.starts_with("blobs/")) {
            assert!(
                path.ends_with(&format!("{:x}", Sha256::digest(data))),
                "{path} is named by its digest"
            );
        }
        let index: Value = serde_json::from_slice(&files["index.json"]).unwrap();
        let manifest_ref = &index["manifests"][0];
        assert_eq!(
            manifest_ref["annotations"]["io.containerd.image.name"],
            "example.com/demo:1"
        );
        let manifest: Value = serde_json::from_slice(&blob(manifest_ref["digest"].as_str().unwrap())).unwrap();
        let config: Value = serde_json::from_slice(&blob(manifest["config"]["digest"].as_str().unwrap())).unwrap();
        assert_eq!(config["config"]["User"], "65532:65532");
        assert_eq!(
            config["rootfs"]["diff_ids"][0], manifest["layers"][0]["digest"],
            "uncompressed layer"
        );
        let layer = unpack(&blob(manifest["layers"][0]["digest"].as_str().unwrap()));
        assert_eq!(layer["bin/app"], b"#!/bin/true\n");
        let docker: Value = serde_json::from_slice(&files["manifest.json"]).unwrap();
        assert_eq!(docker[0]["RepoTags"][0], "example.com/demo:1");
    }

    #[test]
    fn the_same_inputs_give_the_same_archive() {
        assert_eq!(archive(&sample()).unwrap(), archive(&sample()).unwrap());
    }
}
