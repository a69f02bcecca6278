//! The one list of the commands the window may invoke: what Tauri answers, and (in the bindings test) the
//! typed client the UI calls them through, so a command's name, arguments and result are written once.
//!
//! Each entry names a command function (in `commands`, `task_commands` for allowances, `currency_commands` for
//! the display currency, `team_commands` for the team database) with its arguments and result; the compiler checks that the
//! entry matches the function, so the generated TypeScript cannot drift from what the shell answers.

macro_rules! command_list {
    ($( $module:ident :: $name:ident ( $( $arg:ident : $ty:ty ),* ) -> $ret:ty; )*) => {
        /// Tauri's handler for every listed command.
        pub fn handler() -> impl Fn(tauri::ipc::Invoke<tauri::Wry>) -> bool + Send + Sync + 'static {
            tauri::generate_handler![$( crate::$module::$name ),*]
        }

        /// Fails to compile when an entry's arguments or result differ from its function's.
        #[allow(dead_code, unused_variables, clippy::too_many_arguments)]
        fn entries_match_functions(core: tauri::State<'static, crate::runtime::AppCore>) {
            $({
                let core = core.clone();
                let _ = move |$( $arg: $ty ),*| async move {
                    let _: crate::error::Result<$ret> = crate::$module::$name(core, $( $arg ),*).await;
                };
            })*
        }

        /// Every command's signature, for the UI's bindings.
        #[cfg(test)]
        pub fn signatures(cfg: &ts_rs::Config) -> Vec<signature::Signature> {
            vec![$(
                signature::Signature {
                    name: stringify!($name),
                    args: vec![$( (stringify!($arg), signature::TsType::of::<$ty>(cfg)) ),*],
                    result: signature::TsType::of::<$ret>(cfg),
                },
            )*]
        }
    };
}

command_list! {
    commands::overview() -> crate::dto::Overview;
    commands::spend_chart(days: u32, group: purser::ledger::queries::GroupBy) -> Vec<purser::ledger::queries::DaySpend>;
    commands::ledger_page(
        filter: purser::ledger::queries::PaymentFilter,
        sort: purser::ledger::queries::SortBy,
        offset: i64,
        limit: i64
    ) -> purser::ledger::queries::PaymentPage;
    commands::payment_preimage(id: i64) -> Option<String>;
    commands::export_csv(filter: purser::ledger::queries::PaymentFilter) -> crate::dto::Exported;
    commands::approvals() -> Vec<purser::approval::ApprovalView>;
    commands::decide_approval(id: u64, answer: crate::dto::ApprovalAnswer) -> ();
    commands::decide_team_approval(team_id: i64, answer: crate::dto::ApprovalAnswer) -> ();
    commands::budgets() -> crate::dto::PolicyView;
    commands::add_budget(input: crate::dto::BudgetInput) -> ();
    commands::remove_budget(id: i64) -> ();
    commands::set_threshold(input: crate::dto::ThresholdInput) -> ();
    commands::remove_threshold(id: i64) -> ();
    commands::add_rule(input: crate::dto::RuleInput) -> ();
    commands::remove_rule(id: i64) -> ();
    commands::set_paused(agent: Option<String>, paused: bool) -> ();
    commands::reset_breaker(host: String, path: String) -> ();
    commands::agents() -> Vec<crate::dto::AgentView>;
    commands::add_agent(name: String) -> crate::dto::AgentKey;
    commands::rotate_agent_key(name: String) -> crate::dto::AgentKey;
    commands::agent_settings(name: String) -> crate::dto::AgentKey;
    commands::agent_mcp(name: String) -> crate::dto::McpSetup;
    commands::apis() -> Vec<purser::ledger::queries::ApiSummary>;
    commands::api_endpoints(host: String) -> Vec<purser::ledger::endpoints::EndpointSummary>;
    commands::uninspected() -> Vec<purser::ledger::uninspected::UninspectedHost>;
    commands::credentials() -> Vec<purser::ledger::credentials::CredentialInfo>;
    commands::revoke_credential(id: i64) -> ();
    commands::close_session(id: i64) -> ();
    commands::prices() -> Vec<purser::ledger::prices::StoredPrice>;
    task_commands::allowances(all: bool) -> Vec<purser::ledger::allowances::Allowance>;
    task_commands::decide_allowance(id: i64, answer: crate::dto::AllowanceAnswer) -> purser::ledger::allowances::Allowance;
    task_commands::open_allowance(input: crate::dto::AllowanceInput) -> purser::ledger::allowances::Allowance;
    task_commands::raise_allowance(id: i64, max_sats: Option<u64>, max_fiat: Option<String>, passphrase: Option<String>) -> purser::ledger::allowances::Allowance;
    task_commands::close_allowance(id: i64) -> purser::ledger::allowances::Allowance;
    commands::wallet_status() -> crate::dto::WalletStatus;
    commands::wallet_connect(uri: String) -> crate::dto::WalletStatus;
    commands::wallet_disconnect() -> ();
    commands::wallet_reconnect_sandbox() -> crate::dto::WalletStatus;
    commands::settings() -> crate::dto::SettingsView;
    commands::set_notifications(on: bool) -> ();
    commands::save_settings(listen: String, approval_timeout_secs: u64) -> ();
    team_commands::check_team_database(url: String, password: Option<String>) -> purser::ledger::team_check::TeamDatabaseCheck;
    team_commands::connect_team_database(url: String, password: Option<String>, instance: String) -> purser::ledger::team_check::TeamDatabaseCheck;
    team_commands::leave_team_database() -> ();
    team_commands::restart() -> ();
    commands::set_passphrase(current: Option<String>, new_passphrase: Option<String>) -> ();
    commands::set_confirm_every_approval(on: bool) -> ();
    currency_commands::set_display_currency(currency: Option<String>) -> crate::dto::RateLine;
}

