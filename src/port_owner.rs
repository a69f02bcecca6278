//! Who holds a loopback TCP port, as far as this user can tell (Linux `/proc`): the listening socket's owner
//! from `/proc/net/tcp{,6}`, and the process from the file descriptors this user may read. Used to say why
//! `purser serve` cannot listen where it was told to.

use std::path::Path;

/// The holder of a port in the listening state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    pub uid: u32,
    /// The process and its name, when this user can see its file descriptors.
    pub process: Option<(u32, String)>,
}

impl Holder {
    /// E.g. "process 4242 (python3)" (the name is the one the process gives itself), "a process of user id
    /// 1001 that this user cannot look into".
    pub fn describe(&self) -> String {
        match &self.process {
            Some((pid, name)) => format!("process {pid} ({name})"),
            None => format!("a process of user id {} that this user cannot look into", self.uid),
        }
    }
}

/// Who listens on `port`, if `/proc` says.
pub fn holder(port: u16) -> Option<Holder> {
    let (uid, inode) = ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|table| std::fs::read_to_string(table).ok())
        .find_map(|table| listening(&table, port))?;
    Some(Holder { uid, process: process_with_socket(Path::new("/proc"), inode) })
}

/// The owner uid and socket inode of the socket listening on `port` in one `/proc/net/tcp` table.
fn listening(table: &str, port: u16) -> Option<(u32, u64)> {
    table.lines().skip(1).find_map(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        let local_port = u16::from_str_radix(f.get(1)?.rsplit(':').next()?, 16).ok()?;
        // State 0A: listening.
        (local_port == port && *f.get(3)? == "0A").then(|| Some((f.get(7)?.parse().ok()?, f.get(9)?.parse().ok()?)))?
    })
}

fn process_with_socket(proc_dir: &Path, inode: u64) -> Option<(u32, String)> {
    let wanted = format!("socket:[{inode}]");
    std::fs::read_dir(proc_dir).ok()?.flatten().find_map(|entry| {
        let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
        let holds = std::fs::read_dir(entry.path().join("fd"))
            .ok()?
            .flatten()
            .any(|fd| std::fs::read_link(fd.path()).is_ok_and(|l| l.as_os_str() == wanted.as_str()));
        holds.then(|| {
            let name = std::fs::read_to_string(entry.path().join("comm")).unwrap_or_default();
            (pid, name.trim().to_string())
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listening_socket_of_this_process_is_found_with_its_name() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let found = holder(port).expect("the listening socket is in /proc/net/tcp");
        assert_eq!(found.process.as_ref().map(|p| p.0), Some(std::process::id()), "{found:?}");
        assert!(found.describe().contains(&std::process::id().to_string()));
        drop(listener);
        assert_eq!(holder(port), None, "nothing listens there any more");
    }

    #[test]
    fn the_table_is_read_by_port_and_state() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   \
                     0: 0100007F:20D2 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1001        0 777 1 0\n   \
                     1: 0100007F:20D3 0100007F:1F90 01 00000000:00000000 00:00000000 00000000  1001        0 778 1 0\n";
        assert_eq!(listening(table, 0x20D2), Some((1001, 777)));
        assert_eq!(listening(table, 0x20D3), None, "an established connection is not a listener");
    }
}
