// Team mode end to end, as the README's "Team mode" has a person set it up: a team database on the test
// PostgreSQL server (PURSER_TEST_POSTGRES, which scripts/test starts), two `purser serve` instances with a
// serving login paying with the sandbox's wallet, their agents as real curl, and the real app connected from
// Settings with a supervisor's login: its ledger shows both machines, a payment held on one is approved in
// its window, and one daily budget holds across both. Run through scripts/e2e.
import { spawn } from "node:child_process";
import { readFile } from "node:fs/promises";
import { createInterface } from "node:readline";
import { join } from "node:path";
import { By, until } from "selenium-webdriver";
import { run, startApp } from "./app_driver.mjs";
import { check, expect, finish } from "./checks.mjs";

const server = process.env.PURSER_TEST_POSTGRES;
const work = process.env.PURSER_E2E_WORK;
const cli = process.env.PURSER_E2E_CLI;
if (!server) {
  console.log("team mode end to end: PURSER_TEST_POSTGRES names no server (scripts/test starts one); nothing checked");
  process.exit(0);
}

const children = [];
/** Starts `cmd`, keeps it to stop at the end, and resolves with its first stdout lines as `key=value`s. */
async function startLines(cmd, args, env, count) {
  const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "inherit"] });
  children.push(child);
  const found = {};
  for await (const line of createInterface({ input: child.stdout })) {
    const m = line.match(/^(\w+)=(.*)$/);
    if (m) found[m[1]] = m[2];
    if (Object.keys(found).length === count) break;
  }
  return found;
}
const freePort = async () => (await run("python3", ["-c", "import socket; s=socket.socket(); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])"])).stdout.trim();
async function waitPort(port) {
  for (let i = 0; i < 200; i++) {
    if (await run("bash", ["-c", `exec 3<>/dev/tcp/127.0.0.1/${port}`]).then(() => true, () => false)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`nothing listens on ${port}`);
}
const purser = (dir, url, ...args) => run(cli, ["--data-dir", join(work, dir), "--database", url, ...args]);
const psql = (url, sql) => run("psql", ["-q", "-v", "ON_ERROR_STOP=1", url, "-c", sql]);

// The team's database, made by its owner, with a login per role (roles are the server's, so named anew).
const suffix = Math.random().toString(36).slice(2, 8);
const base = new URL(server);
const at = (login, password = "") => {
  const u = new URL(base);
  u.pathname = `/team_${suffix}`;
  u.username = login;
  u.password = password;
  return u.toString();
};
const owner = at(base.username);
await psql(server, `CREATE DATABASE team_${suffix}`);
await purser("owner", owner, "ledger");
const [boxLogin, alice] = [`box_${suffix}`, `alice_${suffix}`];
await psql(owner, `CREATE ROLE ${boxLogin} LOGIN IN ROLE purser_serving; CREATE ROLE ${alice} LOGIN PASSWORD 'alice team pw' IN ROLE purser_supervisor`);
// Up to 5 sats paid at once, up to 1,000 asked; 40 sats a day for all agents on all machines.
await purser("owner", owner, "threshold", "set", "--auto", "5", "--ask", "1000");
await purser("owner", owner, "budget", "add", "--period", "day", "--sats", "40");
const keys = {};
for (const name of ["research", "builder"]) {
  keys[name] = (await purser("owner", owner, "agent", "add", name)).stdout.match(/with key ([0-9a-f]+)/)[1];
}

const parts = await startLines(process.env.PURSER_E2E_PARTS, [], {}, 2);
const boxes = {};
for (const name of ["box1", "box2"]) {
  const port = await freePort();
  children.push(spawn(cli, ["--data-dir", join(work, name), "serve", "--listen", `127.0.0.1:${port}`], {
    env: { ...process.env, PURSER_DATABASE_URL: at(boxLogin), PURSER_INSTANCE: name, PURSER_NWC_URI: parts.wallet_uri, PURSER_LOG: "warn" },
    stdio: "ignore",
  }));
  boxes[name] = port;
}
await Promise.all(Object.values(boxes).map(waitPort));
/** An agent's call through a box, with curl: the answer's status line, headers and body. */
async function call(agentName, box, path) {
  const proxy = `http://${agentName}:${keys[agentName]}@127.0.0.1:${boxes[box]}`;
  const { stdout } = await run("curl", ["-s", "-i", "-x", proxy, `http://${parts.demo}${path}`], { env: { ...process.env, no_proxy: "", NO_PROXY: "" } }).catch((e) => e);
  return stdout ?? "";
}

const laptop = join(work, "laptop");
let app = await startApp(["--data-dir", laptop, "--listen", "127.0.0.1:0"]);
try {
  await check("team: an agent on each instance pays through the team's database", async () => {
    expect((await call("research", "box1", "/joke")).startsWith("HTTP/1.1 200"), "box1's joke");
    expect((await call("builder", "box2", "/joke")).startsWith("HTTP/1.1 200"), "box2's joke");
  });

  await check("team: Settings checks the team database, then connects this desktop to it", async () => {
    const { driver, waitText, open, shot } = app;
    await open("settings", "Settings");
    await driver.findElement(By.css("[data-testid=team-url]")).sendKeys(at(boxLogin));
    await driver.findElement(By.css("[data-testid=team-form] button[type=submit]")).click();
    await waitText(".main", "A desktop needs a supervisor's login", 15000);
    const url = await driver.findElement(By.css("[data-testid=team-url]"));
    await url.clear();
    await url.sendKeys(at(alice));
    await driver.findElement(By.css("[data-testid=team-password]")).sendKeys("alice team pw");
    const name = await driver.findElement(By.css("[data-testid=team-instance]"));
    await name.clear();
    await name.sendKeys("laptop");
    await driver.findElement(By.css("[data-testid=team-form] button[type=submit]")).click();
    await waitText("[data-testid=team-machines]", "box1 (1)", 15000);
    await waitText("[data-testid=team-machines]", "box2 (1)");
    await waitText("[data-testid=team-check]", "a supervisor");
    await shot("team-settings-check");
    await driver.findElement(By.css("[data-testid=team-connect]")).click();
    await driver.wait(until.elementLocated(By.css("[data-testid=team-restart]")), 15000);
    const toml = await readFile(join(laptop, "purser.toml"), "utf8");
    expect(toml.includes(`postgres://${alice}@`) && toml.includes('instance = "laptop"'), toml);
    expect(!/alice(%20| )team(%20| )pw/.test(toml), "the password is not in purser.toml, plain or encoded");
  });

  // Started again on the same data directory, as "Restart now" does (a restart would end the WebDriver session).
  await app.driver.quit();
  app = await startApp(["--data-dir", laptop, "--listen", "127.0.0.1:0"]);

  await check("team: after the restart the desktop's ledger shows both machines' payments", async () => {
    const { open, waitText, shot } = app;
    await open("settings", "Settings");
    await waitText("[data-testid=team-current]", `team_${suffix}`, 15000);
    await waitText("[data-testid=team-current]", "laptop");
    await open("ledger", "Ledger");
    await waitText("[data-testid=ledger-table]", "box1");
    await waitText("[data-testid=ledger-table]", "box2");
    await shot("team-ledger");
  });

  await check("team: a payment held on box1 is approved in the desktop's window and pays", async () => {
    const { driver, open, waitText, shot } = app;
    const held = call("research", "box1", "/fortune");
    await open("approvals", "Approvals");
    await waitText("[data-testid=approval-machine]", "Waiting on box1", 15000);
    await shot("team-approvals");
    await driver.findElement(By.css("[data-testid^=approve-team-]")).click();
    const reply = await held;
    expect(reply.startsWith("HTTP/1.1 200"), reply);
  });

  await check("team: one daily budget holds across both machines", async () => {
    // 1 + 1 + 21 sats (and fees) are spent of 40: box2's 21-sat call would pass it and is refused.
    const reply = await call("builder", "box2", "/fortune");
    expect(/purser-refused: budget_exceeded/i.test(reply), reply);
    const { stdout } = await purser("owner", owner, "ledger", "--json");
    const spent = JSON.parse(stdout).filter((p) => p.status === "settled").reduce((s, p) => s + p.amount_msat + (p.fee_msat ?? 0), 0);
    expect(spent <= 40_000, `${spent} msat spent against a 40-sat budget`);
  });
} finally {
  await app.driver.quit();
  for (const c of children) c.kill();
}
finish();