/// A command's signature in TypeScript terms, and the typed client written from all of them.
#[cfg(test)]
pub mod signature {
    use std::collections::BTreeMap;

    use ts_rs::{Dependency, TS, TypeVisitor};

    /// A TypeScript type and the generated files it needs imported.
    pub struct TsType {
        pub text: String,
        pub imports: Vec<(String, String)>,
    }

    impl TsType {
        pub fn of<T: TS + 'static>(cfg: &ts_rs::Config) -> Self {
            let text = match T::name(cfg).as_str() {
                "null" => "void".to_string(),
                other => other.to_string(),
            };
            // The named types the text mentions: the type itself, or what it wraps (`Vec<T>`, `Option<T>`).
            let mut found = Found(cfg, Dependency::from_ty::<T>(cfg).into_iter().collect());
            T::visit_generics(&mut found);
            T::visit_dependencies(&mut found);
            let words: Vec<&str> = text.split(|c: char| !c.is_alphanumeric() && c != '_').collect();
            let imports = found
                .1
                .into_iter()
                .filter(|d| words.contains(&d.ts_name.as_str()))
                .map(|d| (d.ts_name, d.output_path.with_extension("").display().to_string()))
                .collect();
            Self { text, imports }
        }
    }

    struct Found<'a>(&'a ts_rs::Config, Vec<Dependency>);

    impl TypeVisitor for Found<'_> {
        fn visit<T: TS + 'static + ?Sized>(&mut self) {
            self.1.extend(Dependency::from_ty::<T>(self.0));
        }
    }

    pub struct Signature {
        pub name: &'static str,
        pub args: Vec<(&'static str, TsType)>,
        pub result: TsType,
    }

    /// `snake_case` as Tauri names arguments on the JavaScript side.
    fn camel(name: &str) -> String {
        let mut out = String::new();
        let mut upper = false;
        for c in name.chars() {
            match c {
                '_' => upper = true,
                c if upper => {
                    out.extend(c.to_uppercase());
                    upper = false;
                }
                c => out.push(c),
            }
        }
        out
    }

    /// The TypeScript module: one function per command, arguments in the Rust order, typed result.
    pub fn client(signatures: &[Signature]) -> String {
        let mut imports = BTreeMap::new();
        let mut body = String::new();
        for sig in signatures {
            for ty in sig.args.iter().map(|(_, t)| t).chain([&sig.result]) {
                imports.extend(ty.imports.iter().cloned());
            }
            let params = sig.args.iter().map(|(n, t)| format!("{}: {}", camel(n), t.text)).collect::<Vec<_>>();
            let keys = sig.args.iter().map(|(n, _)| camel(n)).collect::<Vec<_>>();
            let args = if keys.is_empty() { "{}".to_string() } else { format!("{{ {} }}", keys.join(", ")) };
            body.push_str(&format!(
                "    {}: ({}) => invoke<{}>(\"{}\", {}),\n",
                camel(sig.name),
                params.join(", "),
                sig.result.text,
                sig.name,
                args
            ));
        }
        let imports = imports
            .iter()
            .map(|(name, path)| format!("import type {{ {name} }} from \"./{path}\";\n"))
            .collect::<String>();
        format!(
            "// Generated from the desktop shell's command list (src-tauri/src/handlers.rs) by its tests. \
             Do not edit this file manually.\n{imports}\n\
             /** Tauri's `invoke`, as the client is given it (typed, with errors already mapped). */\n\
             export type Invoke = <T>(command: string, args: Record<string, unknown>) => Promise<T>;\n\n\
             /** Every command the desktop shell answers: arguments in order, typed result. */\n\
             export function commands(invoke: Invoke) {{\n  return {{\n{body}  }};\n}}\n"
        )
    }

    #[test]
    fn camel_case_matches_tauri() {
        assert_eq!(camel("remember_sats_per_day"), "rememberSatsPerDay");
        assert_eq!(camel("overview"), "overview");
    }
}
