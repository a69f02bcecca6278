//! Settings with their defaults, the optional config file (`purser.toml` in the data directory), and the
//! data directory. Budgets, thresholds and rules are not here: they live in the ledger and are changed with
//! `purser budget`, `purser threshold` and `purser rule`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use crate::ledger::PolicySettings;
use crate::policy::period;
use crate::units::Msats;

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8402";

/// The SQLite ledger's file name in the data directory.
pub const LEDGER_FILE: &str = "purser.sqlite";

/// The limits and knobs of one running proxy.
#[derive(Debug, Clone)]
pub struct Settings {
    pub data_dir: PathBuf,
    /// Where agents connect, unless a `--listen` flag says otherwise.
    pub listen: String,
    /// A payment waiting for a person is denied after this long.
    pub approval_timeout: Duration,
    /// Request bodies up to this size are kept so the request can be replayed after paying.
    pub body_buffer_limit_bytes: usize,
    /// The most of a 402 response body read to find a challenge.
    pub challenge_body_limit_bytes: usize,
    /// An invoice expiring sooner than this is refused.
    pub invoice_expiry_margin: Duration,
    /// How long to wait for an upstream's response headers.
    pub upstream_timeout: Duration,
    /// How long an agent may take to send a request's line and headers; a connection that sends none (or
    /// half of one) for this long is closed, so slow or idle clients cannot hold the proxy's connections.
    pub header_read_timeout: Duration,
    /// Agent connections served at once, not counting those held for a person's approval (they count
    /// separately); past it a new connection is answered `503` (`too_many_connections`) and closed.
    pub max_agent_connections: usize,
    /// An extra PEM CA bundle trusted for HTTPS upstreams, besides the system roots.
    pub extra_ca_file: Option<PathBuf>,
    /// More trusted roots, given by the program rather than a file (the sandbox's own CA).
    pub extra_roots: Vec<rustls::pki_types::CertificateDer<'static>>,
    /// Hosts whose `CONNECT` tunnels are passed through untouched (clients that pin certificates):
    /// `api.example.com`, or `*.example.com` for every name under it.
    pub pass_through: Vec<String>,
    /// The person's currency (an ISO 4217 code, upper case), when they chose one.
    pub currency: Option<String>,
    /// The oldest a BTC rate may be when it converts an amount.
    pub rate_max_age: Duration,
    /// Where BTC rates are asked.
    pub rate_sources: Vec<crate::rates::Source>,
    /// Where the ledger is: this data directory's file, or a team's server.
    pub ledger: crate::ledger::Location,
    /// This instance's name, recorded on the payments it makes.
    pub instance: String,
    /// How long the wallet is watched for the refund an API says it sent when a session closed; past it the
    /// refund is recorded missing and alerted.
    pub session_refund_wait: Duration,
}

impl Settings {
    pub fn new(data_dir: PathBuf) -> Self {
        Settings {
            listen: DEFAULT_LISTEN.to_string(),
            approval_timeout: Duration::from_secs(120),
            body_buffer_limit_bytes: 8 * 1024 * 1024,
            challenge_body_limit_bytes: 1024 * 1024,
            invoice_expiry_margin: Duration::from_secs(30),
            upstream_timeout: Duration::from_secs(60),
            session_refund_wait: Duration::from_secs(60),
            header_read_timeout: Duration::from_secs(30),
            max_agent_connections: 1024,
            extra_ca_file: None,
            extra_roots: Vec::new(),
            pass_through: Vec::new(),
            currency: None,
            rate_max_age: Duration::from_secs(300),
            rate_sources: crate::rates::source::defaults(),
            ledger: crate::ledger::Location::File(data_dir.join(LEDGER_FILE)),
            instance: crate::database_setting::instance(None),
            data_dir,
        }
    }

    /// Whether `CONNECT`s to `host` are tunnelled without looking inside.
    pub fn passes_through(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        self.pass_through.iter().any(|pattern| {
            let pattern = pattern.trim_end_matches('.').to_ascii_lowercase();
            match pattern.strip_prefix("*.") {
                Some(domain) => host.strip_suffix(domain).is_some_and(|sub| sub.len() > 1 && sub.ends_with('.')),
                None => host == pattern,
            }
        })
    }

