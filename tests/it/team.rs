//! Team mode on a real PostgreSQL server (these run in `scripts/test`'s PostgreSQL pass, where
//! `PURSER_TEST_POSTGRES` names the server; on SQLite they say so and have nothing to check): the two
//! roles the schema makes, and what each may do.

use purser::ledger::allowances::{AllowanceAnswer, AllowanceAsk, OpenedBy};
use purser::ledger::payments::Reservation;
use purser::ledger::policy_store::ScopeSpec;
use purser::ledger::{Ledger, Location};
use purser::policy::{Approved, Period, Rules};
use purser::units::Msats;

use crate::harness::payment;

/// The server's administrative URL, or `None` (said on stderr) when the suite runs on SQLite.
fn server() -> Option<String> {
    let server = purser::ledger::testing::postgres_server();
    if server.is_none() {
        eprintln!("team mode needs the ledger on PostgreSQL: this test checks it in scripts/test's PostgreSQL pass");
    }
    server
}

/// A login in `role` on the server, and `location`'s URL with it.
async fn login_in(location: &Location, role: &str) -> String {
    use sqlx::Connection as _;
    let Location::Server(url) = location else { unreachable!("team tests run on a server") };
    let name = format!("{}_{}", role.trim_start_matches("purser_"), rand::random::<u32>());
    let mut admin = sqlx::PgConnection::connect(url).await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE ROLE {name} LOGIN IN ROLE {role}")))
        .execute(&mut admin)
        .await
        .unwrap();
    let mut as_login = url::Url::parse(url).unwrap();
    as_login.set_username(&name).unwrap();
    as_login.to_string()
}

fn denied(e: purser::ledger::Error) -> String {
    let text = e.to_string();
    assert!(text.contains("permission denied") || text.contains("only a supervisor"), "{text}");
    text
}

