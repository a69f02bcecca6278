// Settings' team database: which ledger this desktop keeps (this machine's file or a team's PostgreSQL),
// a check of a database before connecting (server, login and role, schema, whose payments are there),
// connecting and leaving (saved to purser.toml, the password to the OS keyring), and a restart to apply.
import { useState } from "preact/hooks";
import { api, toUiError } from "../api";
import { Card, Notice } from "../components";
import type { SettingsView } from "../bindings/SettingsView";
import type { TeamDatabaseCheck } from "../bindings/TeamDatabaseCheck";
import type { TeamRole } from "../bindings/TeamRole";
import type { TeamSchema } from "../bindings/TeamSchema";

const ROLE: Record<TeamRole, string> = {
  owner: "the database's owner: may do everything, and makes the schema",
  supervisor: "a supervisor (purser_supervisor): changes policy and keys, decides approvals",
  serving: "a serving instance's (purser_serving): records payments, decides nothing",
  none: "in no Purser role: Purser's tables are not open to it",
};

const SCHEMA: Record<TeamSchema, string> = {
  current: "up to date",
  will_be_updated: "will be made or brought up to date when this desktop connects",
  needs_update_by_supervisor: "older than this Purser: a supervisor or the owner must connect first",
  newer: "made by a newer Purser: update this one first",
  unreadable: "not readable with this login",
};

/** Whether this login can run a supervisor's desktop (the shell checks the same before saving). */
function refusal(c: TeamDatabaseCheck): string | null {
  if (c.role === "serving" || c.role === "none") return `Login ${c.login} is ${ROLE[c.role]}. A desktop needs a supervisor's login.`;
  if (c.schema === "newer") return SCHEMA.newer;
  return null;
}

function CheckResult({ check }: { check: TeamDatabaseCheck }) {
  const machines = check.machines.length === 0
    ? "no payments yet"
    : check.machines.map((m) => `${m.name} (${m.payments.toLocaleString("en-US")})`).join(", ");
  return (
    <dl data-testid="team-check">
      <dt>Server</dt><dd>{check.server_version} at <span class="mono">{check.shown_url}</span></dd>
      <dt>Connection</dt>
      <dd class={!check.tls && !check.on_this_machine ? "bad" : ""} data-testid="team-connection">
        {check.tls
          ? (check.tls_verified ? "TLS, certificate verified" : "TLS, certificate not verified (the URL's sslmode)")
          : check.on_this_machine
            ? "not encrypted (a server on this machine)"
            : "NOT encrypted: the URL's sslmode sends the password and the ledger across the network in the clear"}
      </dd>
      <dt>Login</dt><dd><span class="mono">{check.login}</span>: {ROLE[check.role]}</dd>
      <dt>Schema</dt><dd>{SCHEMA[check.schema]}</dd>
      <dt>Payments from</dt><dd data-testid="team-machines">{machines}</dd>
    </dl>
  );
}

export function TeamDatabaseCard({ settings, done }: { settings: SettingsView; done: () => void }) {
  const [url, setUrl] = useState(settings.team_database ?? "");
  const [password, setPassword] = useState("");
  const [instance, setInstance] = useState(settings.instance);
  const [check, setCheck] = useState<TeamDatabaseCheck | null>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const [msg, setMsg] = useState<{ error?: string; ok?: string }>({});
  const [restartDue, setRestartDue] = useState(false);
  const fail = (err: unknown) => (setBusy(null), setMsg({ error: toUiError(err).message }));
  const pw = password === "" ? null : password;
  const runCheck = (e: Event) => {
    e.preventDefault();
    setBusy("Checking…"), setMsg({}), setCheck(null);
    api.checkTeamDatabase(url.trim(), pw).then((c) => {
      setBusy(null), setCheck(c);
      const why = refusal(c);
      setMsg(why ? { error: why } : { ok: "This desktop can connect to this database." });
    }, fail);
  };
  const connect = () => {
    setBusy("Connecting…"), setMsg({});
    api.connectTeamDatabase(url.trim(), pw, instance.trim()).then((c) => {
      setBusy(null), setCheck(c), setPassword(""), setRestartDue(true);
      setMsg({ ok: `Saved: after a restart this desktop keeps its ledger in ${c.shown_url}, as ${instance.trim() || settings.instance}. The password is in the OS keyring.` });
      done();
    }, fail);
  };
  const leave = () => {
    if (!confirm("Go back to this machine's own ledger file after a restart? The team database keeps everything it holds.")) return;
    api.leaveTeamDatabase().then(() => {
      setRestartDue(true), setCheck(null);
      setMsg({ ok: "Saved: after a restart this desktop uses this machine's own ledger file again." });
      done();
    }, fail);
  };
  const fixed = settings.database_chosen_by;
  return (
    <Card title="Team database">
      <p data-testid="team-current">
        {settings.team_database
          ? <>The ledger, budgets and approvals are shared in <span class="mono">{settings.team_database}</span>; this machine's payments are recorded as <b>{settings.instance}</b>.</>
          : <>The ledger is this machine's own file. A team whose agents run on several machines shares one ledger, budgets and approvals on PostgreSQL.</>}
      </p>
      {fixed ? (
        <p class="muted small">The database is chosen by {fixed}, which wins over purser.toml: Settings cannot change it.</p>
      ) : (
        <>
          <form class="form" onSubmit={runCheck} data-testid="team-form">
            <label>Database URL<input size={40} placeholder="postgres://alice@db.example.com:5432/purser" data-testid="team-url" value={url} onInput={(e) => setUrl(e.currentTarget.value)} /></label>
            <label>Password<input type="password" autoComplete="off" data-testid="team-password" placeholder={settings.team_database ? "(kept)" : ""} value={password} onInput={(e) => setPassword(e.currentTarget.value)} /></label>
            <label>This machine's name<input size={14} data-testid="team-instance" value={instance} onInput={(e) => setInstance(e.currentTarget.value)} /></label>
            <button type="submit" disabled={busy !== null || url.trim() === ""}>{busy === "Checking…" ? busy : "Check"}</button>
            <button class="primary" type="button" data-testid="team-connect" disabled={busy !== null || !check || refusal(check) !== null} onClick={connect}>
              {busy === "Connecting…" ? busy : "Connect"}
            </button>
            {settings.team_database && <button class="danger" type="button" data-testid="team-leave" onClick={leave}>Leave</button>}
          </form>
          {check && <CheckResult check={check} />}
          <Notice error={msg.error} ok={msg.ok} />
          {restartDue && (
            <p>
              <button class="primary" data-testid="team-restart" onClick={() => api.restart().catch(fail)}>Restart now</button>{" "}
              <span class="muted small">Payments waiting for you are denied, as when Purser quits.</span>
            </p>
          )}
          <p class="muted small">
            Check connects once and changes nothing. A server on another machine is reached over TLS with its
            certificate verified. The login needs to be a supervisor's (see "Team mode" in the README for the
            roles); servers that only serve agents use <code>purser serve</code> with a serving login.
          </p>
        </>
      )}
    </Card>
  );
}