    /// The CA certificate agents trust for Purser's HTTPS inspection.
    pub fn ca_cert_path(&self) -> PathBuf {
        crate::ca::files::cert_path(&self.data_dir)
    }

    /// The SQLite ledger's file in the data directory (the ledger is there unless `database` says otherwise).
    pub fn ledger_path(&self) -> PathBuf {
        self.data_dir.join(LEDGER_FILE)
    }

    /// Where a running proxy writes how to reach its control endpoint (address and token).
    pub fn control_path(&self) -> PathBuf {
        self.data_dir.join("control.json")
    }

    /// The Unix socket the CLI reaches the control endpoint through, inside the owner-only data directory.
    pub fn control_socket_path(&self) -> PathBuf {
        self.data_dir.join("control.sock")
    }
}

/// The config file's name inside the data directory.
pub const CONFIG_FILE: &str = "purser.toml";

/// `purser.toml`: every key is optional; unknown keys are an error.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// Where agents connect (loopback only; default 127.0.0.1:8402).
    pub listen: Option<String>,
    /// IANA zone for calendar budgets (default: the system's).
    pub time_zone: Option<String>,
    /// Seconds a payment waits for a person before it is denied (default 120).
    pub approval_timeout_secs: Option<u64>,
    /// An agent spending more than this many sats in a minute raises an alert (default 1000).
    pub velocity_limit_sats_per_minute: Option<u64>,
    /// An invoice this many percent above an endpoint's usual price raises an alert (default 50).
    pub price_alert_margin_percent: Option<u64>,
    /// What happens to an invoice above the advertised or usual price: `"ask"` a person (default) or
    /// `"refuse"` it (`price_mismatch`).
    pub price_mismatch: Option<String>,
    /// Paid requests in a row not delivered that trip an endpoint's breaker (default 3).
    pub breaker_failures: Option<u32>,
    /// Seconds after which a tripped breaker resets itself (default 600).
    pub breaker_cooldown_secs: Option<u64>,
    /// Request bodies up to this size are kept to replay after paying (default 8 MiB).
    pub body_buffer_limit_bytes: Option<usize>,
    /// A PEM CA bundle trusted for HTTPS upstreams besides the system roots.
    pub extra_ca_file: Option<PathBuf>,
    /// Hosts tunnelled untouched, for clients that pin certificates: `["api.example.com", "*.example.org"]`.
    pub pass_through: Option<Vec<String>>,
    /// The person's currency, an ISO 4217 code (`"USD"`); none by default.
    pub currency: Option<String>,
    /// Seconds a BTC rate may be old when it converts an amount (default 300).
    pub rate_max_age_secs: Option<u64>,
    /// Where BTC rates are asked instead of the defaults: `[{name = "…", url = "https://…/{CURRENCY}", shape =
    /// "coinbase" | "kraken" | "coingecko" | "mempool"}]`.
    pub rate_sources: Option<Vec<crate::rates::Source>>,
    /// The ledger on a team's PostgreSQL server (`"postgres://user:password@host/db"`) instead of this data
    /// directory's SQLite file.
    pub database: Option<String>,
    /// This instance's name, recorded on the payments it makes (default: the machine's host name).
    pub instance: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("{path} is not valid: {message}")]
    Invalid { path: String, message: String },
}

/// Where the ledger of `data_dir` is, as the command line, the environment and its `purser.toml` say.
pub fn ledger_location(data_dir: &std::path::Path) -> Result<crate::ledger::Location, ConfigError> {
    Ok(load(data_dir)?.0.ledger)
}

