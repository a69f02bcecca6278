// Screen tests: the UI built with Tauri's IPC mocked (vite.mock.config.ts), in headless Debian Chromium
// driven by playwright-core. Each screen is opened, checked, and saved as a screenshot in screenshots/.
import { createServer } from "node:http";
import { readFile, mkdir } from "node:fs/promises";
import { extname, join, resolve } from "node:path";
import { chromium } from "playwright-core";
import { check, expect, finish } from "./checks.mjs";

const root = resolve(import.meta.dirname, "../dist-mock");
const shots = resolve(process.env.PURSER_SCREENSHOTS ?? join(import.meta.dirname, "../screenshots"));
await mkdir(shots, { recursive: true });
const types = { ".html": "text/html", ".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml" };
const server = createServer(async (req, res) => {
  const path = req.url === "/" ? "/mock.html" : req.url.split("?")[0];
  try {
    const body = await readFile(join(root, path));
    res.writeHead(200, { "content-type": types[extname(path)] ?? "application/octet-stream" }).end(body);
  } catch {
    res.writeHead(404).end();
  }
});
await new Promise((ok) => server.listen(0, "127.0.0.1", ok));
const url = `http://127.0.0.1:${server.address().port}/`;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});

for (const scheme of ["light", "dark"]) {
  const page = await browser.newPage({ viewport: { width: 1280, height: 860 }, colorScheme: scheme });
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(url);
  const open = async (screen, heading) => {
    await page.click(`[data-screen=${screen}]`);
    await page.waitForSelector(`h1:text-is("${heading}")`);
    await page.waitForTimeout(150);
    await page.screenshot({ path: join(shots, `${screen}-${scheme}.png`) });
  };
  await check(`${scheme}: overview shows totals, budgets, approvals and alerts`, async () => {
    await open("overview", "Overview");
    const text = await page.textContent(".main");
    expect(text.includes("293 sats + 0.29 sat in fees"), "today's total, whole sats and fees apart");
    expect(text.includes("84 sats of 100 sats (84 %)"), "a budget's use");
    expect(text.includes("research → api.example.com/premium"), "the waiting approval");
    expect(text.includes("80 % crossed"), "an alert");
    expect(await page.isVisible(".chart canvas"), "the chart");
    expect((await page.textContent(".badge")).trim() === "4", "the approvals badge counts waiting requests, the team's other machines' too");
    const strip = await page.textContent("[data-testid=attention]");
    expect(strip.includes("Agent writer's payments are paused"), strip);
    expect(strip.includes("daily budget of agent writer is used up (102 %)"), strip);
    expect(strip.includes("Payments to data.example.org/v2/render are stopped"), strip);
    expect(text.includes("307 sats of 300 sats (102 %)"), "over budget shows its true share");
    const held = await page.textContent("[data-testid=held-at-apis]");
    expect(held.includes("37 sats") && held.includes("127.0.0.1:4001: 7 sats"), held);
    expect(held.includes("credit.example: 30 sats (credit)"), held);
    const sessions = await page.textContent("[data-testid=sessions]");
    expect(sessions.includes("never arrived") && sessions.includes("open"), sessions);
    await page.click("[data-testid=close-session-2]");
    const closed = await page.evaluate(() => window.__calls.filter((c) => c.cmd === "close_session").pop());
    expect(closed && closed.args.id === 2, JSON.stringify(closed));
    await page.click("[data-testid=attention] >> text=Resume");
    const resumed = await page.evaluate(() => window.__calls.filter((c) => c.cmd === "set_paused").pop());
    expect(resumed.args.agent === "writer" && resumed.args.paused === false, JSON.stringify(resumed.args));
    await page.click("[data-testid=attention] >> text=Let them go ahead");
    const reset = await page.evaluate(() => window.__calls.filter((c) => c.cmd === "reset_breaker").pop());
    expect(reset.args.host === "data.example.org" && reset.args.path === "/v2/render", JSON.stringify(reset?.args));
    await page.click("[data-testid=refused-today]");
    await page.waitForSelector("xpath=//h1[text()='Ledger']");
    // The screen asks for its page once drawn: wait for that call rather than race it.
    const asked = () => window.__calls.some((c) => c.cmd === "ledger_page" && c.args.filter?.status === "refused");
    await page.waitForFunction(asked, null, { timeout: 5000 }).catch(() => {});
    const filtered = await page.evaluate(() => window.__calls.filter((c) => c.cmd === "ledger_page").pop());
    expect(filtered?.args.filter.status === "refused", JSON.stringify(filtered?.args));
    await page.screenshot({ path: join(shots, `overview-attention-${scheme}.png`) });
    await open("overview", "Overview");
  });
  await check(`${scheme}: ledger filters, shows details and exports`, async () => {
    await open("ledger", "Ledger");
    expect((await page.$$("[data-testid=ledger-table] tbody tr")).length === 12, "twelve rows");
    // The less used filters fold away; one set under the fold is counted on its button, and Clear empties it.
    expect(!(await page.isVisible("[data-testid=filter-from]")), "dates are folded away at first");
    await page.click("[data-testid=more-filters]");
    expect(await page.$eval("[data-testid=filter-from]", (e) => e.classList.contains("empty")), "an empty date reads as empty");
    await page.fill("[data-testid=filter-from]", "2026-11-01");
    await page.waitForFunction(() => window.__calls.filter((c) => c.cmd === "ledger_page").pop().args.filter.from_ms !== null);
    expect(!(await page.$eval("[data-testid=filter-from]", (e) => e.classList.contains("empty"))), "a set date does not");
    await page.click("[data-testid=more-filters]");
    expect((await page.textContent("[data-testid=more-filters]")).includes("(1 on)"), "the folded filter is counted");
    await page.click("[data-testid=clear-filters]");
    await page.click("[data-testid=more-filters]");
    expect((await page.inputValue("[data-testid=filter-from]")) === "", "Clear empties the date field");
    const cleared = await page.evaluate(() => window.__calls.filter((c) => c.cmd === "ledger_page").pop());
    expect(cleared.args.filter.from_ms === null, JSON.stringify(cleared.args.filter));
    await page.click("[data-testid=more-filters]");
    await page.selectOption("[data-testid=filter-agent]", "writer");
    await page.waitForFunction(() => document.querySelectorAll("[data-testid=ledger-table] tbody tr").length === 1);
    await page.click("[data-testid=ledger-table] tbody tr");
    await page.click("text=Show the preimage");
    await page.waitForSelector(`text=${"cd".repeat(32)}`);
    await page.click("[data-testid=export-csv]");
    await page.waitForSelector("text=Exported 2 payments");
    const last = await page.evaluate(() => window.__calls.filter((c) => c.cmd === "export_csv").pop());
    expect(last.args.filter.agent === "writer", "the export is of the filtered view");
    await page.screenshot({ path: join(shots, `ledger-detail-${scheme}.png`) });
  });
  await check(`${scheme}: approvals approve, deny and remember`, async () => {
    await open("approvals", "Approvals");
    const main = await page.textContent(".main");
    expect(main.includes("2 × 250 sats = 500 sats ($0.50) for research") && main.includes("2 identical requests"), "the count and total, with its value");
    await page.click("text=Approve and remember >> nth=0");
    const call = await page.evaluate(() => window.__calls.filter((c) => c.cmd === "decide_approval").pop());
    const a = call.args.answer;
    expect(call.args.id === 7 && a.approve === true && a.count === 2 && a.remember_sats_per_day === 1250, JSON.stringify(call.args));
  });
  await check(`${scheme}: a payment held on another of the team's machines names it and is answered in the team's database`, async () => {
    const machine = await page.textContent("[data-testid=approval-machine]");
    expect(machine.includes("Waiting on build-box"), machine);
    await page.click("[data-testid=approve-team-3]");
    const call = await page.evaluate(() => window.__calls.filter((c) => c.cmd === "decide_team_approval").pop());
    expect(call && call.args.teamId === 3 && call.args.answer.approve === true && call.args.answer.count === 1, JSON.stringify(call && call.args));
  });
  await check(`${scheme}: an overage shows the task's figures and can raise the task`, async () => {
    const overage = await page.textContent("[data-testid=overage-7]");
    expect(overage.includes("Task #11") && overage.includes("180.18 sats of 250 sats used, 69.82 sats left"), overage);
    expect(overage.includes("this payment needs 260 sats with its fee reserve, each of 2"), overage);
    const asked = await page.textContent(".main");
    expect(asked.includes("Allowance asked: up to 300 sats for research"), "a requested allowance waits on the Approvals screen too");
    await page.click("[data-testid=raise-7]");
    await page.waitForFunction(() => window.__calls.filter((c) => c.cmd === "decide_approval").length >= 2);
    const raised = await page.evaluate(() => window.__calls.filter((c) => c.cmd === "raise_allowance").pop());
    expect(raised.args.id === 11 && raised.args.maxSats === 701, JSON.stringify(raised.args));
  });
  await check(`${scheme}: tasks: a request with its quote, approved lower; progress; close; open one`, async () => {
    expect((await page.textContent("[data-testid=tasks-badge]")).trim() === "1", "the Tasks badge counts requests");
    await open("tasks", "Tasks");
    const quote = await page.textContent("[data-testid=allowance-quote-12]");
    expect(quote.includes("60 sats expected") && quote.includes("GET http://127.0.0.1:4001/mpp"), quote);
    await page.fill("[data-testid=allowance-max-12]", "250");
    await page.click("[data-testid=allowance-approve-12]");
    const decided = await page.evaluate(() => window.__calls.filter((c) => c.cmd === "decide_allowance").pop());
    expect(decided.args.id === 12 && decided.args.answer.approve && decided.args.answer.max_sats === 250 && decided.args.answer.time_limit_secs === 3600, JSON.stringify(decided.args));
    const progress = await page.textContent("[data-testid=task-progress-11]");
    expect(progress.includes("180.18 sats of 250 sats (72 %)") && progress.includes("12 calls") && progress.includes("min left"), progress);
    const dollars = await page.textContent("[data-testid=task-progress-14]");
    expect(dollars.includes("$0.4004 of $2.00 (20 %, 400.4 sats)"), dollars);
    await page.click("[data-testid=task-close-11]");
    const closed = await page.evaluate(() => window.__calls.filter((c) => c.cmd === "close_allowance").pop());
    expect(closed.args.id === 11, JSON.stringify(closed.args));
    expect((await page.textContent("[data-testid=tasks-ended]")).includes("#9 summarise 20 papers"), "an ended task");
    await page.fill("[data-testid=allowance-form] input[name=purpose]", "backfill");
    await page.fill("[data-testid=allowance-form] input[name=max]", "40");
    await page.click("[data-testid=allowance-form] button[type=submit]");
    await page.waitForSelector("text=Allowance #13 is open.");
    const opened = await page.evaluate(() => window.__calls.filter((c) => c.cmd === "open_allowance").pop());
    expect(opened.args.input.max_sats === 40 && opened.args.input.agent === "research" && opened.args.input.time_limit_secs === 3600, JSON.stringify(opened.args));
    // With a display currency, one can be opened in it.
    await page.fill("[data-testid=allowance-form] input[name=purpose]", "backfill in dollars");
    await page.selectOption("[data-testid=allowance-unit]", "USD");
    await page.fill("[data-testid=allowance-form] input[name=max]", "2.50");
    await page.click("[data-testid=allowance-form] button[type=submit]");
    await page.waitForFunction(() => window.__calls.filter((c) => c.cmd === "open_allowance").length >= 2);
    const inDollars = await page.evaluate(() => window.__calls.filter((c) => c.cmd === "open_allowance").pop());
    expect(inDollars.args.input.fiat?.currency === "USD" && inDollars.args.input.fiat?.amount === "2.50", JSON.stringify(inDollars.args));
    await page.screenshot({ path: join(shots, `tasks-${scheme}.png`) });
    await open("approvals", "Approvals");
  });
  await check(`${scheme}: a confirm-tier approval takes the passphrase, not a click`, async () => {
    const before = await page.evaluate(() => window.__calls.filter((c) => c.cmd === "decide_approval").length);
    await page.click("[data-testid=approve-8]");
    await page.waitForSelector("text=Type your passphrase to approve this payment.");
    const after = await page.evaluate(() => window.__calls.filter((c) => c.cmd === "decide_approval").length);
    expect(after === before, "a click alone sends nothing");
    await page.fill("[data-testid=passphrase-8]", "correct horse battery");
    await page.click("[data-testid=approve-8]");
    const call = await page.evaluate(() => window.__calls.filter((c) => c.cmd === "decide_approval").pop());
    expect(call.args.id === 8 && call.args.answer.passphrase === "correct horse battery" && call.args.answer.count === 1, JSON.stringify(call.args));
    await page.screenshot({ path: join(shots, `approvals-confirm-${scheme}.png`) });
  });
  await check(`${scheme}: budgets validate in place`, async () => {
    await open("budgets", "Budgets & rules");
    await page.fill("[data-testid=budget-form] input[name=sats]", "-5");
    await page.click("text=Add budget");
    await page.waitForSelector("text=is not a whole, positive number of sats");
    const added = await page.evaluate(() => window.__calls.some((c) => c.cmd === "add_budget"));
    expect(!added, "nothing is sent for invalid input");
    await page.fill("[data-testid=budget-form] input[name=sats]", "100");
    await page.click("text=Add budget");
    await page.waitForSelector("text=Budget added.");
    expect((await page.textContent(".main")).includes("rolling 6 h"), "a rolling budget is named");
  });
  await check(`${scheme}: with a display currency, amounts show in sats and dollars`, async () => {
    await open("overview", "Overview");
    expect((await page.textContent("[data-testid=spent-today-fiat]")).trim() === "≈ $0.29", "today's total in dollars");
    const rate = await page.textContent("[data-testid=rate-line]");
    expect(rate.includes("1 BTC = $100,000.00 · coinbase · 12 s old"), rate);
    const budgets = (await page.$$eval("[data-testid=overview-budget]", (els) => els.map((e) => e.textContent))).join(" | ");
    expect(budgets.includes("$0.29 of $1.00 (29 %) · 707 sats left"), budgets);
    expect((await page.textContent(".main")).includes("($0.50)"), "a waiting approval's value (2 × $0.25)");
    await page.click("[data-testid=chart-unit] >> text=USD");
    await page.waitForTimeout(100);
    expect(await page.isVisible(".chart canvas"), "the chart in dollars");
    await page.screenshot({ path: join(shots, `overview-currency-${scheme}.png`) });
    await open("ledger", "Ledger");
    const values = await page.$$eval("[data-testid=row-value]", (els) => els.map((e) => e.textContent));
    expect(values[0] === "$0.021021" && values[1] === "$0.021", values.join(", "));
    const machines = await page.$$eval("[data-testid=row-machine]", (els) => els.map((e) => e.textContent));
    expect(machines.includes("build-box") && machines.includes("laptop"), `a team's rows say their machine: ${machines.join(", ")}`);
    await open("budgets", "Budgets & rules");
    const limits = (await page.$$eval("[data-testid=budget-limit]", (els) => els.map((e) => e.textContent))).join(" | ");
    expect(limits.includes("$1.00 (1,000 sats)"), limits);
    const autos = (await page.$$eval("[data-testid=threshold-auto-max]", (els) => els.map((e) => e.textContent))).join(" | ");
    expect(autos.includes("$0.05 (≈ 50 sats)") && autos.includes("10 sats (≈ $0.01)"), autos);
    expect(limits.includes("5,000 sats (≈ $5.00)"), limits);
    await page.selectOption("[data-testid=budget-form] [data-testid=limit-unit]", "USD");
    await page.fill("[data-testid=budget-form] input[name=sats]", "1.5x");
    await page.click("text=Add budget");
    await page.waitForSelector("text=is not an amount such as 0.05");
    await page.fill("[data-testid=budget-form] input[name=sats]", "1.50");
    await page.click("text=Add budget");
    await page.waitForSelector("text=Budget added.");
    const added = await page.evaluate(() => window.__calls.filter((c) => c.cmd === "add_budget").pop());
    expect(added.args.input.fiat?.currency === "USD" && added.args.input.fiat?.amount === "1.50", JSON.stringify(added.args));
    await page.screenshot({ path: join(shots, `budgets-currency-${scheme}.png`) });
    await open("settings", "Settings");
    await page.selectOption("[data-testid=currency-select]", "EUR");
    await page.click("[data-testid=currency-form] >> text=Use");
    await page.waitForSelector("text=Amounts are shown in sats and EUR");
    const chosen = await page.evaluate(() => window.__calls.filter((c) => c.cmd === "set_display_currency").pop());
    expect(chosen.args.currency === "EUR", JSON.stringify(chosen.args));
  });
  await check(`${scheme}: agents, APIs, wallet and settings render`, async () => {
    await open("agents", "Agents");
    await page.fill("input[placeholder=research]", "scout");
    await page.click(`button:text-is("Add")`);
    await page.waitForSelector("text=prints the same lines again later");
    expect((await page.textContent("[data-testid=run-line]")).includes("purser run --agent scout"), "the purser run line");
    expect((await page.textContent(".main")).includes("purser run --agent research"), "each agent's purser run line");
    await page.click("[data-testid=settings-research]");
    await page.waitForSelector("text=research's key");
    const shown = await page.evaluate(() => window.__calls.filter((c) => c.cmd === "rotate_agent_key").length);
    expect(shown === 0, "showing the settings again changes no key");
    await page.click("[data-testid=rotate-research]");
    await page.waitForSelector("[data-testid=rotate-confirm-research]");
    expect((await page.evaluate(() => window.__calls.filter((c) => c.cmd === "rotate_agent_key").length)) === 0, "New key asks first");
    await page.click("[data-testid=rotate-confirm-research] >> text=Cancel");
    await page.click("[data-testid=mcp-research]");
    await page.waitForSelector("[data-testid=mcp-setup]");
    const stdio = JSON.parse(await page.textContent("[data-testid=mcp-stdio]"));
    expect(stdio.mcpServers.purser.args.join(" ") === "run --agent research -- purser mcp --agent research", "the MCP configuration starts purser mcp in the agent's sandbox");
    expect((await page.textContent("[data-testid=mcp-http]")).includes("/_purser/mcp"), "the HTTP form");
    expect((await page.textContent("[data-testid=mcp-setup]")).includes("purser mcp --print-config --agent research"), "the CLI line");
    await page.screenshot({ path: join(shots, `agents-${scheme}.png`) });
    await open("apis", "APIs & pricing");
    expect((await page.textContent(".main")).includes("89 %"), "success rate");
    // Usual prices are per endpoint, never one average over an API's differently priced endpoints.
    await page.click("[data-testid='endpoints-api.example.com']");
    const endpoints = await page.textContent("[data-testid=endpoints]");
    expect(endpoints.includes("/premium") && endpoints.includes("250 sats") && endpoints.includes("/joke") && endpoints.includes("1 sat"), endpoints);
    const asked = await page.evaluate(() => window.__calls.filter((c) => c.cmd === "api_endpoints").pop());
    expect(asked.args.host === "api.example.com", JSON.stringify(asked.args));
    const sameHost = await page.textContent("[data-testid=same-host] >> nth=0");
    expect(sameHost.includes("Also seen on 127.0.0.1:4002") && sameHost.includes("each port is its own API"), sameHost);
    const uninspected = await page.textContent("[data-testid=uninspected]");
    expect(uninspected.includes("secure.bank.example:443") && uninspected.includes("1.5 MiB"), uninspected);
    expect(uninspected.includes("refused Purser's certificate"), "a refused certificate is named");
    const prices = await page.textContent("[data-testid=prices]");
    expect(prices.includes("GET /premium") && prices.includes("250 sats") && prices.includes("pricing, openapi"), prices);
    expect((await page.textContent("[data-testid='held-127.0.0.1:4001']")).includes("7 sats"), "held at an API");
    const kept = await page.textContent("[data-testid=credentials]");
    expect(kept.includes("http://api.example.com:80/premium") && kept.includes("not stated"), kept);
    await page.click("[data-testid=credentials] button >> nth=0");
    await page.waitForSelector("text=Credential #4 revoked");
    const revoked = await page.evaluate(() => window.__calls.filter((c) => c.cmd === "revoke_credential").pop());
    expect(revoked && revoked.args.id === 4, JSON.stringify(revoked));
    await page.screenshot({ path: join(shots, `apis-${scheme}.png`) });
    await open("wallet", "Wallet");
    expect((await page.textContent("[data-testid=wallet-balance]")).includes("99,706 sats"), "the balance");
    await page.click("[data-testid=wallet-disconnect]");
    expect(await page.evaluate(() => window.__calls.some((c) => c.cmd === "wallet_disconnect")), "the sandbox wallet can be let go");
    await open("settings", "Settings");
    expect((await page.textContent("[data-testid=ca-path]")).endsWith("ca/purser-ca.pem"), "the CA path is shown");
    await page.fill("[data-testid=passphrase-current]", "old passphrase");
    await page.fill("[data-testid=passphrase-new]", "new passphrase");
    await page.fill("[data-testid=passphrase-again]", "new passphrase!");
    await page.click("text=Change");
    await page.waitForSelector("text=The two new passphrases differ.");
    await page.fill("[data-testid=passphrase-again]", "new passphrase");
    await page.click("text=Change");
    await page.waitForSelector("text=only its Argon2id hash is kept");
    const changed = await page.evaluate(() => window.__calls.filter((c) => c.cmd === "set_passphrase").pop());
    expect(changed.args.current === "old passphrase" && changed.args.newPassphrase === "new passphrase", JSON.stringify(changed.args));
    await page.screenshot({ path: join(shots, `settings-${scheme}.png`) });
    await page.fill("[data-testid=settings-form] input >> nth=0", "0.0.0.0:8402");
    await page.click("text=Save");
    await page.waitForSelector("text=listens on loopback only");
    await page.fill("[data-testid=settings-form] input >> nth=0", "127.0.0.1:9402");
    await page.click("text=Save");
    await page.waitForSelector("text=Restart Purser to apply");
    const saved = await page.evaluate(() => window.__calls.filter((c) => c.cmd === "save_settings").pop());
    expect(saved.args.listen === "127.0.0.1:9402" && saved.args.approvalTimeoutSecs === 120, JSON.stringify(saved.args));
  });
  await check(`${scheme}: a team database is checked before this desktop connects, then applied by a restart`, async () => {
    expect((await page.textContent("[data-testid=team-current]")).includes("this machine's own file"), "own file first");
    expect(await page.isDisabled("[data-testid=team-connect]"), "no Connect before a check");
    await page.fill("[data-testid=team-url]", "postgres://build_box@db.example.com:5432/purser");
    await page.click("[data-testid=team-form] >> text=Check");
    await page.waitForSelector("text=A desktop needs a supervisor's login");
    expect(await page.isDisabled("[data-testid=team-connect]"), "a serving login cannot connect a desktop");
    await page.fill("[data-testid=team-url]", "postgres://alice@db.example.com:5432/purser?sslmode=disable");
    await page.click("[data-testid=team-form] >> text=Check");
    await page.waitForSelector("text=NOT encrypted");
    await page.fill("[data-testid=team-url]", "postgres://alice@db.example.com:5432/purser");
    await page.fill("[data-testid=team-password]", "team secret");
    await page.fill("[data-testid=team-instance]", "alice-laptop");
    await page.click("[data-testid=team-form] >> text=Check");
    await page.waitForSelector("text=This desktop can connect to this database.");
    const machines = await page.textContent("[data-testid=team-machines]");
    expect(machines.includes("build-box (1,204)") && machines.includes("home-server (87)"), machines);
    expect((await page.textContent("[data-testid=team-check]")).includes("TLS, certificate verified"), "TLS is shown");
    await page.locator("section.card", { has: page.locator("[data-testid=team-form]") }).screenshot({ path: join(shots, `settings-team-${scheme}.png`) });
    await page.click("[data-testid=team-connect]");
    await page.waitForSelector("[data-testid=team-restart]");
    const connected = await page.evaluate(() => window.__calls.filter((c) => c.cmd === "connect_team_database").pop());
    expect(connected.args.password === "team secret" && connected.args.instance === "alice-laptop", JSON.stringify(connected.args));
    await page.click("[data-testid=team-restart]");
    expect(await page.evaluate(() => window.__calls.some((c) => c.cmd === "restart")), "Restart now restarts");
  });
  await check(`${scheme}: no script errors`, async () => expect(errors.length === 0, errors.join("; ")));
  await page.close();
}
// The window at the sizes people use: nothing scrolls sideways, and the ledger detail's Close stays in view.
for (const [width, height] of [[1024, 700], [1366, 900]]) {
  const page = await browser.newPage({ viewport: { width, height } });
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(url);
  await check(`${width}×${height}: no screen scrolls sideways, the detail's Close is in view`, async () => {
    for (const [screen, heading] of [["overview", "Overview"], ["ledger", "Ledger"], ["approvals", "Approvals"], ["tasks", "Tasks"], ["budgets", "Budgets & rules"], ["agents", "Agents"], ["apis", "APIs & pricing"], ["wallet", "Wallet"], ["settings", "Settings"]]) {
      await page.click(`[data-screen=${screen}]`);
      await page.waitForSelector(`h1:text-is("${heading}")`);
      await page.waitForTimeout(100);
      const wide = await page.evaluate(() => {
        const main = document.querySelector(".main");
        return { page: document.documentElement.scrollWidth - window.innerWidth, main: main.scrollWidth - main.clientWidth };
      });
      expect(wide.page <= 0 && wide.main <= 0, `${screen} overflows sideways by ${JSON.stringify(wide)}`);
    }
    await page.click("[data-screen=ledger]");
    await page.click("[data-testid=ledger-table] tbody tr");
    const close = await page.waitForSelector(".detail >> text=Close");
    await close.scrollIntoViewIfNeeded();
    const box = await close.boundingBox();
    expect(box && box.x >= 0 && box.x + box.width <= width, `Close at ${JSON.stringify(box)}`);
    const nav = await page.evaluate(() => { document.querySelector(".main").scrollTop = 10000; return document.querySelector(".nav").getBoundingClientRect().top; });
    expect(nav === 0, `the sidebar moved with the page (${nav})`);
    await page.screenshot({ path: join(shots, `ledger-detail-${width}.png`) });
    await page.click(".detail >> text=Close");
    const rowsInView = await page.evaluate(() => { document.querySelector(".main").scrollTop = 0;
      return [...document.querySelectorAll("[data-testid=ledger-table] tbody tr")].filter((r) => r.getBoundingClientRect().bottom <= window.innerHeight).length; });
    expect(rowsInView > 6, `only ${rowsInView} ledger rows in view`);
  });
  await check(`${width}×${height}: no script errors`, async () => expect(errors.length === 0, errors.join("; ")));
  await page.close();
}
await browser.close();
server.close();
finish();
