// The real app, end to end: tauri-driver drives the built app (wired to the sandbox) while a real curl acts
// as the agent and a real notification daemon (dunst) carries the approval. Run through scripts/e2e.
import { execFile } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { By, until } from "selenium-webdriver";
import { run, startApp } from "./app_driver.mjs";
import { check, expect, finish } from "./checks.mjs";

const work = process.env.PURSER_E2E_WORK;
const dataDir = join(work, "data");

const { driver, text, waitText, open, shot } = await startApp(["--sandbox", "--data-dir", dataDir, "--listen", "127.0.0.1:0"]);

// What the notification daemon showed: [{ summary, body }], oldest first (scripts/e2e writes each one).
async function notified() {
  const text = await readFile(join(work, "notified"), "utf8").catch(() => "");
  return text.split("\n--\n").filter((n) => n.trim()).map((n) => {
    const [summary, ...body] = n.split("\n");
    return { summary, body: body.join("\n") };
  });
}
async function waitNotified(summary, bodyPart, ms = 5000) {
  let seen = [];
  for (const end = Date.now() + ms; Date.now() < end; await driver.sleep(100)) {
    seen = await notified();
    if (seen.some((n) => n.summary === summary && n.body.includes(bodyPart))) return;
  }
  throw new Error(`no notification "${summary}" saying "${bodyPart}"; shown: ${JSON.stringify(seen)}`);
}

