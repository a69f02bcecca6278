//! Starting an agent where it cannot reach what guards the money (`purser run`): a `bubblewrap` sandbox in
//! which Purser's data and config directories (the ledger, `control.json`, every agent's key), the desktop
//! session bus (and with it the Secret Service keyring holding the wallet's connection string) and the
//! user's runtime directory are hidden, the system and the home directory are read-only, `/tmp` is the
//! agent's own, and only the working directory (and paths the person adds) can be written. The network works
//! as usual, so the agent reaches Purser's proxy; the files it needs to trust Purser's CA are shown read-only.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// Where `bwrap` is looked for, besides `$PATH`.
const BWRAP_PATHS: [&str; 2] = ["/usr/bin/bwrap", "/usr/local/bin/bwrap"];

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "bubblewrap (`bwrap`) is not installed, so the agent cannot be kept away from Purser's files and the \
         keyring; install it (Debian/Ubuntu: `sudo apt-get install bubblewrap`), or start the agent as another \
         OS user, or pass --no-sandbox to run it unconfined"
    )]
    NoBubblewrap,
    #[error(
        "bubblewrap cannot make a sandbox here ({0}); user namespaces may be disabled (`sysctl \
         kernel.unprivileged_userns_clone=1`), or start the agent as another OS user, or pass --no-sandbox to \
         run it unconfined"
    )]
    Unusable(String),
    #[error(
        "the desktop session bus is not a socket file ({0}): a sandbox that keeps the network cannot hide it; \
         start the agent as another OS user, or pass --no-sandbox to run it unconfined"
    )]
    AbstractBus(String),
    #[error("{0} is inside Purser's data directory, which the agent must not reach; use another directory")]
    InsideData(PathBuf),
    #[error("{0} holds Purser's data directory, which the agent must not reach; name a directory inside it")]
    HoldsData(PathBuf),
    #[error("{path} does not exist")]
    Missing { path: PathBuf },
}

/// What the agent sees and does not.
#[derive(Debug, Clone, Default)]
pub struct Confinement {
    /// Directories the agent must not see (Purser's data and config directories, the runtime directory).
    pub hidden: Vec<PathBuf>,
    /// Files inside hidden directories the agent needs, shown read-only (Purser's CA and CA bundle).
    pub shown: Vec<PathBuf>,
    /// Where the agent works: writable.
    pub work_dir: PathBuf,
    /// More writable paths (`--rw`).
    pub writable: Vec<PathBuf>,
    /// Paths shown read-only even inside hidden ones (`--ro`).
    pub read_only: Vec<PathBuf>,
    /// The session bus, as `DBUS_SESSION_BUS_ADDRESS` names it, if any.
    pub bus_address: Option<String>,
    /// Variables the agent gets (the proxy and CA ones).
    pub env: Vec<(String, String)>,
    /// Variables the agent must not inherit (Purser's own, the wallet's connection string among them).
    pub unset: Vec<String>,
    /// Files to show empty (an X authority cookie).
    pub covered: Vec<PathBuf>,
}

impl Confinement {
    /// Checks what can be checked before starting: the paths exist, the working directory is not inside a
    /// hidden one, the bus can be hidden.
    pub fn check(&self) -> Result<(), Error> {
        for path in self.writable.iter().chain(&self.read_only).chain(&self.shown).chain([&self.work_dir]) {
            if !path.exists() {
                return Err(Error::Missing { path: path.clone() });
            }
        }
        for path in self.writable.iter().chain([&self.work_dir]) {
            if self.hidden.iter().any(|h| path.starts_with(h)) {
                return Err(Error::InsideData(path.clone()));
            }
        }
        // A read-only path is shown after the hidden ones are emptied: it must not hold one of them.
        for path in &self.read_only {
            if self.hidden.iter().any(|h| h.starts_with(path)) {
                return Err(Error::HoldsData(path.clone()));
            }
        }
        if let Some(address) = &self.bus_address
            && address.split(';').any(|a| !a.starts_with("unix:path=") && !a.is_empty())
        {
            return Err(Error::AbstractBus(address.clone()));
        }
        Ok(())
    }