/// A serving instance's login reserves and records payments and lets its agents ask for allowances, but
/// cannot change policy or keys, nor approve or raise an allowance; a supervisor's login can.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_serving_role_pays_within_policy_but_cannot_change_it_or_approve() {
    let Some(_) = server() else { return };
    let dir = tempfile::tempdir().unwrap();
    let location = purser::ledger::testing::fresh_location(dir.path()).await;
    let owner = Ledger::open_at(&location).await.unwrap();
    let (agent, _) = owner.add_agent("research").await.unwrap();
    let serving_url = login_in(&location, "purser_serving").await;
    let serving = Ledger::open_at(&Location::Server(serving_url.clone())).await.unwrap();
    let supervisor = Ledger::open_at(&Location::Server(login_in(&location, "purser_supervisor").await)).await.unwrap();

    let paid = serving.reserve(&payment(agent.id, &agent.name, 1, 5), Approved::Not, &Rules).await.unwrap();
    assert!(matches!(paid, Reservation::Reserved { .. }), "{paid:?}");

    let all = ScopeSpec::default();
    denied(serving.add_budget(&all, Period::Day, Msats::from_sats(1_000_000), None, None).await.unwrap_err());
    denied(
        serving.set_threshold(&all, Msats::from_sats(1_000_000), Msats::from_sats(2_000_000), None).await.unwrap_err(),
    );
    denied(serving.rotate_key("research").await.unwrap_err());
    denied(serving.set_paused_all(true).await.unwrap_err());

    let ask = AllowanceAsk {
        agent: "research".into(),
        purpose: "a task".into(),
        max: Msats::from_sats(500),
        per_payment_max: None,
        apis: Vec::new(),
        duration_ms: 60_000,
        plan: None,
        fiat: None,
    };
    denied(serving.open_allowance(&ask, OpenedBy::Person { confirmed: false }).await.unwrap_err());
    let asked = serving.open_allowance(&ask, OpenedBy::Agent).await.unwrap();
    let approve = AllowanceAnswer { approve: true, ..Default::default() };
    denied(serving.decide_allowance(asked.id, &approve).await.unwrap_err());
    assert_eq!(owner.allowance(asked.id).await.unwrap().state, asked.state, "still waiting for a person");

    // Nor with SQL of its own: it cannot rewrite what was spent, refill or approve an allowance, or put
    // objects of its own in the way of the checks.
    {
        use sqlx::Connection as _;
        let mut sql = sqlx::PgConnection::connect(&serving_url).await.unwrap();
        for attack in [
            "UPDATE payments SET status = 'refused' WHERE status = 'pending'".to_string(),
            "UPDATE payments SET created_at_ms = 0".into(),
            "UPDATE payments SET amount_msat = 0".into(),
            format!("UPDATE allowances SET used_msat = 0, max_msat = 10000000 WHERE id = {}", asked.id),
            format!("UPDATE allowances SET state = 'active' WHERE id = {}", asked.id),
            "UPDATE budgets SET limit_msat = 1000000000".into(),
            "DELETE FROM budgets".into(),
            "UPDATE settings SET value = '0' WHERE key = 'paused'".into(),
            "UPDATE agents SET key_sha256 = 'x'".into(),
        ] {
            let result = sqlx::raw_sql(sqlx::AssertSqlSafe(attack.clone())).execute(&mut sql).await;
            let refused = result.as_ref().err().map(ToString::to_string).unwrap_or_default();
            let changed = result.map(|r| r.rows_affected()).unwrap_or(0);
            assert!(changed == 0 && !refused.is_empty(), "{attack}: {refused}");
        }
        sqlx::raw_sql(
            "CREATE TEMP VIEW pg_tables AS SELECT 'public'::name AS schemaname, 'allowances'::name AS tablename, \
             current_user::name AS tableowner",
        )
        .execute(&mut sql)
        .await
        .unwrap();
        let shadowed = sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "UPDATE allowances SET state = 'active' WHERE id = {}",
            asked.id
        )))
        .execute(&mut sql)
        .await;
        assert!(shadowed.is_err(), "a temporary view got past the allowance check");
    }
    assert_eq!(owner.allowance(asked.id).await.unwrap().state, asked.state);

    // A supervisor may.
    let active = supervisor.decide_allowance(asked.id, &approve).await.unwrap();
    assert!(active.state.is_open(), "{active:?}");
    supervisor.add_budget(&all, Period::Day, Msats::from_sats(7), None, None).await.unwrap();
    // And the serving instance obeys it at once: 5 sats spent, 7 a day allowed, 3 more refused.
    let refused = serving.reserve(&payment(agent.id, &agent.name, 2, 3), Approved::Not, &Rules).await.unwrap();
    assert!(matches!(refused, Reservation::Refused { reason: "budget_exceeded", .. }), "{refused:?}");
}

/// A sandbox (wallet, relay, paid demo API) and a new team database with its owner's handle, for tests
/// that run `purser serve` instances on it.
struct Team {
    rt: tokio::runtime::Runtime,
    sandbox: purser::sandbox::Sandbox,
    dir: tempfile::TempDir,
    location: Location,
    owner: Ledger,
}

impl Team {
    fn start() -> Team {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let sandbox = rt.block_on(purser::sandbox::Sandbox::start(Default::default(), Default::default())).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let location = rt.block_on(purser::ledger::testing::fresh_location(dir.path()));
        let owner = rt.block_on(Ledger::open_at(&location)).unwrap();
        Team { rt, sandbox, dir, location, owner }
    }
}

