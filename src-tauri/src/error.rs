//! The one mapping from core errors to what the UI shows: `{kind, message}`.

use serde::Serialize;

#[derive(Debug, Serialize, ts_rs::TS)]
#[ts(export)]
pub struct UiError {
    /// A stable name the UI can switch on (`invalid`, `not_found`, `wallet`, `keyring`, `not_waiting`, …).
    pub kind: String,
    /// A sentence a person can read.
    pub message: String,
}

impl UiError {
    pub fn new(kind: &str, message: impl Into<String>) -> Self {
        UiError { kind: kind.into(), message: message.into() }
    }
}

impl From<purser::ledger::Error> for UiError {
    fn from(e: purser::ledger::Error) -> Self {
        use purser::ledger::Error as E;
        let kind = match &e {
            E::Invalid(_) | E::BadAgentName(_) | E::AgentExists(_) => "invalid",
            E::NoSuchAgent(_) | E::NotFound(..) => "not_found",
            E::DataDir { .. } | E::Db(_) | E::Migrate(_) => "ledger",
        };
        UiError::new(kind, e.to_string())
    }
}

impl From<purser::wallet::Error> for UiError {
    fn from(e: purser::wallet::Error) -> Self {
        let kind = match &e {
            purser::wallet::Error::Keyring(_) => "keyring",
            purser::wallet::Error::BadUri(_) => "invalid",
            _ => "wallet",
        };
        UiError::new(kind, e.to_string())
    }
}

impl From<purser::agent_env::Error> for UiError {
    fn from(e: purser::agent_env::Error) -> Self {
        let kind = match &e {
            purser::agent_env::Error::Ledger(_) => "ledger",
            purser::agent_env::Error::Ca(_) | purser::agent_env::Error::Keys(_) => "files",
        };
        UiError::new(kind, e.to_string())
    }
}

impl From<purser::agent_keys::Error> for UiError {
    fn from(e: purser::agent_keys::Error) -> Self {
        UiError::new("files", e.to_string())
    }
}

impl From<purser::approval::NotWaiting> for UiError {
    fn from(e: purser::approval::NotWaiting) -> Self {
        UiError::new("not_waiting", e.to_string())
    }
}

impl From<purser::approval::AnswerError> for UiError {
    fn from(e: purser::approval::AnswerError) -> Self {
        use purser::approval::AnswerError as E;
        match e {
            E::NoDailyLimit | E::NothingSeen => UiError::new("invalid", e.to_string()),
            E::NotWaiting(gone) => gone.into(),
            E::Consent(c) => c.into(),
            E::RuleNotSaved(_) => UiError::new("ledger", e.to_string()),
        }
    }
}

impl From<purser::team_approvals::TeamAnswerError> for UiError {
    fn from(e: purser::team_approvals::TeamAnswerError) -> Self {
        use purser::team_approvals::TeamAnswerError as E;
        match e {
            E::NotWaiting(_) => UiError::new("not_waiting", e.to_string()),
            E::Answer(a) => a.into(),
            E::Ledger(l) => l.into(),
        }
    }
}

impl From<purser::allowances::AllowanceError> for UiError {
    fn from(e: purser::allowances::AllowanceError) -> Self {
        match e {
            purser::allowances::AllowanceError::Ledger(l) => l.into(),
            purser::allowances::AllowanceError::Consent(c) => c.into(),
        }
    }
}

impl From<purser::consent::ConsentError> for UiError {
    fn from(e: purser::consent::ConsentError) -> Self {
        UiError::new(e.code(), e.to_string())
    }
}

pub type Result<T> = std::result::Result<T, UiError>;
