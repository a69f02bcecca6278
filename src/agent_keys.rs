//! Agents' keys, kept in the data directory readable by the user only, so `purser env --agent NAME` can
//! print an agent's proxy settings again after the key was first shown. The ledger stores only each key's
//! SHA-256, which is what the proxy checks.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read {path}: {reason}")]
    Read { path: String, reason: String },
    #[error("cannot write {path}: {source}")]
    Write { path: String, source: std::io::Error },
}

pub fn path(data_dir: &Path) -> PathBuf {
    data_dir.join("agent-keys.toml")
}

fn read_all(data_dir: &Path) -> Result<BTreeMap<String, String>, Error> {
    let path = path(data_dir);
    let err = |reason: String| Error::Read { path: path.display().to_string(), reason };
    match std::fs::read_to_string(&path) {
        Ok(text) => toml::from_str(&text).map_err(|e| err(e.to_string())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
        Err(e) => Err(err(e.to_string())),
    }
}

/// The key kept for agent `name`, if any.
pub fn get(data_dir: &Path, name: &str) -> Result<Option<String>, Error> {
    Ok(read_all(data_dir)?.remove(name))
}

/// Keeps `key` as agent `name`'s key, replacing an older one.
pub fn put(data_dir: &Path, name: &str, key: &str) -> Result<(), Error> {
    let mut all = read_all(data_dir)?;
    all.insert(name.to_string(), key.to_string());
    let text = toml::to_string(&all).unwrap_or_default();
    let path = path(data_dir);
    crate::private_fs::write_atomic(&path, text.as_bytes(), true)
        .map_err(|source| Error::Write { path: path.display().to_string(), source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_user_only_and_replaced_on_rotation() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(get(dir.path(), "a").unwrap(), None);
        put(dir.path(), "a", "k1").unwrap();
        put(dir.path(), "b", "k2").unwrap();
        put(dir.path(), "a", "k3").unwrap();
        assert_eq!(get(dir.path(), "a").unwrap().as_deref(), Some("k3"));
        assert_eq!(get(dir.path(), "b").unwrap().as_deref(), Some("k2"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(path(dir.path())).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