/// Starts `purser serve` as instance `name` on the team database `url`, paying with the wallet at `uri`;
/// returns it and the address it serves on once it listens.
fn serve_instance(
    data: &std::path::Path,
    name: &str,
    url: &str,
    uri: &str,
) -> (std::process::Child, std::net::SocketAddr) {
    let addr = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let log = std::fs::File::create(data.with_extension("log")).unwrap();
    let child = crate::cli::purser(data)
        .args(["serve", "--listen", &addr.to_string()])
        .env("PURSER_DATABASE_URL", url)
        .env("PURSER_INSTANCE", name)
        .env("PURSER_NWC_URI", uri)
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while std::net::TcpStream::connect(addr).is_err() {
        assert!(std::time::Instant::now() < deadline, "instance {name} did not start listening");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    (child, addr)
}

/// One 21-sat call in the gateway form: the status Purser answered with (0 when the connection failed).
async fn fortune(proxy: std::net::SocketAddr, demo: std::net::SocketAddr, auth: String) -> u16 {
    let Ok(stream) = tokio::net::TcpStream::connect(proxy).await else { return 0 };
    let Ok((mut sender, conn)) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await
    else {
        return 0;
    };
    tokio::spawn(conn);
    let req = http::Request::builder()
        .uri(format!("/http/{demo}/fortune"))
        .header("host", proxy.to_string())
        .header("proxy-authorization", auth)
        .body(http_body_util::Full::new(bytes::Bytes::new()))
        .unwrap();
    match tokio::time::timeout(std::time::Duration::from_secs(60), sender.send_request(req)).await {
        Ok(Ok(resp)) => resp.status().as_u16(),
        _ => 0,
    }
}

/// Three `purser serve` instances, each with its own data directory and a serving login, share one ledger
/// and one daily budget of 2,100 sats; three agents send 600 paid requests at once, 200 through each.
/// One instance is killed with SIGKILL while they pay and started again; it resolves its own open payments
/// with the wallet. Not one sat is spent past the budget, by the ledger's count or the wallet's own.
#[test]
fn three_instances_share_one_budget_under_600_concurrent_payments() {
    const BUDGET_SATS: u64 = 2_100;
    let Some(_) = server() else { return };
    let Team { rt, sandbox, dir, location, owner } = Team::start();
    let all = ScopeSpec::default();
    rt.block_on(owner.set_threshold(&all, Msats::from_sats(1_000), Msats::from_sats(1_000), None)).unwrap();
    rt.block_on(owner.add_budget(&all, Period::Day, Msats::from_sats(BUDGET_SATS), None, None)).unwrap();
    let mut auths = Vec::new();
    for name in ["alpha", "beta", "gamma"] {
        let (_, key) = rt.block_on(owner.add_agent(name)).unwrap();
        auths.push(purser::proxy::auth::basic(name, &key));
    }
    let url = rt.block_on(login_in(&location, "purser_serving"));
    let uri = sandbox.wallet.uri.clone();
    let data: Vec<std::path::PathBuf> = (1..=3).map(|i| dir.path().join(format!("box{i}"))).collect();
    let mut instances: Vec<_> =
        data.iter().enumerate().map(|(i, d)| serve_instance(d, &format!("box{}", i + 1), &url, &uri)).collect();

    let demo = sandbox.demo_addr;
    let calls: Vec<_> = (0..600)
        .map(|n| {
            let (proxy, auth) = (instances[n % 3].1, auths[n % 3].clone());
            rt.spawn(fortune(proxy, demo, auth))
        })
        .collect();
    // Box 3 is killed while one of its payments is with the wallet, then started again.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let rows = rt.block_on(owner.payments(10_000)).unwrap();
        if rows.iter().any(|r| r.instance.as_deref() == Some("box3") && r.status == "paying") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "box 3 never paid");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    instances[2].0.kill().unwrap(); // SIGKILL
    instances[2].0.wait().unwrap();
    let statuses: Vec<u16> = calls.into_iter().map(|c| rt.block_on(c).unwrap()).collect();
    instances[2] = serve_instance(&data[2], "box3", &url, &uri);

    // Every open payment is resolved, box 3's by box 3 after its restart.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let rows = loop {
        let rows = rt.block_on(owner.payments(10_000)).unwrap();
        if rows.iter().all(|r| !matches!(r.status.as_str(), "pending" | "paying")) {
            break rows;
        }
        assert!(std::time::Instant::now() < deadline, "open payments were not resolved");
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    for (child, _) in &mut instances {
        child.kill().unwrap();
        child.wait().unwrap();
    }

    let counted: i64 = rows
        .iter()
        .filter(|r| matches!(r.status.as_str(), "settled" | "unknown" | "bad_preimage"))
        .map(|r| r.amount_msat.unwrap_or(0) + r.fee_msat.unwrap_or(0))
        .sum();
    assert!(counted as u64 <= BUDGET_SATS * 1000, "the ledger counts {counted} msat against {BUDGET_SATS} sats");
    let paid_by_wallet: u64 = sandbox.wallet.payments().iter().map(|(_, amount)| amount.0).sum();
    assert!(paid_by_wallet <= BUDGET_SATS * 1000, "the wallet paid {paid_by_wallet} msat against {BUDGET_SATS} sats");
    let settled: std::collections::HashSet<String> =
        rows.iter().filter(|r| r.status == "settled").filter_map(|r| r.payment_hash.clone()).collect();
    let wallet_hashes: std::collections::HashSet<String> =
        sandbox.wallet.payments().iter().map(|(h, _)| h.to_hex()).collect();
    assert_eq!(settled, wallet_hashes, "the ledger's settled payments are the wallet's, box 3's included");
    // The two left running kept paying; box 3's rows were all resolved (by box 3, the only one that may).
    for name in ["box1", "box2"] {
        assert!(rows.iter().any(|r| r.instance.as_deref() == Some(name) && r.status == "settled"), "{name} paid none");
    }
    assert!(rows.iter().any(|r| r.instance.as_deref() == Some("box3") && r.status != "refused"), "box 3 paid none");
    // The budget, not anything else, stopped the rest (what box 3 held when killed stays held until it
    // resolves it on restart): they were refused with a clear answer rather than paid.
    let refused = rows.iter().filter(|r| r.reason.as_deref() == Some("budget_exceeded")).count();
    assert!(refused > 0, "{statuses:?}");
    assert!(statuses.iter().filter(|s| **s == 200).count() <= settled.len(), "{statuses:?}");
}