// The tray menu, driven over D-Bus the way a tray host would (com.canonical.dbusmenu): Xvfb has no tray.
const MENU = "/org/ayatana/NotificationItem/tray_icon_tray_app_purser/Menu";
const gdbus = (...args) => run("gdbus", ["call", "--session", ...args]);
async function trayMenu() {
  const names = (await gdbus("--dest", "org.freedesktop.DBus", "--object-path", "/org/freedesktop/DBus", "--method", "org.freedesktop.DBus.ListNames")).stdout.match(/:1\.\d+/g) ?? [];
  for (const dest of names) {
    // A name that does not answer (a portal starting up) is skipped after two seconds, not D-Bus's 25.
    const layout = await gdbus("--timeout", "2", "--dest", dest, "--object-path", MENU, "--method", "com.canonical.dbusmenu.GetLayout", "0", "int32 -1", "@as []").catch(() => null);
    if (!layout) continue;
    const items = [...layout.stdout.matchAll(/\((\d+), \{[^}]*?'label': <'([^']*)'>/g)].map((m) => ({ id: m[1], label: m[2] }));
    return { dest, items };
  }
  throw new Error("the tray's menu is not on the session bus");
}
async function trayClick(label) {
  const { dest, items } = await trayMenu();
  const item = items.find((i) => i.label === label);
  if (!item) throw new Error(`no tray item "${label}" in ${JSON.stringify(items)}`);
  await gdbus("--dest", dest, "--object-path", MENU, "--method", "com.canonical.dbusmenu.Event", item.id, "clicked", "<int32 0>", "0");
}

// The agent: curl with the proxy settings the app shows for the sandbox.
let env = {};
async function agent(path, extra = []) {
  const { stdout } = await run("curl", ["-s", "-i", ...extra, `${env.PURSER_DEMO_API}${path}`], {
    env: { ...process.env, http_proxy: env.http_proxy, HTTP_PROXY: env.HTTP_PROXY, no_proxy: "", NO_PROXY: "" },
  }).catch((e) => e);
  return stdout ?? "";
}

try {
  await check("the sandbox's agent settings are shown on the overview", async () => {
    await waitText("[data-testid=sandbox-env]", "PURSER_DEMO_API", 15000);
    // One `export NAME='value'` a line, as `purser env` prints them; comment lines explain.
    for (const line of (await text("[data-testid=sandbox-env]")).split("\n")) {
      const m = line.match(/^export (\w+)='([^']*)'$/);
      if (m) env[m[1]] = m[2];
    }
    expect(env.http_proxy?.startsWith("http://demo:"), JSON.stringify(env));
    expect(env.HTTPS_PROXY === env.http_proxy && env.CURL_CA_BUNDLE?.endsWith("bundle.pem"), JSON.stringify(env));
    await shot("overview-first-run");
  });

  await check("an agent's paid call shows up in the overview within a second", async () => {
    const reply = await agent("/joke");
    expect(reply.startsWith("HTTP/1.1 200"), reply);
    await waitText("[data-testid=spent-today]", "1 sat + 0.001 sat in fees", 1000);
    await shot("overview");
  });

  await check("an MPP session's deposit is held at the API on the Overview, going down with each call and back to none once closed", async () => {
    // 10 sats deposited, 3 drawn per call after the first: the window hears of each draw, though none is a payment.
    for (const held of ["10 sats", "7 sats", "4 sats"]) {
      const reply = await agent("/session");
      expect(reply.startsWith("HTTP/1.1 200"), reply);
      await waitText("[data-testid=held-at-apis]", `: ${held}`, 2000);
    }
    await shot("overview-held-at-apis");
    await driver.findElement(By.css("[data-testid^=close-session-]")).click();
    // The API returns the 4 sats to an invoice the wallet made; once it arrives nothing is held.
    await waitText("[data-testid=held-at-apis]", "no deposits or credit", 15000);
    const left = await driver.findElements(By.css("[data-testid=sessions]"));
    expect(left.length === 0, "a session whose refund arrived leaves nothing to show");
  });

  await check("the ledger shows the payment and its details", async () => {
    await open("ledger", "Ledger");
    await waitText("[data-testid=ledger-table]", "/joke");
    await driver.findElement(By.css("[data-testid=ledger-table] tbody tr td")).click();
    await waitText(".detail", "auto-approved");
    await shot("ledger");
  });

  await check("with the wallet disconnected, a call is refused and the Overview says what to do", async () => {
    await open("wallet", "Wallet");
    await waitText(".main", "Purser sandbox wallet");
    await driver.findElement(By.css("[data-testid=wallet-disconnect]")).click();
    await waitText(".main", "Sandbox wallet disconnected");
    const refused = await agent("/legacy");
    expect(refused.startsWith("HTTP/1.1 503") && refused.includes('"reason":"wallet_not_configured"'), refused);
    await open("overview", "Overview");
    await waitText("[data-testid=attention]", "No wallet is connected");
    await shot("overview-no-wallet");
    await driver.findElement(By.xpath("//*[@data-testid='attention']//button[text()='Connect a wallet']")).click();
    await driver.wait(until.elementLocated(By.xpath(`//h1[text()="Wallet"]`)), 5000);
    // The Wallet screen draws its buttons once it has read the wallet's status.
    await driver.wait(until.elementLocated(By.css("[data-testid=wallet-reconnect-sandbox]")), 5000).click();
    await waitText(".main", "Purser sandbox wallet");
    const paid = await agent("/legacy");
    expect(paid.startsWith("HTTP/1.1 200"), paid);
  });

  await check("a call above the auto limit raises a notification whose Approve finishes the agent's request", async () => {
    await writeFile(join(work, "pick"), "Approve");
    const call = agent("/premium");
    await open("approvals", "Approvals");
    await waitText(".main", "250 sats for demo", 10000);
    await shot("approvals");
    // Open the displayed notifications' actions (dunst hands them to the menu script, which picks Approve)
    // until the approval's notification is among them.
    let menu = "";
    for (let i = 0; i < 50 && !menu.includes("#Approve "); i++) {
      if (i === 0) await shot("notification", { display: true });
      await run("dunstctl", ["context"]);
      menu = await readFile(join(work, "menu"), "utf8").catch(() => "");
      if (!menu.includes("#Approve ")) await driver.sleep(100);
    }
    expect(menu.includes("Approve 250 sats?") && menu.includes("#Deny "), `the notifications offered: ${menu}`);
    const reply = await call;
    expect(reply.startsWith("HTTP/1.1 200"), reply);
    expect(reply.includes("report"), reply);
    // Each notification says who, what and how much: the request, then its answer.
    const where = env.PURSER_DEMO_API.replace(/^https?:\/\//, "");
    await waitNotified("Approve 250 sats?", `Agent demo → GET ${where}/premium`);
    await waitNotified("Payment approved", `250 sats for demo → GET ${where}/premium`);
  });

  await check("an MCP client set up with the Agents screen's configuration lists the tools, pays under the agent, and a fetch above the auto limit asks the person", async () => {
    await open("agents", "Agents");
    await driver.findElement(By.css("[data-testid=mcp-demo]")).click();
    await waitText("[data-testid=mcp-stdio]", "mcpServers");
    await shot("agents-mcp");
    // The client starts the configured command as it is (`purser run … -- purser mcp …`, in the agent's sandbox).
    const server = JSON.parse(await text("[data-testid=mcp-stdio]")).mcpServers.purser;
    const client = (calls) => {
      const child = execFile(process.env.PURSER_E2E_PYTHON, ["tests/clients/mcp_client.py", "stdio", server.command, ...server.args], { maxBuffer: 1 << 24 });
      child.stdin.end(JSON.stringify(calls));
      return new Promise((resolve, reject) => {
        let out = "", err = "";
        child.stdout.on("data", (d) => (out += d));
        child.stderr.on("data", (d) => (err += d));
        child.on("close", (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`the MCP client failed (${code}): ${err}`))));
      });
    };
    const paid = await client([{ tool: "get_budget" }, { tool: "fetch", args: { url: `${env.PURSER_DEMO_API}/hash-only` } }]);
    expect(paid.tools.length === 7 && paid.tools.some((t) => t.name === "fetch"), JSON.stringify(paid.tools));
    expect(paid.calls[0].structured.agent === "demo", JSON.stringify(paid.calls[0]));
    const payment = paid.calls[1].structured.payment;
    expect(payment?.status === "settled" && payment.amount_msat === 2000, JSON.stringify(paid.calls[1]));
    await open("ledger", "Ledger");
    await waitText("[data-testid=ledger-table] tbody tr", "/hash-only");
    expect((await text("[data-testid=ledger-table] tbody tr")).includes("demo"), "the MCP payment is the agent's");

    // /fortune (21 sats, every call paid) needs the person: the notification comes, the person denies it in Approvals.
    const before = (await notified()).length;
    const costly = client([{ tool: "fetch", args: { url: `${env.PURSER_DEMO_API}/fortune`, reason: "a fortune for the report" } }]);
    const where = env.PURSER_DEMO_API.replace(/^https?:\/\//, "");
    for (let i = 0; i < 100 && !(await notified()).slice(before).some((n) => n.summary === "Approve 21 sats?" && n.body.includes(`${where}/fortune`)); i++) await driver.sleep(100);
    expect((await notified()).slice(before).some((n) => n.summary === "Approve 21 sats?" && n.body.includes("a fortune for the report")), JSON.stringify((await notified()).slice(before)));
    await open("approvals", "Approvals");
    await waitText(".main", "a fortune for the report", 5000);
    await driver.findElement(By.css("button[data-testid^=deny-]")).click();
    const refused = (await costly).calls[0].structured;
    expect(refused.status === 402 && refused.problem?.reason && refused.payment?.status === "refused", JSON.stringify(refused));
  });

  await check("two identical calls above the advertised price wait on one counted card whose countdown runs", async () => {
    await writeFile(join(work, "pick"), "none");
    const calls = [agent("/surge"), agent("/surge")];
    await open("approvals", "Approvals");
    await waitText(".main", "2 × 20 sats = 40 sats for demo", 10000);
    const card = await text(".approval");
    expect(card.includes("2 identical requests") && card.includes("2× its advertised 10 sats"), card);
    const first = Number((await text("[data-testid=time-left]")).split(" ")[0]);
    await driver.sleep(2200);
    const later = Number((await text("[data-testid=time-left]")).split(" ")[0]);
    expect(later < first && later > 0, `the countdown went from ${first} s to ${later} s`);
    await waitNotified("Approve 20 sats?", "2× its advertised 10 sats");
    await shot("approvals-counted");
    await driver.findElement(By.css("[data-testid^=approve-]")).click();
    for (const reply of await Promise.all(calls)) expect(reply.startsWith("HTTP/1.1 200"), reply);
  });

  await check("a task allowance: asked with a quote, approved lower in Tasks, spent without questions, its overage held and denied", async () => {
    const proxy = new URL(env.http_proxy);
    const own = async (path, body) => {
      const { stdout } = await run("curl", ["-s", "-X", "POST", "-H", "content-type: application/json", "-d", JSON.stringify(body), `http://${proxy.host}${path}`], {
        env: { ...process.env, http_proxy: env.http_proxy, no_proxy: "", NO_PROXY: "" },
      });
      return JSON.parse(stdout);
    };
    await writeFile(join(work, "pick"), "none");
    const asked = await own("/_purser/allowances", { purpose: "summarise 20 papers", max_sats: 300, calls: [{ url: `${env.PURSER_DEMO_API}/mpp`, count: 20 }] });
    expect(asked.state === "requested", JSON.stringify(asked));
    await waitNotified("Allowance asked: up to 300 sats for demo", "summarise 20 papers");
    await open("tasks", "Tasks");
    await waitText(`[data-testid=allowance-quote-${asked.id}]`, "60 sats expected");
    const max = await driver.findElement(By.css(`[data-testid=allowance-max-${asked.id}]`));
    await max.clear();
    // Lowered to 20 sats: three 3-sat calls fit (each holds a 10-sat fee reserve while in flight), a fourth not.
    await max.sendKeys("20");
    await driver.findElement(By.css(`[data-testid=allowance-approve-${asked.id}]`)).click();
    await waitText(`[data-testid=task-progress-${asked.id}]`, "of 20 sats");
    const header = ["-H", `Purser-Allowance: ${asked.id}`];
    for (let i = 0; i < 3; i++) {
      const reply = await agent("/mpp", header);
      expect(reply.startsWith("HTTP/1.1 200"), reply);
    }
    await waitText(`[data-testid=task-progress-${asked.id}]`, "3 calls");
    await shot("tasks");
    // The fourth would pass the 20 approved: an overage, shown with what is used and left.
    const overage = agent("/mpp", [...header, "-H", "Purser-Reason: one more paper"]);
    await open("approvals", "Approvals");
    await waitText(".main", `Task #${asked.id}`, 10000);
    const card = await text(".approval");
    expect(card.includes("of 20 sats used") && card.includes("left") && card.includes("the agent says: one more paper"), card);
    await shot("approvals-overage");
    await driver.findElement(By.css("[data-testid^=deny-]")).click();
    const denied = await overage;
    expect(/purser-refused: allowance_exceeded/i.test(denied), denied);
  });

  await check("pausing in the UI makes the next call refused", async () => {
    await open("budgets", "Budgets & rules");
    await driver.findElement(By.css("[data-testid=pause-all]")).click();
    await waitText(".banner", "paused");
    const reply = await agent("/fortune");
    expect(/purser-refused: payments_paused/i.test(reply), reply);
    await shot("budgets-paused");
    await driver.findElement(By.css("[data-testid=pause-all]")).click();
    await driver.wait(async () => (await driver.findElements(By.css(".banner"))).length === 0, 5000);
  });

  await check("Pause in the tray makes the next call refused", async () => {
    const { items } = await trayMenu();
    expect(items.some((i) => /^Spent today: /.test(i.label)), JSON.stringify(items));
    await trayClick("Pause all payments");
    await waitText(".banner", "paused");
    const reply = await agent("/fortune");
    expect(/purser-refused: payments_paused/i.test(reply), reply);
    // The menu now offers to resume (it refreshes every two seconds).
    await driver.wait(async () => (await trayMenu()).items.some((i) => i.label === "Resume all payments"), 5000);
    await trayClick("Resume all payments");
    await driver.wait(async () => (await driver.findElements(By.css(".banner"))).length === 0, 5000);
  });

  await check("with a passphrase and a confirm limit, a notification's Approve opens the app and pays nothing; the passphrase pays", async () => {
    await open("settings", "Settings");
    await driver.findElement(By.css("[data-testid=passphrase-new]")).sendKeys("correct horse battery");
    await driver.findElement(By.css("[data-testid=passphrase-again]")).sendKeys("correct horse battery");
    await driver.findElement(By.css("[data-testid=passphrase-form] button[type=submit]")).click();
    await waitText(".main", "only its Argon2id hash is kept");
    await open("budgets", "Budgets & rules");
    await driver.findElement(By.css("[data-testid=threshold-auto]")).sendKeys("10");
    await driver.findElement(By.css("[data-testid=threshold-ask]")).sendKeys("1000");
    // /premium's proof is kept from the approval above; /fortune's single-use tokens pay 21 sats each call.
    await driver.findElement(By.css("[data-testid=confirm-above]")).sendKeys("20");
    await driver.findElement(By.css("[data-testid=threshold-form] button[type=submit]")).click();
    await waitText(".main", "Thresholds set.");
    await open("overview", "Overview");
    await writeFile(join(work, "pick"), "Approve");
    await writeFile(join(work, "menu"), "");
    let finished = false;
    const call = agent("/fortune").then((r) => ((finished = true), r));
    let menu = "";
    for (let i = 0; i < 50 && !menu.includes("#Approve "); i++) {
      await run("dunstctl", ["context"]);
      menu = await readFile(join(work, "menu"), "utf8").catch(() => "");
      if (!menu.includes("#Approve ")) await driver.sleep(100);
    }
    const early = finished ? await call : "still waiting";
    expect(menu.includes("Approve 21 sats?"), `the notification offered: ${menu} (the agent: ${early})`);
    // Approve opened the Approvals screen, where the passphrase is asked; nothing was paid.
    await driver.wait(until.elementLocated(By.xpath(`//h1[text()="Approvals"]`)), 5000);
    const field = await driver.wait(until.elementLocated(By.css("[data-testid^=passphrase-]")), 5000);
    await driver.sleep(1000);
    expect(!finished, "a notification click did not pay the confirm-tier payment");
    await shot("approvals-confirm");
    await field.sendKeys("correct horse battery");
    await driver.findElement(By.css("[data-testid^=approve-]")).click();
    const reply = await call;
    expect(reply.startsWith("HTTP/1.1 200"), reply);
    await open("budgets", "Budgets & rules");
  });

  await check("a budget added in the UI takes effect", async () => {
    const form = await driver.findElement(By.css("[data-testid=budget-form]"));
    await form.findElement(By.css("input[name=sats]")).sendKeys("5");
    await form.findElement(By.css("button[type=submit]")).click();
    await waitText("[data-testid=budget-form]", "Budget added.");
    const reply = await agent("/fortune");
    expect(/purser-refused: budget_exceeded/i.test(reply), reply);
    await shot("budgets");
  });

  await check("CSV export writes the filtered rows", async () => {
    await open("ledger", "Ledger");
    const select = await driver.findElement(By.css("[data-testid=filter-agent]"));
    await select.findElement(By.css("option[value=demo]")).click();
    await driver.sleep(300);
    const count = await text("[data-testid=ledger-count]");
    await driver.findElement(By.css("[data-testid=export-csv]")).click();
    await waitText(".main", "Exported");
    const notice = await text(".notice.good");
    const path = notice.replace(/^Exported \d+ payments to /, "");
    const csv = (await readFile(path, "utf8")).trim().split("\n");
    const total = Number(count.split(" of ")[1].replace(/,/g, ""));
    expect(csv.length - 1 === total, `${csv.length - 1} CSV rows, ${total} shown`);
    expect(csv.slice(1).every((l) => l.split(",")[2] === "demo"), "only the filtered agent");
  });

  await check("in USD at the sandbox's play rate: amounts in sats and dollars, pay at once up to $0.05, ask above it, refuse past $1 a day", async () => {
    // The task of the allowance check is still open (its overage was denied): closed, so payments follow the
    // thresholds again.
    await open("tasks", "Tasks");
    for (const close of await driver.findElements(By.css("[data-testid^=task-close-]"))) await close.click();
    await driver.wait(async () => (await driver.findElements(By.css("[data-testid^=task-close-]"))).length === 0, 5000, "the open tasks are closed");
    await open("settings", "Settings");
    await driver.findElement(By.css("[data-testid=currency-select] option[value=USD]")).click();
    await driver.findElement(By.css("[data-testid=currency-form] button[type=submit]")).click();
    await waitText(".main", "Amounts are shown in sats and USD");
    await open("budgets", "Budgets & rules");
    // The 5-sat budget of the check before goes; the dollar limits come in.
    const fiveSats = By.xpath(`//tr[td[starts-with(normalize-space(), "5 sats ")]]//button[normalize-space()="Delete"]`);
    await driver.wait(until.elementLocated(fiveSats), 5000);
    await shot("budgets-before-usd");
    await driver.findElement(fiveSats).click();
    await driver.wait(async () => (await driver.findElements(fiveSats)).length === 0, 5000, "the 5-sat budget is deleted");
    const thresholds = await driver.findElement(By.css("[data-testid=threshold-form]"));
    await thresholds.findElement(By.css("[data-testid=limit-unit] option[value=USD]")).click();
    await thresholds.findElement(By.css("[data-testid=threshold-auto]")).sendKeys("0.05");
    await thresholds.findElement(By.css("[data-testid=threshold-ask]")).sendKeys("5");
    await thresholds.findElement(By.css("button[type=submit]")).click();
    await waitText("[data-testid=threshold-form]", "Thresholds set.");
    // $1 a day on /fortune alone: the checks before spent on other endpoints today.
    const budgets = await driver.findElement(By.css("[data-testid=budget-form]"));
    await budgets.findElement(By.css("input[placeholder='any API']")).sendKeys(`${env.PURSER_DEMO_API.replace(/^https?:\/\//, "")}/fortune`);
    await budgets.findElement(By.css("[data-testid=limit-unit] option[value=USD]")).click();
    await budgets.findElement(By.css("input[name=sats]")).sendKeys("1");
    await budgets.findElement(By.css("button[type=submit]")).click();
    await waitText("[data-testid=budget-form]", "Budget added.");
    await waitText(".main", "$1.00 (1,000 sats)");
    await waitText(".main", "$0.05 (≈ 50 sats)");
    await shot("budgets-usd");

    // 21 sats ($0.021) is paid at once; the ledger shows its value, the decision names the rate.
    const paid = await agent("/fortune");
    expect(paid.startsWith("HTTP/1.1 200"), paid);
    await open("ledger", "Ledger");
    await waitText("[data-testid=ledger-table]", "$0.021021");
    await driver.findElement(By.css("[data-testid=ledger-table] tbody tr td")).click();
    await waitText(".detail", "1 BTC = $100,000.00 (sandbox play rate");
    await shot("ledger-usd");

    // 250 sats ($0.25) waits for the person, the notification in both denominations.
    await writeFile(join(work, "pick"), "");
    await open("apis", "APIs & pricing");
    await waitText("[data-testid=credentials]", "/premium");
    for (const row of await driver.findElements(By.css("[data-testid=credentials] tbody tr"))) {
      const line = await row.getText();
      if (!line.includes("/premium") || !line.includes("demo")) continue;
      await row.findElement(By.css("button")).click();
      break;
    }
    await driver.sleep(300);
    const held = agent("/premium");
    await open("approvals", "Approvals");
    await waitText(".main", "250 sats ($0.25) for demo", 10000);
    await waitNotified("Approve 250 sats ($0.25)?", "auto-approve limit of $0.05 (50 sats)");
    await driver.findElement(By.css("[data-testid^=deny-]")).click();
    expect(/purser-refused: denied_by_user/i.test(await held), "denied");

    // $1 a day on /fortune at $100,000 a bitcoin: 21-sat calls until the one that would pass it is refused.
    let refused = "";
    for (let i = 0; i < 60 && !refused; i++) {
      const reply = await agent("/fortune");
      if (!reply.startsWith("HTTP/1.1 200")) refused = reply;
    }
    expect(/purser-refused: budget_exceeded/i.test(refused) && refused.includes("($1.00)"), refused);
    await open("overview", "Overview");
    await waitText("[data-testid=rate-line]", "1 BTC = $100,000.00 · sandbox play rate");
    await waitText("[data-testid=spent-today-fiat]", "≈ $");
    await driver.findElement(By.css("[data-testid=chart-unit] button:nth-child(2)")).click();
    await driver.sleep(300);
    await shot("overview-usd");
  });

  await check("every screen renders with real data", async () => {
    for (const [screen, heading] of [["overview", "Overview"], ["agents", "Agents"], ["apis", "APIs & pricing"], ["wallet", "Wallet"], ["settings", "Settings"]]) {
      await open(screen, heading);
      await shot(screen === "overview" ? "overview-after" : screen);
      if (screen === "wallet") {
        await waitText(".main", "Purser sandbox wallet");
        await shot("wallet");
      }
      if (screen === "apis") await waitText(".main", "127.0.0.1");
    }
  });
} finally {
  await driver.quit();
}
finish();