/// Reads `purser.toml` from the data directory (defaults when there is none) into the proxy's settings and
/// the ledger's policy settings. Nothing is applied when any value is invalid.
pub fn load(data_dir: &std::path::Path) -> Result<(Settings, PolicySettings), ConfigError> {
    let path = data_dir.join(CONFIG_FILE);
    let shown = path.display().to_string();
    let file: ConfigFile = match std::fs::read_to_string(&path) {
        Ok(text) => {
            // The parser's own text quotes the line, which may be the database URL and its password: only
            // the line's number and what is wrong are shown.
            toml::from_str(&text).map_err(|e| {
                let line = e.span().map_or(0, |s| text[..s.start.min(text.len())].matches('\n').count() + 1);
                ConfigError::Invalid { path: shown.clone(), message: format!("line {line}: {}", e.message()) }
            })?
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => ConfigFile::default(),
        Err(source) => return Err(ConfigError::Read { path: shown, source }),
    };
    let invalid = |message: String| ConfigError::Invalid { path: shown.clone(), message };
    let mut settings = Settings::new(data_dir.to_path_buf());
    let mut policy = PolicySettings::default();
    settings.ledger =
        crate::database_setting::location(data_dir, file.database.as_deref()).map_err(|e| invalid(e.to_string()))?;
    settings.instance = crate::database_setting::instance(file.instance.as_deref());
    if !crate::database_setting::valid_instance(&settings.instance) {
        return Err(invalid(format!(
            "the instance name `{}` is not 1–64 letters, digits, '-', '_' or '.'",
            settings.instance
        )));
    }
    rates(file.currency.as_deref(), file.rate_max_age_secs, file.rate_sources.as_deref(), &mut settings)
        .map_err(invalid)?;
    if let Some(listen) = file.listen {
        loopback_addr(&listen).map_err(|e| invalid(e.to_string()))?;
        settings.listen = listen;
    }
    if let Some(tz) = &file.time_zone {
        policy.time_zone = period::time_zone(tz).map_err(|e| invalid(e.to_string()))?;
    }
    if let Some(secs) = file.approval_timeout_secs {
        if secs == 0 {
            return Err(invalid("approval_timeout_secs must be at least 1".into()));
        }
        settings.approval_timeout = Duration::from_secs(secs);
    }
    if let Some(v) = file.velocity_limit_sats_per_minute {
        policy.velocity_limit_per_minute = Msats::from_sats(v);
    }
    if let Some(v) = file.price_alert_margin_percent {
        policy.price_alert_margin_pct = v;
    }
    match file.price_mismatch.as_deref() {
        None | Some("ask") => {}
        Some("refuse") => policy.refuse_price_mismatch = true,
        Some(other) => return Err(invalid(format!("price_mismatch must be \"ask\" or \"refuse\", not \"{other}\""))),
    }
    if let Some(n) = file.breaker_failures {
        if n == 0 {
            return Err(invalid("breaker_failures must be at least 1".into()));
        }
        policy.breaker_failures = n;
    }
    if let Some(secs) = file.breaker_cooldown_secs {
        policy.breaker_cooldown_ms = i64::try_from(secs.saturating_mul(1000)).unwrap_or(i64::MAX);
    }
    if let Some(bytes) = file.body_buffer_limit_bytes {
        settings.body_buffer_limit_bytes = bytes;
    }
    settings.extra_ca_file = file.extra_ca_file;
    if let Some(hosts) = file.pass_through {
        let mut normalized = Vec::with_capacity(hosts.len());
        for host in &hosts {
            normalized.push(host_pattern(host).ok_or_else(|| {
                invalid(format!(
                    "pass_through entry `{host}` is not a host name: use `api.example.com`, `*.example.com` or an \
                     address, without a port"
                ))
            })?);
        }
        settings.pass_through = normalized;
    }
    Ok((settings, policy))
}

/// The currency and rate keys of `purser.toml` into `settings`, or what is wrong with them.
fn rates(
    currency: Option<&str>,
    max_age_secs: Option<u64>,
    sources: Option<&[crate::rates::Source]>,
    settings: &mut Settings,
) -> Result<(), String> {
    if let Some(code) = currency {
        if !(code.len() == 3 && code.chars().all(|c| c.is_ascii_alphabetic())) {
            return Err(format!("currency must be an ISO 4217 code such as \"USD\", not \"{code}\""));
        }
        settings.currency = Some(code.to_ascii_uppercase());
    }
    if let Some(secs) = max_age_secs {
        if secs == 0 {
            return Err("rate_max_age_secs must be at least 1".into());
        }
        settings.rate_max_age = Duration::from_secs(secs);
    }
    if let Some(sources) = sources {
        if sources.is_empty() {
            return Err("rate_sources names no source: leave it out for the defaults".into());
        }
        if let Some(bad) = sources.iter().find(|s| !(s.url.starts_with("https://") || s.url.starts_with("http://"))) {
            return Err(format!("rate source `{}` has no http(s) URL: `{}`", bad.name, bad.url));
        }
        settings.rate_sources = sources.to_vec();
    }
    Ok(())
}

/// A `pass_through` entry as `passes_through` compares it: lower case, an IPv6 address without brackets;
/// `None` for anything else (a URL, a port, an empty name).
pub fn host_pattern(pattern: &str) -> Option<String> {
    let pattern = pattern.trim().to_ascii_lowercase();
    let unbracketed = pattern.trim_start_matches('[').trim_end_matches(']');
    if unbracketed.parse::<std::net::Ipv6Addr>().is_ok() {
        return Some(unbracketed.to_string());
    }
    let name = pattern.strip_prefix("*.").unwrap_or(&pattern);
    let valid = !name.is_empty()
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-'))
        && !name.contains("..");
    valid.then_some(pattern)
}

/// `$PURSER_DATA_DIR`, else `$XDG_DATA_HOME/purser`, else `~/.local/share/purser`.
pub fn default_data_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("PURSER_DATA_DIR") {
        return PathBuf::from(dir);
    }
    if let Some(xdg) = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(xdg).join("purser");
    }
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("."));
    home.join(".local/share/purser")
}

