// Settings: where agents connect and the approval timeout (saved to purser.toml, applied on the next
// start), the display currency shown beside sats, the passphrase that confirms large payments, notifications,
// the data directory and time zone, the team database, and Purser's CA for HTTPS.
import { useEffect, useState } from "preact/hooks";
import { api, toUiError } from "../api";
import type { ScreenProps } from "../screen";
import { Card, ErrorBox, Loading, Notice, useData } from "../components";
import { COMMON_CURRENCIES, parseSats } from "../format";
import { TeamDatabaseCard } from "./team_database";

export function SettingsScreen({ tick }: ScreenProps) {
  const { data, error, reload } = useData(() => api.settings(), [tick]);
  const [listen, setListen] = useState("");
  const [timeout, setTimeoutText] = useState("");
  const [msg, setMsg] = useState<{ error?: string; ok?: string }>({});
  useEffect(() => {
    if (data) {
      setListen(data.proxy_url.replace("http://", ""));
      setTimeoutText(String(data.approval_timeout_secs));
    }
  }, [data?.proxy_url, data?.approval_timeout_secs]);
  if (error) return <ErrorBox error={error} retry={reload} />;
  if (!data) return <Loading what="settings" />;
  const save = (e: Event) => {
    e.preventDefault();
    let secs: number;
    try {
      secs = parseSats(timeout, "Approval timeout");
      if (secs < 1) throw new Error("Approval timeout: at least 1 second");
    } catch (err) {
      return setMsg({ error: (err as Error).message.replace("sats", "seconds") });
    }
    if (!/^(127\.\d+\.\d+\.\d+|\[::1\]):\d+$/.test(listen.trim())) {
      return setMsg({ error: "Purser listens on loopback only: 127.0.0.1:PORT or [::1]:PORT." });
    }
    api.saveSettings(listen.trim(), secs).then(
      () => setMsg({ ok: `Saved to ${data.config_file}. Restart Purser to apply.` }),
      (err) => setMsg({ error: toUiError(err).message }),
    );
  };
  return (
    <div class="screen">
      <h1>Settings</h1>
      <Card title="Proxy">
        <form class="form" onSubmit={save} data-testid="settings-form">
          <label>Listen on<input value={listen} onInput={(e) => setListen(e.currentTarget.value)} /></label>
          <label>Approval timeout (seconds)<input size={6} value={timeout} onInput={(e) => setTimeoutText(e.currentTarget.value)} /></label>
          <button class="primary" type="submit">Save</button>
        </form>
        <Notice error={msg.error} ok={msg.ok} />
        <p class="muted small">
          Agents connect to <code>{data.proxy_url}</code> now. No answer within the timeout denies a payment.
        </p>
      </Card>
      <CurrencyCard current={data.currency} maxAge={data.rate_max_age_secs} sources={data.rate_sources} done={reload} />
      <PassphraseCard set={data.passphrase_set} every={data.confirm_every_approval} done={reload} />
      <Card title="Notifications">
        <label class="switch">
          <input type="checkbox" checked={data.notifications} onChange={(e) => api.setNotifications(e.currentTarget.checked).then(reload)} />
          Notify me of approvals (with Approve and Deny) and of alerts
        </label>
      </Card>
      <Card title="Data">
        <dl>
          <dt>Data directory</dt><dd class="mono">{data.data_dir}</dd>
          <dt>Config file</dt><dd class="mono">{data.config_file}</dd>
          <dt>Time zone</dt><dd>{data.time_zone} (calendar budgets; set <code>time_zone</code> in the config file)</dd>
        </dl>
      </Card>
      <TeamDatabaseCard settings={data} done={reload} />
      <Card title="HTTPS">
        <dl>
          <dt>Purser's CA</dt><dd class="mono" data-testid="ca-path">{data.ca_cert_path}</dd>
          <dt>Not inspected</dt>
          <dd>{data.pass_through.length === 0 ? "no host (pass_through is empty)" : <span class="mono">{data.pass_through.join(", ")}</span>}</dd>
        </dl>
        <p class="muted small">
          Purser reads agents' HTTPS with certificates from its own CA, made on first start and kept in the data
          directory. Agents trust it through <code>eval "$(purser env --agent NAME)"</code>, which also keeps the
          system's roots for their other HTTPS. Hosts whose clients pin certificates go in <code>pass_through</code> in
          the config file; their traffic is tunnelled untouched and listed under APIs as not inspected.
        </p>
      </Card>
    </div>
  );
}

