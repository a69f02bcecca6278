//! Files and folders only the user may read: the data directory, the CA key, agent keys, `control.json`.

use std::io::Write;
use std::path::Path;

/// Creates `dir` (and its parents) if missing; a folder Purser creates is owner-only (0700).
pub fn create_dir(dir: &Path) -> std::io::Result<()> {
    if dir.exists() {
        return Ok(());
    }
    std::fs::create_dir_all(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// Makes `dir` (Purser's data directory) owner-only (0700), creating it if missing; a directory that already
/// existed readable by others is made owner-only too. Returns whether an existing directory's mode changed.
pub fn private_data_dir(dir: &Path) -> std::io::Result<bool> {
    if !dir.exists() {
        create_dir(dir)?;
        return Ok(false);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir)?.permissions().mode();
        if mode & 0o077 != 0 {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
            return Ok(true);
        }
    }
    Ok(false)
}

/// Writes `bytes` to `path` whole or not at all (a temporary file beside it, then a rename), owner-only
/// (0600) when `private`, else readable by all (0644).
pub fn write_atomic(path: &Path, bytes: &[u8], private: bool) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    create_dir(dir)?;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(if private { 0o600 } else { 0o644 });
    }
    let result = (|| {
        let mut f = opts.open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Takes the data directory's lock (`purser.lock`, held until the returned file is dropped or the process
/// ends, however it ends). Two proxies on one ledger would each take the other's payments in flight for an
/// earlier run's and close them.
pub fn lock_dir(dir: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    create_dir(dir)?;
    let path = dir.join("purser.lock");
    let file = std::fs::OpenOptions::new().create(true).truncate(false).write(true).mode(0o600).open(&path)?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(std::io::Error::new(
            std::io::ErrorKind::WouldBlock,
            format!("another Purser is already running with the data directory {}", dir.display()),
        )),
        Err(std::fs::TryLockError::Error(e)) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn an_existing_open_data_directory_is_made_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("purser");
        std::fs::create_dir(&data).unwrap();
        std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert!(super::private_data_dir(&data).unwrap(), "the change is reported");
        assert_eq!(std::fs::metadata(&data).unwrap().permissions().mode() & 0o777, 0o700);
        assert!(!super::private_data_dir(&data).unwrap(), "nothing to change the second time");
        let fresh = dir.path().join("fresh");
        assert!(!super::private_data_dir(&fresh).unwrap());
        assert_eq!(std::fs::metadata(&fresh).unwrap().permissions().mode() & 0o777, 0o700);
    }
}