#[derive(Debug, thiserror::Error)]
pub enum ListenError {
    #[error("`{0}` is not an address:port")]
    Unparsable(String),
    #[error("Purser listens on loopback only, and {0} is not a loopback address: use 127.0.0.1 or [::1]")]
    NotLoopback(SocketAddr),
}

/// Changes settings in `purser.toml`, keeping every other key and comment-free formatting. Checks the new
/// values, and the whole file as it would be, before writing anything.
pub fn update(
    data_dir: &std::path::Path,
    listen: Option<&str>,
    approval_timeout_secs: Option<u64>,
) -> Result<(), ConfigError> {
    edit(data_dir, |table| {
        if let Some(listen) = listen {
            loopback_addr(listen).map_err(|e| e.to_string())?;
            table.insert("listen".into(), toml::Value::String(listen.to_string()));
        }
        if let Some(secs) = approval_timeout_secs {
            if secs == 0 {
                return Err("approval_timeout_secs must be at least 1".into());
            }
            table.insert("approval_timeout_secs".into(), toml::Value::Integer(i64::try_from(secs).unwrap_or(i64::MAX)));
        }
        Ok(())
    })
}

/// Puts the team database (a `postgres://` URL, which should hold no password: that goes to the keyring) and
/// this instance's name in `purser.toml`, or takes them out (`None`: back to the data directory's file, and
/// the host name).
pub fn set_team_database(
    data_dir: &std::path::Path,
    database: Option<&str>,
    instance: Option<&str>,
) -> Result<(), ConfigError> {
    edit(data_dir, |table| {
        match database {
            Some(url) if crate::ledger::postgres::is_postgres_url(url) => {
                table.insert("database".into(), toml::Value::String(url.to_string()));
            }
            Some(_) => return Err("the team database is a postgres:// (or postgresql://) URL".into()),
            None => drop(table.remove("database")),
        }
        match instance.map(str::trim).filter(|i| !i.is_empty()) {
            Some(name) if crate::database_setting::valid_instance(name) => {
                table.insert("instance".into(), toml::Value::String(name.to_string()));
            }
            Some(name) => {
                return Err(format!("the instance name `{name}` is not 1–64 letters, digits, '-', '_' or '.'"));
            }
            None => drop(table.remove("instance")),
        }
        Ok(())
    })
}

