//! The one list of the commands the window may invoke: what Tauri answers, and (in the bindings test) the
//! typed client the UI calls them through, so a command's name, arguments and result are written once.
//!
//! Each entry names a function in `commands` with its arguments and result; the compiler checks that the
//! entry matches the function, so the generated TypeScript cannot drift from what the shell answers.

macro_rules! command_list {
    ($( $name:ident ( $( $arg:ident : $ty:ty ),* ) -> $ret:ty; )*) => {
        /// Tauri's handler for every listed command.
        pub fn handler() -> impl Fn(tauri::ipc::Invoke<tauri::Wry>) -> bool + Send + Sync + 'static {
            tauri::generate_handler![$( crate::commands::$name ),*]
        }

        /// Fails to compile when an entry's arguments or result differ from its function's.
        #[allow(dead_code, unused_variables, clippy::too_many_arguments)]
        fn entries_match_functions(core: tauri::State<'static, crate::runtime::AppCore>) {
            $({
                let core = core.clone();
                let _ = move |$( $arg: $ty ),*| async move {
                    let _: crate::error::Result<$ret> = crate::commands::$name(core, $( $arg ),*).await;
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
    overview() -> crate::dto::Overview;
    spend_chart(days: u32, group: purser::ledger::queries::GroupBy) -> Vec<purser::ledger::queries::DaySpend>;
    ledger_page(
        filter: purser::ledger::queries::PaymentFilter,
        sort: purser::ledger::queries::SortBy,
        offset: i64,
        limit: i64
    ) -> purser::ledger::queries::PaymentPage;
    payment_preimage(id: i64) -> Option<String>;
    export_csv(filter: purser::ledger::queries::PaymentFilter) -> crate::dto::Exported;
    approvals() -> Vec<purser::approval::ApprovalView>;
    decide_approval(id: u64, answer: crate::dto::ApprovalAnswer) -> ();
    budgets() -> crate::dto::PolicyView;
    add_budget(input: crate::dto::BudgetInput) -> ();
    remove_budget(id: i64) -> ();
    set_threshold(input: crate::dto::ThresholdInput) -> ();
    remove_threshold(id: i64) -> ();
    add_rule(input: crate::dto::RuleInput) -> ();
    remove_rule(id: i64) -> ();
    set_paused(agent: Option<String>, paused: bool) -> ();
    reset_breaker(host: String, path: String) -> ();
    agents() -> Vec<crate::dto::AgentView>;
    add_agent(name: String) -> crate::dto::AgentKey;
    rotate_agent_key(name: String) -> crate::dto::AgentKey;
    agent_settings(name: String) -> crate::dto::AgentKey;
    apis() -> Vec<purser::ledger::queries::ApiSummary>;
    api_endpoints(host: String) -> Vec<purser::ledger::endpoints::EndpointSummary>;
    uninspected() -> Vec<purser::ledger::uninspected::UninspectedHost>;
    credentials() -> Vec<purser::ledger::credentials::CredentialInfo>;
    revoke_credential(id: i64) -> ();
    prices() -> Vec<purser::ledger::prices::StoredPrice>;
    wallet_status() -> crate::dto::WalletStatus;
    wallet_connect(uri: String) -> crate::dto::WalletStatus;
    wallet_disconnect() -> ();
    wallet_reconnect_sandbox() -> crate::dto::WalletStatus;
    settings() -> crate::dto::SettingsView;
    set_notifications(on: bool) -> ();
    save_settings(listen: String, approval_timeout_secs: u64) -> ();
    set_passphrase(current: Option<String>, new_passphrase: Option<String>) -> ();
    set_confirm_every_approval(on: bool) -> ();
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