    /// `bwrap`'s arguments, up to and including `--`, for running `command` confined.
    pub fn bwrap_args(&self) -> Vec<OsString> {
        let mut args: Vec<OsString> = Vec::new();
        let mut push = |items: &[&std::ffi::OsStr]| args.extend(items.iter().map(|s| s.to_os_string()));
        // The system and home read-only; devices, processes and /tmp the agent's own.
        push(&["--ro-bind".as_ref(), "/".as_ref(), "/".as_ref()]);
        // Its own process list: Purser's processes (their memory, their environment) are not there to read.
        push(&["--unshare-pid".as_ref(), "--unshare-ipc".as_ref()]);
        push(&["--dev".as_ref(), "/dev".as_ref(), "--proc".as_ref(), "/proc".as_ref()]);
        push(&["--tmpfs".as_ref(), "/tmp".as_ref()]);
        // What the agent may write, before anything is hidden: a hidden directory inside one stays hidden.
        push(&["--bind".as_ref(), self.work_dir.as_os_str(), self.work_dir.as_os_str()]);
        for path in &self.writable {
            push(&["--bind".as_ref(), path.as_os_str(), path.as_os_str()]);
        }
        for dir in self.hidden.iter().filter(|d| d.is_dir()) {
            push(&["--tmpfs".as_ref(), dir.as_os_str()]);
        }
        let outside_hidden = |p: &PathBuf| !p.starts_with("/tmp") && !self.hidden.iter().any(|h| p.starts_with(h));
        for file in self.bus_sockets().iter().chain(&self.covered).filter(|p| p.exists() && outside_hidden(p)) {
            push(&["--ro-bind".as_ref(), "/dev/null".as_ref(), file.as_os_str()]);
        }
        for path in &self.shown {
            push(&["--ro-bind".as_ref(), path.as_os_str(), path.as_os_str()]);
        }
        // Empty and read-only: nothing Purser would find there, and nothing a Purser started inside could
        // write as if it were the person's.
        for dir in self.hidden.iter().filter(|d| d.is_dir()) {
            push(&["--remount-ro".as_ref(), dir.as_os_str()]);
        }
        for path in &self.read_only {
            push(&["--ro-bind".as_ref(), path.as_os_str(), path.as_os_str()]);
        }
        push(&["--chdir".as_ref(), self.work_dir.as_os_str()]);
        // No bus address to find the keyring by, no display to type into the person's windows, no NO_PROXY to
        // let local APIs bypass Purser, none of Purser's own variables.
        let fixed = ["DBUS_SESSION_BUS_ADDRESS", "DISPLAY", "WAYLAND_DISPLAY", "XAUTHORITY", "NO_PROXY", "no_proxy"];
        for name in fixed.iter().copied().chain(self.unset.iter().map(String::as_str)) {
            push(&["--unsetenv".as_ref(), name.as_ref()]);
        }
        for (name, value) in &self.env {
            push(&["--setenv".as_ref(), name.as_ref(), value.as_ref()]);
        }
        // Its own session: no keystrokes pushed into the person's terminal (`TIOCSTI`); it ends with Purser's
        // `run`.
        push(&["--new-session".as_ref(), "--die-with-parent".as_ref(), "--".as_ref()]);
        args
    }

    /// The bus's socket paths (`unix:path=…`), to cover when they lie outside the hidden directories.
    fn bus_sockets(&self) -> Vec<PathBuf> {
        let Some(address) = &self.bus_address else { return Vec::new() };
        address
            .split(';')
            .filter_map(|a| a.strip_prefix("unix:"))
            .flat_map(|a| a.split(','))
            .filter_map(|kv| kv.strip_prefix("path="))
            .map(PathBuf::from)
            .collect()
    }
}

/// The `bwrap` binary: `$PURSER_BWRAP` when set, else the first on `$PATH` or in the usual places.
pub fn bwrap() -> Result<PathBuf, Error> {
    if let Some(chosen) = std::env::var_os("PURSER_BWRAP").filter(|v| !v.is_empty()) {
        let chosen = PathBuf::from(chosen);
        return if chosen.is_file() { Ok(chosen) } else { Err(Error::NoBubblewrap) };
    }
    let on_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).map(|d| d.join("bwrap")).collect::<Vec<_>>())
        .unwrap_or_default();
    on_path.into_iter().chain(BWRAP_PATHS.iter().map(PathBuf::from)).find(|p| p.is_file()).ok_or(Error::NoBubblewrap)
}

