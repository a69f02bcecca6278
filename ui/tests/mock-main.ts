// The UI with Tauri's IPC answered by fixtures, for screen tests in a plain browser. Every command the UI
// invokes is recorded in `window.__calls` so tests can check what a click asked for.
import { mockIPC } from "@tauri-apps/api/mocks";

const now = Date.now();
const iso = (msAgo: number) => new Date(now - msAgo).toISOString();
const scope = (agent: string | null, host: string | null = null) => ({ agent_id: agent ? 1 : null, agent, host, path_prefix: null });
const budget = (id: number, s: ReturnType<typeof scope>, period: unknown, limit: number, used: number, fiat: number[] | null = null) => ({
  budget: { id, scope: s, period, limit, limit_fiat: fiat && { currency: "USD", micros: fiat[0] }, expires_at_ms: null, note: null },
  used,
  window_start_ms: now - 3_600_000,
  used_fiat: fiat && { currency: "USD", micros: fiat[1] },
});
// The display currency is USD at 1 BTC = $100,000: a msat is a millionth of a dollar.
const usd = (micros: number) => ({ currency: "USD", micros });
const dollarBudget = () => budget(5, scope(null), "day", 1_000_000, 293_293, [1_000_000, 293_293]);
const row = (id: number, agent: string, path: string, amount: number, status: string, extra: object = {}) => ({
  id, request_id: `req_${id}`, agent, method: "GET", scheme: "http", host: "api.example.com", path,
  challenge_kind: "l402", amount_msat: amount, fee_msat: status === "settled" ? amount / 1000 : null,
  payment_hash: "ab".repeat(32), invoice: "lnbcrt210n1p…", status, reason: status === "refused" ? "budget_exceeded" : null,
  decision: status === "settled" ? "auto-approved: within the auto-approve limit of 50 sats for agent research" : "daily budget #2 of agent research (100 sats): 84.084 sats used",
  upstream_status: status === "settled" ? 200 : null, delivered: status === "settled" ? true : null,
  created_at: iso(id * 60_000), updated_at: iso(id * 60_000),
  fiat_currency: "USD", fiat_per_btc: 100_000, fiat_source: "coinbase", instance: "laptop",
  fiat_value: status === "settled" ? (amount + amount / 1000) / 1_000_000 : amount / 1_000_000, ...extra,
});
const rows = [
  row(1, "research", "/fortune", 21000, "settled"),
  row(2, "research", "/fortune", 21000, "refused"),
  row(3, "writer", "/joke", 1000, "settled", { instance: "build-box" }),
  row(4, "research", "/premium", 250000, "settled"),
  // A day's steady traffic, so the ledger has more rows than fit the window.
  ...[...Array(8)].map((_, i) => row(5 + i, "research", `/v1/search/item-${i}`, 1000 * (i + 1), "settled")),
];
const approvals = [
  { id: 7, agent: "research", method: "GET", host: "api.example.com", path: "/premium", amount_msat: 250000,
    explanation: "250 sats is above the auto-approve limit of 50 sats for agent research and within its ask limit of 1,000 sats",
    budget: { budget: "daily budget #1 of the whole wallet (5000 sats)", remaining_msat: 4712000,
      allowance: { id: 11, purpose: "summarise 20 papers", used_msat: 180_180, max_msat: 250_000, left_msat: 69_820, needed_msat: 260_000, overage: true } }, count: 2,
    total_msat: 500000, fiat: usd(250_000), confirm: false, created_at_ms: now - 10_000, expires_at_ms: now + 110_000 },
  { id: 8, agent: "writer", method: "POST", host: "api.example.com", path: "/render", amount_msat: 2000000,
    explanation: "2,000 sats is above the confirm limit of 1,000 sats for the whole wallet: it needs your passphrase",
    budget: { budget: "daily budget #1 of the whole wallet (5000 sats)", remaining_msat: 4712000 }, count: 1,
    total_msat: 2000000, fiat: usd(2_000_000), confirm: true, created_at_ms: now - 5_000, expires_at_ms: now + 115_000 },
  // Held on another of the team's machines: its id here is that machine's, its team id the database's.
  { id: 7, agent: "crawler", method: "GET", host: "api.example.com", path: "/fortune", amount_msat: 21000,
    explanation: "21 sats is above the auto-approve limit of 1 sat for the whole wallet and within its ask limit of 1,000 sats",
    budget: { budget: "daily budget #1 of the whole wallet (5000 sats)", remaining_msat: 4712000 }, count: 1,
    total_msat: 21000, fiat: usd(21_000), confirm: false, created_at_ms: now - 2_000, expires_at_ms: now + 118_000,
    machine: "build-box", team_id: 3 },
];
const allowance = (id: number, state: string, extra: object = {}) => ({
  id, agent: "research", purpose: "summarise 20 papers", state, max_msat: 250_000, asked_max_msat: 300_000,
  per_payment_max_msat: null, apis: [], used_msat: 0, calls: 0, asked_duration_ms: 3_600_000, confirmed: false,
  opened_by: "agent", created_at_ms: now - 60_000, decided_at_ms: null, expires_at_ms: now + 3_000_000,
  closed_at_ms: null, closed_by: null, plan: null, summary: null, ...extra,
});
const allowances = [
  allowance(12, "requested", { max_msat: 300_000, plan: { calls: [], quote: {
    calls: [{ method: "GET", url: "http://127.0.0.1:4001/mpp", count: 20, published_msat: 3_000, usual: null, policy: { decision: "pay" } }],
    total: { lowest_msat: 60_000, expected_msat: 60_000, highest_msat: 60_000, sources: ["published prices"], unpriced: [] } } } }),
  allowance(11, "active", { used_msat: 180_180, calls: 12, decided_at_ms: now - 600_000 }),
  allowance(14, "active", { max_msat: 0, used_msat: 400_400, calls: 3, decided_at_ms: now - 300_000,
    max_fiat: { currency: "USD", micros: 2_000_000 }, used_fiat: { currency: "USD", micros: 400_400 } }),
  allowance(9, "closed", { used_msat: 42_000, calls: 2, closed_at_ms: now - 86_400_000, closed_by: "agent", summary: { calls: 2 } }),
];
const days = [...Array(14)].map((_, i) => {
  const d = new Date(now - (13 - i) * 86_400_000);
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
});
const fixtures: Record<string, (args: any) => unknown> = {
  overview: () => ({
    totals: { today_msat: 293293, today_fee_msat: 293, week_msat: 1204000, month_msat: 4810500, settled_count_today: 5, refused_count_today: 3,
      fiat: { currency: "USD", today_micros: 293_293, week_micros: 1_204_000, month_micros: 4_810_500 } },
    budgets: [budget(1, scope(null), "day", 5_000_000, 293_293), budget(2, scope("research"), "day", 100_000, 84_084), budget(4, scope("writer"), "day", 300_000, 307_000), dollarBudget()],
    approvals, alerts: [
      { id: 3, kind: "budget_crossing", agent: "research", host: "api.example.com", budget_id: 2, payment_id: 2, message: "daily budget #2 of agent research (100 sats) 80 % crossed (85.063 sats of 100 sats used)", created_at: iso(120_000) },
      { id: 1, kind: "first_payment_to_api", agent: "research", host: "api.example.com", budget_id: null, payment_id: 1, message: "first payment to api.example.com (21 sats by agent research)", created_at: iso(600_000) },
    ],
    paused: false, proxy_url: "http://127.0.0.1:8402", sandbox: true, sandbox_env: null,
    paused_agents: ["writer"],
    breakers: [{ host: "data.example.org", path: "/v2/render", reason: "3 paid requests in a row were not delivered", tripped_at_ms: now - 60_000 }],
    rate: { currency: "USD", per_btc: 100_000, source: "coinbase", age_secs: 12, error: null },
    held: [{ host: "127.0.0.1:4001", held_msat: 7_000, open_sessions: 1, credits: 0 }, { host: "credit.example", held_msat: 30_000, open_sessions: 0, credits: 1 }],
    sessions: [
      { id: 2, agent: "research", host: "127.0.0.1:4001", payment_id: 7, deposit_msat: 10_000, unit_msat: 3_000, drawn_msat: 3_000, draws: 1,
        held_msat: 7_000, state: "open", refund_claimed_msat: null, refund_msat: null, refund_state: "none", opened_at_ms: now - 60_000, closed_at_ms: null },
      { id: 1, agent: "research", host: "127.0.0.1:4001", payment_id: 3, deposit_msat: 10_000, unit_msat: 3_000, drawn_msat: 9_000, draws: 3,
        held_msat: 0, state: "closed", refund_claimed_msat: 1_000, refund_msat: null, refund_state: "missing", opened_at_ms: now - 600_000, closed_at_ms: now - 300_000 },
    ],
  }),
  spend_chart: ({ group }) => days.flatMap((day, i) =>
    group === "api"
      ? [{ day, key: "api.example.com", msat: (i % 5) * 21000 + 3000, fiat_micros: (i % 5) * 21000 + 3000 }, { day, key: "data.example.org", msat: (i % 3) * 10000, fiat_micros: (i % 3) * 10000 }]
      : [{ day, key: "research", msat: (i % 4) * 25000, fiat_micros: (i % 4) * 25000 }, { day, key: "writer", msat: 2000 * i, fiat_micros: 2000 * i }]),
  ledger_page: ({ filter, offset }) => {
    const shown = rows.filter((r) => !filter.agent || r.agent === filter.agent).filter((r) => !filter.status || r.status === filter.status);
    return { rows: shown.slice(offset, offset + 50), total: shown.length };
  },
  payment_preimage: () => "cd".repeat(32),
  export_csv: () => ({ path: "/home/you/.local/share/purser/exports/purser-ledger-1.csv", rows: 2 }),
  approvals: () => approvals,
  decide_approval: () => null,
  decide_team_approval: () => null,
  budgets: () => ({
    budgets: [budget(1, scope(null), "day", 5_000_000, 293_293), budget(2, scope("research"), "day", 100_000, 84_084), budget(3, scope(null, "api.example.com"), { rolling: { hours: 6 } }, 300_000, 42_000), dollarBudget()],
    thresholds: [
      { id: 1, scope: scope(null), auto_max: 10_000, ask_max: 5_000_000, confirm_above: 1_000_000, fiat: null },
      { id: 2, scope: scope("research"), auto_max: 50_000, ask_max: 1_000_000, confirm_above: null, fiat: null },
      { id: 3, scope: scope("writer"), auto_max: 50_000, ask_max: 2_000_000, confirm_above: null,
        fiat: { currency: "USD", auto_max_micros: 50_000, ask_max_micros: 2_000_000, confirm_above_micros: null } },
    ],
    rules: [{ id: 1, scope: scope("research", "api.example.com"), max_per_day: 500_000, source: "remembered from approval #4" }],
    paused: false, time_zone: "Europe/Berlin", currency: "USD", per_btc: 100_000,
  }),
  add_budget: () => null, remove_budget: () => null, set_threshold: () => null, remove_threshold: () => null,
  add_rule: () => null, remove_rule: () => null, set_paused: () => null, reset_breaker: () => null,
  agents: () => [
    { agent: { id: 1, name: "research", created_at_ms: now - 86_400_000, paused: false }, spent_msat: 380_000, run: "purser run --agent research -- COMMAND" },
    { agent: { id: 2, name: "writer", created_at_ms: now - 3_600_000, paused: true }, spent_msat: 3_000, run: "purser run --agent writer -- COMMAND" },
  ],
  add_agent: ({ name }) => ({ name, key: "3f9c0b1e2d4a5b6c7d8e9f0a1b2c3d4e", run: `purser run --agent ${name} -- COMMAND`, env_line: `eval "$(purser env --agent ${name})"`, env: `export HTTPS_PROXY='http://${name}:3f9c…@127.0.0.1:8402'\nexport SSL_CERT_FILE='/home/you/.local/share/purser/ca/bundle.pem'` }),
  rotate_agent_key: ({ name }) => fixtures.add_agent({ name }),
  agent_settings: ({ name }) => fixtures.add_agent({ name }),
  agent_mcp: ({ name }) => ({
    name,
    stdio: JSON.stringify({ mcpServers: { purser: { command: "purser", args: ["run", "--agent", name, "--", "purser", "mcp", "--agent", name] } } }, null, 2),
    http: JSON.stringify({ mcpServers: { purser: { type: "http", url: "http://127.0.0.1:8402/_purser/mcp", headers: { Authorization: "Basic cmVzZWFyY2g6a2V5" } } } }, null, 2),
    print_line: `purser mcp --print-config --agent ${name}`,
  }),
  apis: () => [
    { host: "api.example.com", payments: 12, settled: 9, delivered: 8, paid_not_delivered: 1, spent_msat: 380_000, held_msat: 0 },
    { host: "data.example.org", payments: 3, settled: 3, delivered: 3, paid_not_delivered: 0, spent_msat: 30_000, held_msat: 0 },
    { host: "127.0.0.1:4001", payments: 2, settled: 2, delivered: 2, paid_not_delivered: 0, spent_msat: 2_002, held_msat: 7_000 },
    { host: "127.0.0.1:4002", payments: 1, settled: 1, delivered: 1, paid_not_delivered: 0, spent_msat: 1_001, held_msat: 0 },
  ],
  api_endpoints: () => [
    { path: "/premium", payments: 2, settled: 1, spent_msat: 250_250, usual_price_msat: 250_000 },
    { path: "/fortune", payments: 8, settled: 6, spent_msat: 126_060, usual_price_msat: 21_000 },
    { path: "/joke", payments: 2, settled: 2, spent_msat: 2_002, usual_price_msat: 1_000 },
  ],
  uninspected: () => [
    { host: "secure.bank.example", port: 443, kind: "pass_through", agents: ["research"], connections: 4, bytes_to_upstream: 2_048, bytes_to_agent: 1_572_864, last_opened_at: new Date(now - 120_000).toISOString() },
    { host: "pinned.example.net", port: 443, kind: "certificate_rejected", agents: ["writer"], connections: 1, bytes_to_upstream: 0, bytes_to_agent: 0, last_opened_at: new Date(now - 7_200_000).toISOString() },
  ],
  prices: () => ["pricing", "openapi"].flatMap((source) => [
    { origin: "http://api.example.com:80", method: "GET", path: "/fortune", price_msat: 21_000, description: "a fortune", source, model: "fixed" as const, detail: null, quote_endpoint: null, service: null, capability: null, read_at_ms: now - 300_000 },
    { origin: "http://api.example.com:80", method: "GET", path: "/premium", price_msat: 250_000, description: "a report", source, model: "fixed" as const, detail: null, quote_endpoint: null, service: null, capability: null, read_at_ms: now - 300_000 },
  ]),
  credentials: () => [
    { id: 4, agent: "research", origin: "http://api.example.com:80", path: "/premium", scheme: "L402", payment_id: 4, created_at_ms: now - 600_000, expires_at_ms: now + 3_000_000, expired: false, single_use: false },
    { id: 2, agent: "writer", origin: "http://api.example.com:80", path: "/joke", scheme: "LSAT", payment_id: 3, created_at_ms: now - 9_000_000, expires_at_ms: null, expired: false, single_use: true },
  ],
  revoke_credential: () => null,
  close_session: () => null,
  wallet_status: () => ({ connected: true, source: "the sandbox (play sats)", sandbox: true, balance_msat: 99_706_000, error: null,
    info: { alias: "Purser sandbox wallet (play sats)", network: "regtest", methods: ["get_info", "get_balance", "pay_invoice", "lookup_invoice"], encryption: "nip44_v2" } }),
  wallet_connect: () => fixtures.wallet_status({}),
  wallet_disconnect: () => null,
  allowances: ({ all }) => (all ? allowances : allowances.filter((a) => a.state !== "closed")),
  decide_allowance: ({ id }) => ({ ...allowances[0], id, state: "active" }),
  open_allowance: ({ input }) => allowance(13, "active", { agent: input.agent, purpose: input.purpose, max_msat: input.max_sats * 1000 }),
  raise_allowance: ({ id }) => ({ ...allowances[1], id }),
  close_allowance: ({ id }) => ({ ...allowances[1], id, state: "closed" }),
  wallet_reconnect_sandbox: () => fixtures.wallet_status({}),
  settings: () => ({ data_dir: "/home/you/.local/share/purser", proxy_url: "http://127.0.0.1:8402", approval_timeout_secs: 120, notifications: true, config_file: "/home/you/.local/share/purser/purser.toml", time_zone: "Europe/Berlin",
    ca_cert_path: "/home/you/.local/share/purser/ca/purser-ca.pem", pass_through: ["*.bank.example"],
    passphrase_set: true, confirm_every_approval: false, currency: "USD", rate_max_age_secs: 300, rate_sources: ["coinbase", "kraken", "coingecko", "mempool"],
    team_database: null, database_chosen_by: null, instance: "laptop" }),
  check_team_database: ({ url, password }) => ({ shown_url: url, server_version: "PostgreSQL 15.8", tls: !url.includes("sslmode=disable"),
    tls_verified: !url.includes("sslmode=disable"), on_this_machine: false,
    login: password ? "alice" : "build_box", role: password ? "supervisor" : "serving", schema: "current",
    machines: [{ name: "build-box", payments: 1204 }, { name: "home-server", payments: 87 }] }),
  connect_team_database: ({ url }) => ({ shown_url: url, server_version: "PostgreSQL 15.8", tls: true, tls_verified: true, on_this_machine: false,
    login: "alice", role: "supervisor", schema: "current", machines: [] }),
  leave_team_database: () => null,
  restart: () => null,
  set_display_currency: ({ currency }) => currency
    ? { currency, per_btc: 100_000, source: "coinbase", age_secs: 0, error: null }
    : { currency: null, per_btc: null, source: null, age_secs: null, error: null },
  set_passphrase: () => null,
  set_confirm_every_approval: () => null,
  set_notifications: () => null,
  save_settings: () => null,
};

declare global {
  interface Window { __calls: { cmd: string; args: unknown }[] }
}
window.__calls = [];
mockIPC((cmd, args) => {
  window.__calls.push({ cmd, args });
  const answer = fixtures[cmd];
  if (!answer) throw { kind: "unexpected", message: `no fixture for ${cmd}` };
  return answer(args);
}, { shouldMockEvents: true });

await import("../src/main");
