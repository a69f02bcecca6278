// Tasks: the allowances agents asked for (answered here: approve, with a lower maximum or a shorter time, or
// deny), those running with a live progress bar (sats used of the maximum, calls, time left) and Close, and
// those that ended with their summary. A person can also open one for an agent.
import { useState } from "preact/hooks";
import { api, toUiError } from "../api";
import { openLedgerWith, type ScreenProps } from "../screen";
import { Card, Empty, ErrorBox, Loading, Notice, useData } from "../components";
import { budgetUse, localTime, money, parseSats, percentUsed, sats, useClock } from "../format";
import type { Allowance } from "../bindings/Allowance";

type Quote = {
  calls: { method: string; url: string; count: number; published_msat: number | null; usual: { median_msat: number; highest_msat: number } | null; policy: { decision: string } }[];
  total: { lowest_msat: number; expected_msat: number; highest_msat: number; sources: string[]; unpriced: string[] };
};

export function TasksScreen({ tick, refresh, go }: ScreenProps) {
  const { data, error, reload } = useData(() => api.allowances(true), [tick]);
  const settings = useData(() => api.settings(), [tick]);
  useClock(1000);
  if (error) return <ErrorBox error={error} retry={reload} />;
  if (!data) return <Loading what="tasks" />;
  const requested = data.filter((a) => a.state === "requested");
  const running = data.filter((a) => a.state === "active" || a.state === "exhausted");
  const ended = data.filter((a) => !["requested", "active", "exhausted"].includes(a.state));
  const passphraseSet = settings.data?.passphrase_set ?? false;
  return (
    <div class="screen">
      <h1>Tasks</h1>
      <p class="muted">
        An allowance is a task's maximum, approved once: the agent's payments within it go ahead without asking;
        one that would pass it waits for you. Budgets, pauses, ask limits and price checks still apply.
      </p>
      {requested.map((a) => <AllowanceRequest key={a.id} a={a} passphraseSet={passphraseSet} done={refresh} />)}
      <Card title="Running">
        {running.length === 0 ? <Empty>No task is running under an allowance.</Empty> : running.map((a) => (
          <Running key={a.id} a={a} done={refresh} payments={() => openLedgerWith({ allowance_id: a.id }, go)} />
        ))}
      </Card>
      <OpenForm done={refresh} passphraseSet={passphraseSet} />
      {ended.length > 0 && (
        <Card title="Ended">
          <table class="table" data-testid="tasks-ended">
            <thead><tr><th>Task</th><th>Agent</th><th>State</th><th class="num">Spent</th><th class="num">Calls</th><th>Ended</th></tr></thead>
            <tbody>
              {ended.map((a) => (
                <tr onClick={() => openLedgerWith({ allowance_id: a.id }, go)}>
                  <td>#{a.id} {a.purpose}</td>
                  <td>{a.agent}</td>
                  <td>{a.state}</td>
                  <td class="num">{sats(a.used_msat)} of {sats(a.max_msat)}</td>
                  <td class="num">{a.calls}</td>
                  <td class="nowrap">{localTime(new Date(a.closed_at_ms ?? a.expires_at_ms).toISOString())}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </Card>
      )}
    </div>
  );
}

function minutesLeft(a: Allowance): string {
  const s = Math.max(0, Math.round((a.expires_at_ms - Date.now()) / 1000));
  return s >= 3600 ? `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min left` : s >= 60 ? `${Math.floor(s / 60)} min left` : `${s} s left`;
}

/** An allowance an agent asks for: what for, how much, the quote; the person approves (maybe lower) or denies. */
export function AllowanceRequest({ a, passphraseSet, done }: { a: Allowance; passphraseSet: boolean; done: () => void }) {
  // An allowance asked in a currency is answered in it.
  const fiat = a.asked_max_fiat;
  const [max, setMax] = useState(fiat ? String(fiat.micros / 1_000_000) : String(a.asked_max_msat / 1000));
  const [minutes, setMinutes] = useState(String(Math.round(a.asked_duration_ms / 60_000)));
  const [secret, setSecret] = useState("");
  const [err, setErr] = useState<string | null>(null);
  const quote = (a.plan as { quote?: Quote } | null)?.quote;
  const agents = useData(() => api.agents(), []);
  const spent = agents.data?.find((v) => v.agent.name === a.agent)?.spent_msat;
  const decide = (approve: boolean) => {
    let maxSats: number | null = null;
    let maxFiat: string | null = null;
    let mins = 0;
    try {
      if (fiat) {
        if (!/^\d*(\.\d{0,6})?$/.test(max.trim()) || max.trim() === "") throw new Error(`The maximum: “${max}” is not an amount such as 1.50`);
        maxFiat = `${max.trim()} ${fiat.currency}`;
      } else {
        maxSats = parseSats(max, "The maximum");
      }
      mins = parseSats(minutes, "The time limit");
    } catch (e) {
      return setErr((e as Error).message);
    }
    api.decideAllowance(a.id, {
      approve, max_sats: maxSats, max_fiat: maxFiat, time_limit_secs: mins * 60,
      passphrase: secret && passphraseSet ? secret : null,
      typed_sats: secret && !passphraseSet ? Number(secret.replace(/[,_ ]/g, "")) : null,
    }).then(done, (e) => setErr(toUiError(e).message));
  };
  return (
    <Card class="approval" title={`Allowance asked: up to ${fiat ? money(fiat) : sats(a.asked_max_msat)} for ${a.agent}`}>
      <p data-testid={`allowance-purpose-${a.id}`}>
        “{a.purpose}”{a.apis.length > 0 && <span class="muted"> · on {a.apis.join(", ")}</span>}
        <span class="muted"> · for {Math.round(a.asked_duration_ms / 60_000)} min{spent !== undefined && ` · ${a.agent} has spent ${sats(spent)} so far`}</span>
      </p>
      {quote && (
        <div data-testid={`allowance-quote-${a.id}`}>
          <p>
            Quote: <strong>{sats(quote.total.expected_msat)}</strong> expected ({sats(quote.total.lowest_msat)} to {sats(quote.total.highest_msat)}, from {quote.total.sources.join(" and ") || "no known price"})
            {quote.total.unpriced.length > 0 && <span class="bad"> · no known price: {quote.total.unpriced.join(", ")}</span>}
          </p>
          <table class="table inner">
            <thead><tr><th>Call</th><th class="num">Count</th><th class="num">Published</th><th class="num">Usual</th><th>Today</th></tr></thead>
            <tbody>
              {quote.calls.map((c) => (
                <tr>
                  <td class="mono request">{c.method} {c.url}</td>
                  <td class="num">{c.count}</td>
                  <td class="num">{sats(c.published_msat)}</td>
                  <td class="num">{c.usual ? sats(c.usual.median_msat) : "–"}</td>
                  <td>{c.policy.decision}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <div class="actions">
        <label>Up to <input size={7} data-testid={`allowance-max-${a.id}`} value={max} onInput={(e) => setMax(e.currentTarget.value)} /> {fiat ? fiat.currency : "sats"}</label>
        <label>for <input size={4} data-testid={`allowance-minutes-${a.id}`} value={minutes} onInput={(e) => setMinutes(e.currentTarget.value)} /> min</label>
        <label>{passphraseSet ? "Passphrase (above the confirm limit)" : "Amount typed (above the confirm limit)"}
          <input type={passphraseSet ? "password" : "text"} size={12} autoComplete="off" value={secret} onInput={(e) => setSecret(e.currentTarget.value)} />
        </label>
      </div>
      <div class="actions">
        <button class="primary" data-testid={`allowance-approve-${a.id}`} onClick={() => decide(true)}>Approve</button>
        <button class="danger" data-testid={`allowance-deny-${a.id}`} onClick={() => decide(false)}>Deny</button>
        <span class="muted">You may lower the maximum or shorten the time, not raise them.</span>
      </div>
      <Notice error={err} />
    </Card>
  );
}

function Running({ a, done, payments }: { a: Allowance; done: () => void; payments: () => void }) {
  const [err, setErr] = useState<string | null>(null);
  // In a currency: what its payments were worth (each at its own rate) against its maximum in money.
  const inFiat = a.max_fiat && a.used_fiat ? { used: a.used_fiat, max: a.max_fiat } : null;
  const use = inFiat ? budgetUse(inFiat.used.micros, inFiat.max.micros) : budgetUse(a.used_msat, a.max_msat);
  return (
    <div class="task" data-testid={`task-${a.id}`}>
      <div class="task-head">
        <strong>#{a.id} “{a.purpose}”</strong> <span class="muted">agent {a.agent}{a.apis.length > 0 ? ` · ${a.apis.join(", ")}` : ""}</span>
        <span class="task-actions">
          <button class="link" onClick={payments}>Payments</button>
          <button data-testid={`task-close-${a.id}`} onClick={() => api.closeAllowance(a.id).then(done, (e) => setErr(toUiError(e).message))}>Close</button>
        </span>
      </div>
      <div class="task-figures" data-testid={`task-progress-${a.id}`}>
        {inFiat
          ? `${money(inFiat.used)} of ${money(inFiat.max)} (${percentUsed(inFiat.used.micros, inFiat.max.micros)}, ${sats(a.used_msat)})`
          : `${sats(a.used_msat)} of ${sats(a.max_msat)} (${percentUsed(a.used_msat, a.max_msat)})`} · {a.calls} call{a.calls === 1 ? "" : "s"} · {minutesLeft(a)}
        {a.state === "exhausted" && <span class="bad"> · used up: further payments wait for you</span>}
      </div>
      <div class="bar"><div class={`fill ${use.tone}`} style={{ width: `${use.width}%` }} /></div>
      <Notice error={err} />
    </div>
  );
}

function OpenForm({ done, passphraseSet }: { done: () => void; passphraseSet: boolean }) {
  const agents = useData(() => api.agents(), []);
  const settings = useData(() => api.settings(), []);
  const currency = settings.data?.currency ?? null;
  const [form, setForm] = useState({ agent: "", purpose: "", max: "", minutes: "60", secret: "", unit: "sats" });
  const [notice, setNotice] = useState<{ error?: string; ok?: string }>({});
  const submit = (e: Event) => {
    e.preventDefault();
    let maxSats = 0;
    let fiat = null;
    let mins = 0;
    try {
      if (form.unit === "sats") maxSats = parseSats(form.max, "The maximum");
      else if (/^\d*(\.\d{0,6})?$/.test(form.max.trim()) && form.max.trim() !== "") fiat = { currency: form.unit, amount: form.max.trim() };
      else throw new Error(`The maximum: “${form.max}” is not an amount such as 2.50`);
      mins = parseSats(form.minutes, "The time limit");
    } catch (err) {
      return setNotice({ error: (err as Error).message });
    }
    const agent = form.agent || agents.data?.[0]?.agent.name || "";
    api.openAllowance({
      agent, purpose: form.purpose, max_sats: maxSats, per_payment_sats: null, fiat, apis: [], time_limit_secs: mins * 60,
      passphrase: form.secret && passphraseSet ? form.secret : null,
      typed_sats: form.secret && !passphraseSet ? Number(form.secret.replace(/[,_ ]/g, "")) : null,
    }).then((a) => (setNotice({ ok: `Allowance #${a.id} is open.` }), setForm({ ...form, purpose: "", max: "", secret: "" }), done()),
      (err) => setNotice({ error: toUiError(err).message }));
  };
  return (
    <Card title="Open an allowance for an agent">
      <form class="form" data-testid="allowance-form" onSubmit={submit}>
        <label>Agent
          <select value={form.agent || agents.data?.[0]?.agent.name} onChange={(e) => setForm({ ...form, agent: e.currentTarget.value })}>
            {agents.data?.map((a) => <option value={a.agent.name}>{a.agent.name}</option>)}
          </select>
        </label>
        <label>Task<input name="purpose" placeholder="summarise 20 papers" value={form.purpose} onInput={(e) => setForm({ ...form, purpose: e.currentTarget.value })} /></label>
        {currency && (
          <label>In
            <select data-testid="allowance-unit" value={form.unit} onChange={(e) => setForm({ ...form, unit: e.currentTarget.value })}>
              <option value="sats">sats</option>
              <option value={currency}>{currency}</option>
            </select>
          </label>
        )}
        <label>Up to ({form.unit})<input name="max" size={7} value={form.max} onInput={(e) => setForm({ ...form, max: e.currentTarget.value })} /></label>
        <label>For (min)<input name="minutes" size={4} value={form.minutes} onInput={(e) => setForm({ ...form, minutes: e.currentTarget.value })} /></label>
        <label>{passphraseSet ? "Passphrase (if above the confirm limit)" : "Amount typed (if above the confirm limit)"}
          <input type={passphraseSet ? "password" : "text"} size={12} autoComplete="off" value={form.secret} onInput={(e) => setForm({ ...form, secret: e.currentTarget.value })} />
        </label>
        <button class="primary" type="submit">Open</button>
      </form>
      <Notice error={notice.error} ok={notice.ok} />
    </Card>
  );
}
