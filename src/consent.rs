//! The person's confirmation, for what a click must not be enough for: payments in a threshold's confirm
//! tier (or every approval, when the person chose so), and changing what guards money from the CLI or the
//! control endpoint. With a passphrase set, confirming takes the passphrase, checked against its Argon2id
//! hash (the passphrase itself is never stored); without one, a payment is confirmed by typing its amount in
//! sats. Five wrong tries in a row lock confirmations for five minutes and raise an alert.

use std::fmt;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng};
use serde::Deserialize;

use crate::ledger::Ledger;
use crate::ledger::alerts::Alert;
use crate::units::Msats;

/// Wrong tries in a row before confirmations lock.
pub const MAX_TRIES: u32 = 5;
/// How long they stay locked.
pub const LOCK_MS: i64 = 5 * 60_000;
/// The shortest passphrase accepted.
pub const MIN_CHARS: usize = 8;

/// What a person gave to confirm: the passphrase, or the amount typed in sats.
#[derive(Default, Clone, Deserialize)]
pub struct Proof {
    #[serde(default)]
    pub passphrase: Option<String>,
    #[serde(default)]
    pub typed_sats: Option<u64>,
}

impl fmt::Debug for Proof {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Proof")
            .field("passphrase", &self.passphrase.as_ref().map(|_| "<hidden>"))
            .field("typed_sats", &self.typed_sats)
            .finish()
    }
}

/// A confirmation that was checked: only this module makes one, so an approval that needs a confirmation
/// cannot be given without it.
#[derive(Debug, Clone, Copy)]
pub struct Confirmed(());

/// A confirmation given with a supervisor's answer in a team's database: their login checked the team's
/// passphrase (kept in that same database) before writing it, and the database's roles keep any other
/// login from writing one.
pub(crate) fn confirmed_in_team_database() -> Confirmed {
    Confirmed(())
}

/// Why a confirmation was not taken.
#[derive(Debug, thiserror::Error)]
pub enum ConsentError {
    #[error("this needs your passphrase")]
    PassphraseNeeded,
    #[error("type the amount, {0} sats, to confirm this payment")]
    AmountNeeded(u64),
    #[error("wrong passphrase; {tries_left} more wrong tries lock confirmations for five minutes")]
    WrongPassphrase { tries_left: u32 },
    #[error("that is not the amount; {tries_left} more wrong tries lock confirmations for five minutes")]
    WrongAmount { tries_left: u32 },
    #[error("too many wrong tries: confirmations are locked for {secs} more seconds")]
    Locked {
        secs: i64,
        /// The alert this try raised, when it was the one that locked.
        alert: Option<Box<Alert>>,
    },
    #[error("a passphrase needs at least {MIN_CHARS} characters")]
    TooShort,
    #[error("cannot hash the passphrase: {0}")]
    Hash(String),
    #[error(transparent)]
    Ledger(#[from] crate::ledger::Error),
}

impl ConsentError {
    /// The reason code the control endpoint and the desktop answer with.
    pub fn code(&self) -> &'static str {
        match self {
            ConsentError::PassphraseNeeded | ConsentError::AmountNeeded(_) => "confirmation_needed",
            ConsentError::WrongPassphrase { .. } | ConsentError::WrongAmount { .. } => "confirmation_wrong",
            ConsentError::Locked { .. } => "confirmations_locked",
            ConsentError::TooShort => "bad_request",
            ConsentError::Hash(_) | ConsentError::Ledger(_) => "ledger_unavailable",
        }
    }

    /// The alert to emit, when this error raised one.
    pub fn take_alert(&mut self) -> Option<Alert> {
        match self {
            ConsentError::Locked { alert, .. } => alert.take().map(|a| *a),
            _ => None,
        }
    }
}

/// The Argon2id hash (PHC string, with its own random salt) of `passphrase`.
pub fn hash(passphrase: &str) -> Result<String, ConsentError> {
    if passphrase.chars().count() < MIN_CHARS {
        return Err(ConsentError::TooShort);
    }
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(passphrase.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| ConsentError::Hash(e.to_string()))
}

/// Whether `passphrase` matches `phc` (a hash that cannot be read matches nothing).
pub fn matches(phc: &str, passphrase: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|h| Argon2::default().verify_password(passphrase.as_bytes(), &h).is_ok())
}

async fn matches_off_thread(phc: String, passphrase: String) -> bool {
    tokio::task::spawn_blocking(move || matches(&phc, &passphrase)).await.unwrap_or(false)
}

/// One check at a time in this process: tries sent together are counted one by one (none slips past a lock
/// another set), and Argon2's memory is taken once.
static CHECKING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Confirms approving `total` (the amount times the requests the person saw): the passphrase when one is set,
/// otherwise the total typed in whole sats (rounded up).
pub async fn confirm_payment(ledger: &Ledger, total: Msats, proof: &Proof) -> Result<Confirmed, ConsentError> {
    let _one_at_a_time = CHECKING.lock().await;
    refuse_while_locked(ledger).await?;
    match ledger.passphrase_hash().await? {
        Some(phc) => {
            let Some(given) = proof.passphrase.clone() else { return Err(ConsentError::PassphraseNeeded) };
            if matches_off_thread(phc, given).await {
                return right(ledger).await;
            }
            Err(wrong(ledger, "the passphrase", |tries_left| ConsentError::WrongPassphrase { tries_left }).await)
        }
        None => {
            let sats = total.0.div_ceil(1000);
            match proof.typed_sats {
                None => Err(ConsentError::AmountNeeded(sats)),
                Some(typed) if typed == sats => right(ledger).await,
                Some(_) => {
                    Err(wrong(ledger, "the typed amount", |tries_left| ConsentError::WrongAmount { tries_left }).await)
                }
            }
        }
    }
}