/// Tries `bwrap` once with an empty command, so a kernel without user namespaces is told before the agent
/// starts.
pub fn probe(bwrap: &Path) -> Result<(), Error> {
    let out = std::process::Command::new(bwrap)
        .args(["--ro-bind", "/", "/", "--dev", "/dev", "--", "true"])
        .output()
        .map_err(|e| Error::Unusable(e.to_string()))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(Error::Unusable(String::from_utf8_lossy(&out.stderr).trim().to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn confinement(dir: &Path) -> Confinement {
        Confinement {
            hidden: vec![dir.join("data")],
            shown: vec![],
            work_dir: dir.join("work"),
            writable: vec![],
            read_only: vec![],
            bus_address: None,
            env: vec![("HTTP_PROXY".into(), "http://a:k@127.0.0.1:8402".into())],
            unset: vec!["PURSER_NWC_URI".into()],
            covered: vec![],
        }
    }

    fn position(args: &[String], pair: [&str; 2]) -> Option<usize> {
        args.windows(2).position(|w| w[0] == pair[0] && w[1] == pair[1])
    }

    #[test]
    fn a_working_directory_above_the_data_dir_still_hides_it() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("data")).unwrap();
        let mut c = confinement(dir.path());
        c.work_dir = dir.path().to_path_buf();
        assert!(c.check().is_ok());
        let args: Vec<String> = c.bwrap_args().iter().map(|a| a.to_string_lossy().into_owned()).collect();
        let work = position(&args, ["--bind", &dir.path().display().to_string()]).unwrap();
        let hidden = position(&args, ["--tmpfs", &dir.path().join("data").display().to_string()]).unwrap();
        assert!(work < hidden, "the data directory is emptied after the working directory is bound: {args:?}");
        assert!(position(&args, ["--unsetenv", "PURSER_NWC_URI"]).is_some(), "{args:?}");
        assert!(position(&args, ["--unsetenv", "DISPLAY"]).is_some(), "{args:?}");
    }

    #[test]
    fn paths_that_would_show_the_data_dir_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("data/inner")).unwrap();
        std::fs::create_dir_all(dir.path().join("work")).unwrap();
        let mut c = confinement(dir.path());
        c.read_only = vec![dir.path().to_path_buf()];
        assert!(matches!(c.check(), Err(Error::HoldsData(_))), "a read-only path holding it");
        let mut c = confinement(dir.path());
        c.writable = vec![dir.path().join("data/inner")];
        assert!(matches!(c.check(), Err(Error::InsideData(_))), "a writable path inside it");
        let mut c = confinement(dir.path());
        c.bus_address = Some("tcp:host=127.0.0.1,port=4000".into());
        assert!(matches!(c.check(), Err(Error::AbstractBus(_))), "a bus on TCP");
    }

    #[test]
    fn work_dir_inside_the_data_dir_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("data/inner")).unwrap();
        let mut c = confinement(dir.path());
        c.work_dir = dir.path().join("data/inner");
        assert!(matches!(c.check(), Err(Error::InsideData(_))));
    }

    #[test]
    fn an_abstract_bus_cannot_be_hidden() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("work")).unwrap();
        let mut c = confinement(dir.path());
        c.bus_address = Some("unix:abstract=/tmp/dbus-x,guid=1".into());
        assert!(matches!(c.check(), Err(Error::AbstractBus(_))));
        c.bus_address = Some("unix:path=/run/user/1000/bus".into());
        assert!(c.check().is_ok());
    }

    #[test]
    fn hidden_directories_are_covered_and_the_bus_variable_dropped() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("data")).unwrap();
        std::fs::create_dir_all(dir.path().join("work")).unwrap();
        let args: Vec<String> =
            confinement(dir.path()).bwrap_args().iter().map(|a| a.to_string_lossy().into_owned()).collect();
        let data = dir.path().join("data").display().to_string();
        assert!(args.windows(2).any(|w| w[0] == "--tmpfs" && w[1] == data), "{args:?}");
        assert!(args.windows(2).any(|w| w[0] == "--unsetenv" && w[1] == "DBUS_SESSION_BUS_ADDRESS"));
        assert_eq!(args.last().map(String::as_str), Some("--"));
    }
}