/// Reads `purser.toml` as a table, lets `change` edit it, checks the result parses as a whole, and writes it
/// owner-only and atomically. Errors never quote the file (it may hold a database URL).
fn edit(
    data_dir: &std::path::Path,
    change: impl FnOnce(&mut toml::Table) -> Result<(), String>,
) -> Result<(), ConfigError> {
    let path = data_dir.join(CONFIG_FILE);
    let shown = path.display().to_string();
    let invalid = |message: String| ConfigError::Invalid { path: shown.clone(), message };
    let mut table: toml::Table = match std::fs::read_to_string(&path) {
        Ok(text) => toml::from_str(&text).map_err(|e| invalid(e.message().to_string()))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => toml::Table::new(),
        Err(source) => return Err(ConfigError::Read { path: shown, source }),
    };
    change(&mut table).map_err(invalid)?;
    let text = toml::to_string(&table).map_err(|e| invalid(e.to_string()))?;
    toml::from_str::<ConfigFile>(&text).map_err(|e| invalid(e.message().to_string()))?;
    // Owner-only, like every file Purser writes, whole or not at all.
    crate::private_fs::write_atomic(&path, text.as_bytes(), true)
        .map_err(|source| ConfigError::Read { path: shown, source })
}

/// Parses a listen address and refuses anything that is not loopback.
pub fn loopback_addr(s: &str) -> Result<SocketAddr, ListenError> {
    let addr: SocketAddr = s.parse().map_err(|_| ListenError::Unparsable(s.to_string()))?;
    if !addr.ip().is_loopback() {
        return Err(ListenError::NotLoopback(addr));
    }
    Ok(addr)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_config_file_is_written_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        update(dir.path(), Some("127.0.0.1:9402"), Some(30)).unwrap();
        let mode = std::fs::metadata(dir.path().join(CONFIG_FILE)).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(std::fs::read_to_string(dir.path().join(CONFIG_FILE)).unwrap().contains("127.0.0.1:9402"));
    }

    #[test]
    fn a_team_database_is_set_and_taken_out_keeping_every_other_key() {
        let dir = tempfile::tempdir().unwrap();
        update(dir.path(), Some("127.0.0.1:9402"), None).unwrap();
        set_team_database(dir.path(), Some("postgres://alice@db.example.com/team"), Some("laptop")).unwrap();
        let (s, _) = load(dir.path()).unwrap();
        assert!(matches!(&s.ledger, crate::ledger::Location::Server(u) if u.contains("db.example.com")));
        assert_eq!((s.instance.as_str(), s.listen.as_str()), ("laptop", "127.0.0.1:9402"));
        for (database, instance) in
            [(Some("https://db.example.com"), None), (Some("postgres://db/x"), Some("two words"))]
        {
            assert!(set_team_database(dir.path(), database, instance).is_err());
        }
        set_team_database(dir.path(), None, None).unwrap();
        let (s, _) = load(dir.path()).unwrap();
        assert!(matches!(s.ledger, crate::ledger::Location::File(_)));
        assert_eq!(s.listen, "127.0.0.1:9402");
        let text = std::fs::read_to_string(dir.path().join(CONFIG_FILE)).unwrap();
        assert!(!text.contains("database") && !text.contains("instance"), "{text}");
    }

    #[test]
    fn currency_and_rate_sources() {
        let dir = tempfile::tempdir().unwrap();
        let (s, _) = load(dir.path()).unwrap();
        assert_eq!((s.currency.as_deref(), s.rate_max_age, s.rate_sources.len()), (None, Duration::from_secs(300), 4));
        let own = "currency = \"eur\"\nrate_max_age_secs = 60\n\
                   [[rate_sources]]\nname = \"feed\"\nurl = \"https://prices.example/btc/{CURRENCY}\"\nshape = \"coinbase\"\n";
        std::fs::write(dir.path().join(CONFIG_FILE), own).unwrap();
        let (s, _) = load(dir.path()).unwrap();
        assert_eq!((s.currency.as_deref(), s.rate_max_age), (Some("EUR"), Duration::from_secs(60)));
        assert_eq!(
            s.rate_sources,
            vec![crate::rates::Source::new(
                "feed",
                "https://prices.example/btc/{CURRENCY}",
                crate::rates::shape::Shape::Coinbase
            )]
        );
        for bad in [
            "currency = \"dollars\"",
            "rate_max_age_secs = 0",
            "rate_sources = []",
            "[[rate_sources]]\nname = \"x\"\nurl = \"ftp://x\"\nshape = \"coinbase\"",
            "[[rate_sources]]\nname = \"x\"\nurl = \"https://x\"\nshape = \"bloomberg\"",
        ] {
            std::fs::write(dir.path().join(CONFIG_FILE), bad).unwrap();
            assert!(matches!(load(dir.path()), Err(ConfigError::Invalid { .. })), "{bad}");
        }
    }

    #[test]
    fn only_loopback_is_accepted() {
        assert!(loopback_addr("127.0.0.1:8402").is_ok());
        assert!(loopback_addr("[::1]:0").is_ok());
        assert!(matches!(loopback_addr("0.0.0.0:8402"), Err(ListenError::NotLoopback(_))));
        assert!(matches!(loopback_addr("192.168.1.2:80"), Err(ListenError::NotLoopback(_))));
        assert!(matches!(loopback_addr("localhost"), Err(ListenError::Unparsable(_))));
    }

    #[test]
    fn config_file_values_and_errors() {
        let dir = tempfile::tempdir().unwrap();
        let (s, p) = load(dir.path()).unwrap();
        assert_eq!(s.approval_timeout, Duration::from_secs(120));
        assert_eq!(p.breaker_failures, 3);
        std::fs::write(dir.path().join(CONFIG_FILE), "time_zone = \"Asia/Tokyo\"\napproval_timeout_secs = 5\n")
            .unwrap();
        let (s, p) = load(dir.path()).unwrap();
        assert_eq!(s.approval_timeout, Duration::from_secs(5));
        assert_eq!(p.time_zone.iana_name(), Some("Asia/Tokyo"));
        for bad in ["time_zone = \"Nowhere/Else\"", "approval_timeout_secs = -1", "budget = 5", "breaker_failures = 0"]
        {
            std::fs::write(dir.path().join(CONFIG_FILE), bad).unwrap();
            let err = load(dir.path()).unwrap_err().to_string();
            assert!(err.contains("purser.toml is not valid"), "{bad}: {err}");
        }
    }

    #[test]
    fn pass_through_patterns() {
        let mut s = Settings::new(PathBuf::from("/tmp"));
        s.pass_through = vec!["pinned.example".into(), "*.bank.example".into()];
        assert!(s.passes_through("pinned.example"));
        assert!(s.passes_through("PINNED.example."));
        assert!(!s.passes_through("sub.pinned.example"));
        assert!(s.passes_through("api.bank.example"));
        assert!(s.passes_through("a.b.bank.example"));
        assert!(!s.passes_through("bank.example"), "a wildcard covers names under the domain only");
        assert!(!s.passes_through("evilbank.example"));
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(CONFIG_FILE), "pass_through = [\"*.bank.example\", \"x.example\"]\n").unwrap();
        assert_eq!(load(dir.path()).unwrap().0.pass_through, vec!["*.bank.example", "x.example"]);
        for bad in ["https://x.example/", "x.example:443", ""] {
            std::fs::write(dir.path().join(CONFIG_FILE), format!("pass_through = [\"{bad}\"]\n")).unwrap();
            assert!(load(dir.path()).unwrap_err().to_string().contains("not a host name"), "{bad}");
        }
        std::fs::write(dir.path().join(CONFIG_FILE), "pass_through = [\"[::1]\", \"API.Example\"]\n").unwrap();
        let s = load(dir.path()).unwrap().0;
        assert_eq!(s.pass_through, vec!["::1", "api.example"]);
        assert!(s.passes_through("::1") && s.passes_through("api.example"));
    }

    #[test]
    fn fee_reserve_is_one_percent_with_a_ten_sat_floor() {
        assert_eq!(crate::policy::fee_reserve(Msats::from_sats(21)), Msats(10_000));
        assert_eq!(crate::policy::fee_reserve(Msats::from_sats(1_000)), Msats(10_000));
        assert_eq!(crate::policy::fee_reserve(Msats::from_sats(250_000)), Msats(2_500_000));
    }
}