/// A payment held on one instance (a `purser serve` with a serving login) is listed, with that instance's
/// name, by `purser approvals` on another machine against the same database, and approved there with a
/// supervisor's login: the held request pays and gets its answer. A serving login's approval is refused.
#[test]
fn a_payment_held_on_one_instance_is_approved_from_another_machine() {
    let Some(_) = server() else { return };
    let Team { rt, sandbox, dir, location, owner } = Team::start();
    // Up to 1 sat is paid at once; the 21-sat fortune waits for a person.
    rt.block_on(owner.set_threshold(&ScopeSpec::default(), Msats::from_sats(1), Msats::from_sats(1_000), None))
        .unwrap();
    let (_, key) = rt.block_on(owner.add_agent("research")).unwrap();
    let serving = rt.block_on(login_in(&location, "purser_serving"));
    let supervisor = rt.block_on(login_in(&location, "purser_supervisor"));
    let (mut box1, addr) = serve_instance(&dir.path().join("box1"), "box1", &serving, &sandbox.wallet.uri);

    let held = rt.spawn(fortune(addr, sandbox.demo_addr, purser::proxy::auth::basic("research", &key)));
    let laptop = dir.path().join("laptop");
    let cli = |url: &str, args: &[&str]| {
        let mut cmd = crate::cli::purser(&laptop);
        cmd.args(args).env("PURSER_DATABASE_URL", url);
        cmd
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let listed = loop {
        let listed = crate::cli::run_ok(&mut cli(&supervisor, &["approvals"]));
        if listed.contains("on box1") {
            break listed;
        }
        assert!(std::time::Instant::now() < deadline, "the held payment was never listed: {listed}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert!(listed.contains("21 sats") && listed.contains("agent research"), "{listed}");
    let id = listed.split_whitespace().next().unwrap().trim_start_matches('#').to_string();

    let refused = cli(&serving, &["approve", &id]).output().unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("only a supervisor"), "{refused:?}");

    let approved = crate::cli::run_ok(&mut cli(&supervisor, &["approve", &id]));
    assert!(approved.contains(&format!("Approved #{id}")) && approved.contains("on box1"), "{approved}");
    let status = rt.block_on(async { tokio::time::timeout(std::time::Duration::from_secs(20), held).await });
    assert_eq!(status.expect("the held request was answered").unwrap(), 200);
    let again = cli(&supervisor, &["approve", &id]).output().unwrap();
    assert!(!again.status.success(), "an approval is answered once");
    let rows = rt.block_on(owner.payments(10)).unwrap();
    assert!(rows.iter().any(|r| r.status == "settled" && r.instance.as_deref() == Some("box1")), "{rows:?}");
    box1.kill().unwrap();
    box1.wait().unwrap();
}

/// A supervisor's change made on one machine is obeyed by every instance on the team database: a pause
/// stops the next payment on both instances and a resume lets it through again (each payment's own
/// transaction reads the policy), and a rotated key is refused by an instance that had the old one in
/// memory (told through LISTEN/NOTIFY) while the new key works there.
#[test]
fn a_change_made_on_one_machine_is_obeyed_by_the_other_instances() {
    let Some(_) = server() else { return };
    let Team { rt, sandbox, dir, location, owner } = Team::start();
    rt.block_on(owner.set_threshold(&ScopeSpec::default(), Msats::from_sats(1_000), Msats::from_sats(1_000), None))
        .unwrap();
    let (_, key) = rt.block_on(owner.add_agent("research")).unwrap();
    let serving = rt.block_on(login_in(&location, "purser_serving"));
    let supervisor = rt.block_on(login_in(&location, "purser_supervisor"));
    let mut boxes: Vec<_> = ["box1", "box2"]
        .iter()
        .map(|name| serve_instance(&dir.path().join(name), name, &serving, &sandbox.wallet.uri))
        .collect();
    let laptop = dir.path().join("laptop");
    let cli = |args: &[&str]| {
        let mut cmd = crate::cli::purser(&laptop);
        cmd.args(args).env("PURSER_DATABASE_URL", &supervisor);
        crate::cli::run_ok(&mut cmd)
    };
    let call =
        |proxy, key: &str| rt.block_on(fortune(proxy, sandbox.demo_addr, purser::proxy::auth::basic("research", key)));
    for (_, addr) in &boxes {
        assert_eq!(call(*addr, &key), 200, "both instances pay before the change");
    }

    cli(&["pause", "--agent", "research"]);
    for (_, addr) in &boxes {
        assert_eq!(call(*addr, &key), 402, "the next payment after the pause is refused");
    }
    let rows = rt.block_on(owner.payments(10)).unwrap();
    for name in ["box1", "box2"] {
        assert!(
            rows.iter().any(|r| r.instance.as_deref() == Some(name) && r.reason.as_deref() == Some("payments_paused")),
            "{name} did not refuse for the pause: {rows:?}"
        );
    }
    cli(&["resume", "--agent", "research"]);
    assert_eq!(call(boxes[1].1, &key), 200, "the next payment after the resume is paid");

    let rotated = cli(&["agent", "rotate", "research"]);
    let new_key = rotated.lines().next().and_then(|l| l.split_whitespace().last()).unwrap().to_string();
    let told = std::time::Instant::now();
    loop {
        let status = call(boxes[0].1, &key);
        if status == 407 {
            break;
        }
        assert_eq!(status, 200, "the old key works until the instance is told");
        assert!(told.elapsed() < std::time::Duration::from_secs(10), "box 1 never heard of the new key");
    }
    eprintln!("box 1 refused the rotated key {:?} after the rotation returned", told.elapsed());
    assert_eq!(call(boxes[0].1, &new_key), 200, "the new key works on the other instance");
    for (child, _) in &mut boxes {
        child.kill().unwrap();
        child.wait().unwrap();
    }
}

/// What a supervisor's desktop does with the team's other machines' approvals, through the library: a
/// payment box 1 offers is heard at once (`approval:needed`, naming box 1, with its team id), answered from
/// the laptop with "remember" (box 1 reads the answer; the rule is the team's), and heard again when box 1
/// closes it (`approval:closed_elsewhere`). Its own approvals are never listed as another machine's.
#[test]
fn a_desktop_hears_of_and_answers_the_other_machines_approvals() {
    use purser::events::Event;
    let Some(_) = server() else { return };
    let Team { rt, location, owner, .. } = Team::start();
    rt.block_on(async {
        owner.add_agent("research").await.unwrap();
        let laptop = Ledger::open_at(&location).await.unwrap().with_instance("laptop");
        let box1 = Ledger::open_at(&location).await.unwrap().with_instance("box1");
        let events = purser::events::Events::default();
        let mut heard = events.subscribe();
        tokio::spawn(purser::team_approvals::watch(laptop.clone(), events.clone()));
        let view = serde_json::json!({
            "id": 5, "agent": "research", "method": "GET", "host": "api.example.com", "path": "/fortune",
            "amount_msat": 21000, "count": 1, "total_msat": 21000, "fiat": null, "confirm": false,
            "explanation": "above the auto-approve limit", "budget": {}, "created_at_ms": owner.now_ms(),
            "expires_at_ms": owner.now_ms() + 60_000
        });
        laptop.offer_approval(9, &view, owner.now_ms() + 60_000).await.unwrap();
        box1.offer_approval(5, &view, owner.now_ms() + 60_000).await.unwrap();
        let Event::ApprovalNeeded { approval } =
            tokio::time::timeout(std::time::Duration::from_secs(10), heard.recv()).await.unwrap().unwrap()
        else {
            panic!("not an approval")
        };
        assert_eq!(approval.machine.as_deref(), Some("box1"), "the laptop's own approval is not another machine's");
        let team_id = approval.team_id.expect("a team id");
        let elsewhere = purser::team_approvals::waiting(&laptop, true).await.unwrap();
        assert_eq!(elsewhere.len(), 1, "{elsewhere:?}");

        let answer = purser::approval::Answer {
            remember_sats_per_day: Some(100),
            ..purser::approval::Answer::new(purser::approval::Verdict::Approve, 1)
        };
        let (answered, rule) = purser::team_approvals::answer(&laptop, team_id, answer.clone()).await.unwrap();
        assert_eq!((answered.count, answered.agent.as_str()), (1, "research"));
        let rule = rule.expect("remembered");
        assert_eq!(rule.max_per_day, Msats::from_sats(100));
        let read = box1.answers_for_this_instance().await.unwrap();
        assert!(read.iter().any(|a| a.local_id == 5 && a.state == "approved"), "{read:?}");
        let again = purser::team_approvals::answer(&laptop, team_id, answer).await;
        assert!(matches!(again, Err(purser::team_approvals::TeamAnswerError::NotWaiting(_))), "{again:?}");

        box1.close_approval(5).await.unwrap();
        let closed = loop {
            let event = tokio::time::timeout(std::time::Duration::from_secs(10), heard.recv()).await;
            match event.expect("the close was heard").unwrap() {
                Event::TeamApprovalClosed { team_id } => break team_id,
                _ => continue,
            }
        };
        assert_eq!(closed, team_id);
    });
}

/// The desktop's connection check reads, without changing anything, what a person needs before connecting:
/// the server, the login's role, whether the schema is there and current, and whose payments it holds; and
/// it refuses, saying why, a login a supervisor's desktop cannot work with.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_team_database_is_checked_before_a_desktop_connects() {
    use purser::ledger::team_check::{TeamRole, TeamSchema, check};
    let Some(_) = server() else { return };
    let dir = tempfile::tempdir().unwrap();
    let location = purser::ledger::testing::fresh_location(dir.path()).await;
    let Location::Server(owner_url) = &location else { unreachable!() };

    let empty = check(owner_url).await.unwrap();
    assert_eq!((empty.role, empty.schema), (TeamRole::Owner, TeamSchema::WillBeUpdated), "{empty:?}");
    assert!(empty.server_version.starts_with("PostgreSQL ") && empty.machines.is_empty(), "{empty:?}");
    assert!(!empty.tls && empty.on_this_machine, "a server on loopback is reached without TLS");
    let untouched = check(owner_url).await.unwrap();
    assert_eq!(untouched.schema, TeamSchema::WillBeUpdated, "the check changed nothing");

    let owner = Ledger::open_at(&location).await.unwrap();
    let (agent, _) = owner.add_agent("research").await.unwrap();
    owner.reserve(&payment(agent.id, &agent.name, 1, 5), Approved::Not, &Rules).await.unwrap();
    let current = check(owner_url).await.unwrap();
    assert_eq!(current.schema, TeamSchema::Current);
    assert_eq!(current.machines.len(), 1);
    assert_eq!((current.machines[0].name.as_str(), current.machines[0].payments), (owner.instance(), 1));

    let supervisor = check(&login_in(&location, "purser_supervisor").await).await.unwrap();
    assert_eq!((supervisor.role, supervisor.refusal_for_supervisor()), (TeamRole::Supervisor, None));
    let serving = check(&login_in(&location, "purser_serving").await).await.unwrap();
    assert_eq!(serving.role, TeamRole::Serving);
    assert!(serving.refusal_for_supervisor().unwrap().contains("purser_supervisor"), "{serving:?}");

    let stranger = format!("stranger_{}", rand::random::<u32>());
    let mut admin = {
        use sqlx::Connection as _;
        sqlx::PgConnection::connect(owner_url).await.unwrap()
    };
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE ROLE {stranger} LOGIN"))).execute(&mut admin).await.unwrap();
    let mut as_stranger = url::Url::parse(owner_url).unwrap();
    as_stranger.set_username(&stranger).unwrap();
    let none = check(as_stranger.as_str()).await.unwrap();
    assert_eq!(none.role, TeamRole::None);
    assert!(none.machines.is_empty() && none.refusal_for_supervisor().unwrap().contains("GRANT"), "{none:?}");

    let mut nowhere = url::Url::parse(owner_url).unwrap();
    let free_port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    nowhere.set_port(Some(free_port)).unwrap();
    assert!(check(nowhere.as_str()).await.is_err(), "nothing listens there");
}

/// Two instances under one name would resolve each other's open payments: the second is refused, saying
/// why, while the first serves; once the first is killed, the name is free again at once.
#[test]
fn a_second_instance_under_a_name_in_use_is_refused() {
    let Some(_) = server() else { return };
    let Team { rt: _rt, sandbox, dir, location, owner: _owner } = Team::start();
    let Location::Server(url) = &location else { unreachable!("team tests run on a server") };
    let uri = sandbox.wallet.uri.clone();
    let (mut first, _) = serve_instance(&dir.path().join("box1"), "box1", url, &uri);
    let addr = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let out = crate::cli::purser(&dir.path().join("box1-again"))
        .args(["serve", "--listen", &addr.to_string()])
        .env("PURSER_DATABASE_URL", url)
        .env("PURSER_INSTANCE", "box1")
        .env("PURSER_NWC_URI", &uri)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && said.contains("another Purser instance named `box1`"), "{said}");
    first.kill().unwrap(); // SIGKILL: the server lets its claim go with its connection
    first.wait().unwrap();
    let (mut again, _) = serve_instance(&dir.path().join("box1"), "box1", url, &uri);
    again.kill().unwrap();
    again.wait().unwrap();
}