function PassphraseCard({ set, every, done }: { set: boolean; every: boolean; done: () => void }) {
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const [again, setAgain] = useState("");
  const [msg, setMsg] = useState<{ error?: string; ok?: string }>({});
  const clear = () => (setCurrent(""), setNext(""), setAgain(""));
  const save = (remove: boolean) => (e: Event) => {
    e.preventDefault();
    if (!remove && next.length < 8) return setMsg({ error: "A passphrase needs at least 8 characters." });
    if (!remove && next !== again) return setMsg({ error: "The two new passphrases differ." });
    api.setPassphrase(set ? current : null, remove ? null : next).then(
      () => (clear(), setMsg({ ok: remove ? "Passphrase removed." : "Passphrase saved (only its Argon2id hash is kept)." }), done()),
      (err) => (setCurrent(""), setMsg({ error: toUiError(err).message })),
    );
  };
  return (
    <Card title="Passphrase">
      <form class="form" onSubmit={save(false)} data-testid="passphrase-form">
        {set && <label>Current passphrase<input type="password" autoComplete="off" data-testid="passphrase-current" value={current} onInput={(e) => setCurrent(e.currentTarget.value)} /></label>}
        <label>{set ? "New passphrase" : "Passphrase"}<input type="password" autoComplete="off" data-testid="passphrase-new" value={next} onInput={(e) => setNext(e.currentTarget.value)} /></label>
        <label>Again<input type="password" autoComplete="off" data-testid="passphrase-again" value={again} onInput={(e) => setAgain(e.currentTarget.value)} /></label>
        <button class="primary" type="submit">{set ? "Change" : "Set passphrase"}</button>
        {set && <button class="danger" type="button" onClick={save(true)}>Remove</button>}
      </form>
      <Notice error={msg.error} ok={msg.ok} />
      <label class="switch">
        <input type="checkbox" disabled={!set} checked={every && set} data-testid="confirm-every"
          onChange={(e) => api.setConfirmEveryApproval(e.currentTarget.checked).then(done, (err) => setMsg({ error: toUiError(err).message }))} />
        Every approval needs the passphrase (not only those above a threshold's passphrase limit)
      </label>
      <p class="muted small">
        {set ? "A passphrase is set." : "No passphrase is set: payments above a passphrase limit ask for their amount typed."} An
        agent on this computer can click a notification or run <code>purser approve</code>; it cannot type a passphrase it
        does not know. With one set, changes to budgets, thresholds, rules and the wallet from the command line ask for it
        too, and five wrong tries lock confirmations for five minutes.
      </p>
    </Card>
  );
}

/** The display currency: amounts everywhere in sats and in it; limits may then be set in it too. */
function CurrencyCard({ current, maxAge, sources, done }: { current: string | null; maxAge: number; sources: string[]; done: () => void }) {
  const [code, setCode] = useState(current ?? "");
  const [msg, setMsg] = useState<{ error?: string; ok?: string }>({});
  const [busy, setBusy] = useState(false);
  useEffect(() => setCode(current ?? ""), [current]);
  const save = (e: Event) => {
    e.preventDefault();
    setBusy(true);
    api.setDisplayCurrency(code.trim() === "" ? null : code.trim()).then(
      (line) => {
        setBusy(false);
        setMsg({ ok: line.currency ? `Amounts are shown in sats and ${line.currency} (1 BTC = ${line.per_btc?.toLocaleString("en-US")} ${line.currency}, from ${line.source}).` : "Amounts are shown in sats only." });
        done();
      },
      (err) => (setBusy(false), setMsg({ error: toUiError(err).message })),
    );
  };
  return (
    <Card title="Currency">
      <form class="form" onSubmit={save} data-testid="currency-form">
        <label>
          Show amounts also in
          <select data-testid="currency-select" value={COMMON_CURRENCIES.includes(code) || code === "" ? code : "other"}
            onChange={(e) => setCode(e.currentTarget.value === "other" ? "" : e.currentTarget.value)}>
            <option value="">Sats only</option>
            {COMMON_CURRENCIES.map((c) => <option value={c}>{c}</option>)}
            <option value="other">Another (type its code)</option>
          </select>
        </label>
        <label>Code<input size={4} maxLength={3} data-testid="currency-code" value={code} onInput={(e) => setCode(e.currentTarget.value.toUpperCase())} /></label>
        <button class="primary" type="submit" disabled={busy}>{busy ? "Asking the rate sources…" : "Use"}</button>
      </form>
      <Notice error={msg.error} ok={msg.ok} />
      <p class="muted small">
        Sats stay the unit of every payment. Each payment keeps the rate it was paid at, so its value never drifts
        with the price. Budgets and thresholds may be set in this currency: they convert at a rate no older than{" "}
        {Math.round(maxAge / 60)} min from {sources.join(", ")}; with no such rate, such a payment waits for you.
      </p>
    </Card>
  );
}