/// Allows a change to budgets, thresholds, rules, the passphrase or the wallet made from the CLI or the
/// control endpoint: free while no passphrase is set, with the passphrase once one is.
pub async fn authorize_change(ledger: &Ledger, passphrase: Option<&str>) -> Result<(), ConsentError> {
    let Some(phc) = ledger.passphrase_hash().await? else { return Ok(()) };
    let _one_at_a_time = CHECKING.lock().await;
    refuse_while_locked(ledger).await?;
    let Some(given) = passphrase else { return Err(ConsentError::PassphraseNeeded) };
    if matches_off_thread(phc, given.to_string()).await {
        right(ledger).await.map(|_| ())
    } else {
        Err(wrong(ledger, "the passphrase", |tries_left| ConsentError::WrongPassphrase { tries_left }).await)
    }
}

async fn refuse_while_locked(ledger: &Ledger) -> Result<(), ConsentError> {
    match ledger.confirmations_locked_until().await? {
        Some(until) => Err(ConsentError::Locked { secs: secs_left(ledger, until), alert: None }),
        None => Ok(()),
    }
}

fn secs_left(ledger: &Ledger, until_ms: i64) -> i64 {
    (until_ms.saturating_sub(ledger.now_ms()).max(0) + 999) / 1000
}

async fn right(ledger: &Ledger) -> Result<Confirmed, ConsentError> {
    ledger.clear_wrong_tries().await?;
    Ok(Confirmed(()))
}

async fn wrong(ledger: &Ledger, what: &str, error: impl FnOnce(u32) -> ConsentError) -> ConsentError {
    match ledger.count_wrong_try(MAX_TRIES, LOCK_MS, what).await {
        Ok(t) => match t.locked_until_ms {
            Some(until) => ConsentError::Locked { secs: secs_left(ledger, until), alert: t.alert.map(Box::new) },
            None => error(t.tries_left),
        },
        Err(e) => e.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_is_argon2id_and_matches_only_its_passphrase() {
        let phc = hash("correct horse").unwrap();
        assert!(phc.starts_with("$argon2id$"), "{phc}");
        assert!(!phc.contains("correct horse"));
        assert!(matches(&phc, "correct horse"));
        assert!(!matches(&phc, "correct hors"));
        assert!(!matches("not a hash", "correct horse"));
        assert!(matches!(hash("short"), Err(ConsentError::TooShort)));
    }

    async fn ledger() -> (tempfile::TempDir, Ledger) {
        let dir = tempfile::tempdir().unwrap();
        let ledger = crate::ledger::testing::fresh(dir.path()).await.unwrap();
        (dir, ledger)
    }

    #[tokio::test]
    async fn five_wrong_passphrases_lock_confirmations_and_raise_one_alert() {
        let (_dir, ledger) = ledger().await;
        ledger.set_passphrase_hash(Some(&hash("correct horse").unwrap())).await.unwrap();
        let wrong = Proof { passphrase: Some("guess".into()), typed_sats: None };
        for left in (1..MAX_TRIES).rev() {
            let e = confirm_payment(&ledger, Msats(250_000), &wrong).await.unwrap_err();
            assert!(matches!(e, ConsentError::WrongPassphrase { tries_left } if tries_left == left), "{e:?}");
        }
        let mut locked = confirm_payment(&ledger, Msats(250_000), &wrong).await.unwrap_err();
        let alert = locked.take_alert().expect("the locking try raises an alert");
        assert_eq!(alert.kind, crate::ledger::alerts::AlertKind::ConfirmationsLocked);
        // Locked: even the right passphrase is refused now, and changes too.
        let right = Proof { passphrase: Some("correct horse".into()), typed_sats: None };
        let e = confirm_payment(&ledger, Msats(250_000), &right).await.unwrap_err();
        assert!(matches!(e, ConsentError::Locked { secs, alert: None } if secs > 290), "{e:?}");
        assert!(matches!(authorize_change(&ledger, Some("correct horse")).await, Err(ConsentError::Locked { .. })));
    }

    #[tokio::test]
    async fn without_a_passphrase_the_amount_is_typed_and_changes_are_free() {
        let (_dir, ledger) = ledger().await;
        let e = confirm_payment(&ledger, Msats(1_000_500), &Proof::default()).await.unwrap_err();
        assert!(matches!(e, ConsentError::AmountNeeded(1001)), "{e:?}");
        let typo = Proof { typed_sats: Some(1000), ..Proof::default() };
        assert!(matches!(
            confirm_payment(&ledger, Msats(1_000_500), &typo).await,
            Err(ConsentError::WrongAmount { .. })
        ));
        let typed = Proof { typed_sats: Some(1001), ..Proof::default() };
        assert!(confirm_payment(&ledger, Msats(1_000_500), &typed).await.is_ok());
        assert!(authorize_change(&ledger, None).await.is_ok());
        ledger.set_passphrase_hash(Some(&hash("correct horse").unwrap())).await.unwrap();
        assert!(matches!(authorize_change(&ledger, None).await, Err(ConsentError::PassphraseNeeded)));
        assert!(matches!(authorize_change(&ledger, Some("nope")).await, Err(ConsentError::WrongPassphrase { .. })));
        assert!(authorize_change(&ledger, Some("correct horse")).await.is_ok());
        // With a passphrase set, the typed amount no longer confirms a payment.
        assert!(matches!(
            confirm_payment(&ledger, Msats(1_000_500), &typed).await,
            Err(ConsentError::PassphraseNeeded)
        ));
    }
}
