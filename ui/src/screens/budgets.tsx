// Budgets & rules: create and delete budgets, thresholds and remembered rules, with validation in place;
// pause or resume all payments or one agent's.
import { useState } from "preact/hooks";
import { api, toUiError } from "../api";
import type { ScreenProps } from "../screen";
import { Card, Empty, ErrorBox, Loading, Notice, useData } from "../components";
import { dateToMs, microsAt, money, moneyShort, moneyText, parseSats, percentUsed, sats } from "../format";
import type { BudgetUse } from "../bindings/BudgetUse";
import type { Threshold } from "../bindings/Threshold";
import { PERIOD_LABELS, periodName, scopeName } from "../describe";
import type { PeriodKind } from "../bindings/PeriodKind";
import { PERIOD, PERIOD_KINDS } from "../bindings/values";


export function BudgetsScreen({ tick, refresh }: ScreenProps) {
  const { data, error, reload } = useData(() => api.budgets(), [tick]);
  const agents = useData(() => api.agents(), [tick]);
  if (error) return <ErrorBox error={error} retry={reload} />;
  if (!data) return <Loading what="budgets" />;
  const act = (p: Promise<unknown>) => p.then(refresh, () => {});
  // The display currency's price now, to show each limit in the other denomination beside its own.
  const rate = data.currency && data.per_btc ? { currency: data.currency, perBtc: data.per_btc } : null;
  return (
    <div class="screen">
      <h1>Budgets & rules</h1>
      <Card title="Pause" actions={
        <button data-testid="pause-all" class={data.paused ? "primary" : "danger"} onClick={() => act(api.setPaused(null, !data.paused))}>
          {data.paused ? "Resume all payments" : "Pause all payments"}
        </button>}>
        <p class="muted">{data.paused ? "All payments are paused." : "Payments are running."} Pause one agent:</p>
        <div class="chips">
          {agents.data?.map((a) => (
            <button class={a.agent.paused ? "chip on" : "chip"} onClick={() => act(api.setPaused(a.agent.name, !a.agent.paused))}>
              {a.agent.name}: {a.agent.paused ? "paused" : "running"}
            </button>
          ))}
        </div>
      </Card>
      <Card title="Budgets">
        {data.budgets.length === 0 ? <Empty>No budgets.</Empty> : (
          <table class="table">
            <thead><tr><th>#</th><th>Scope</th><th>Period</th><th class="num">Limit</th><th>Used</th><th /></tr></thead>
            <tbody>
              {data.budgets.map((b) => (
                <tr>
                  <td>{b.budget.id}</td>
                  <td>{scopeName(b.budget.scope)}</td>
                  <td>{periodName(b.budget.period)}</td>
                  <td class="num" data-testid="budget-limit">{limitText(b, rate)}</td>
                  <td class={b.budget.period !== "request" && b.used > b.budget.limit ? "over" : ""} data-testid="budget-used">
                    {b.budget.period === "request" ? "–" : usedText(b)}
                  </td>
                  <td><button class="link danger" onClick={() => act(api.removeBudget(b.budget.id))}>Delete</button></td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        <BudgetForm agents={agents.data?.map((a) => a.agent.name) ?? []} currency={data.currency} done={refresh} />
        <p class="muted small">
          Calendar periods follow {data.time_zone}; weeks start on Monday. A budget in a currency counts each payment
          at the rate it was paid at, and converts what is left at the rate of the moment.
        </p>
      </Card>
      <Card title="Thresholds">
        <table class="table">
          <thead><tr><th>#</th><th>Scope</th><th class="num">Pay at once up to</th><th class="num">Ask up to</th><th class="num">Passphrase above</th><th /></tr></thead>
          <tbody>
            {data.thresholds.map((t) => (
              <tr>
                <td>{t.id}</td><td>{scopeName(t.scope)}</td>
                <td class="num" data-testid="threshold-auto-max">{limit(t, t.auto_max, t.fiat?.auto_max_micros, rate)}</td>
                <td class="num">{limit(t, t.ask_max, t.fiat?.ask_max_micros, rate)}</td>
                <td class="num">{t.fiat ? limit(t, null, t.fiat.confirm_above_micros, rate) : limit(t, t.confirm_above, null, rate)}</td>
                <td><button class="link danger" onClick={() => act(api.removeThreshold(t.id))}>Delete</button></td>
              </tr>
            ))}
          </tbody>
        </table>
        <ThresholdForm agents={agents.data?.map((a) => a.agent.name) ?? []} currency={data.currency} done={refresh} />
        <p class="muted small">
          The most specific threshold that matches a payment applies. Above the ask limit, payments are refused. Above
          the passphrase limit, a click (in the app or a notification) is not enough: approving takes your passphrase
          (set it under Settings), or the amount typed while none is set.
        </p>
      </Card>
      <Card title="Remembered rules">
        {data.rules.length === 0 ? <Empty>No rules. “Approve and remember” on an approval creates one.</Empty> : (
          <ul class="plain">
            {data.rules.map((r) => (
              <li>#{r.id} approve {scopeName(r.scope)} up to {sats(r.max_per_day)} a day <span class="muted">({r.source})</span>{" "}
                <button class="link danger" onClick={() => act(api.removeRule(r.id))}>Delete</button></li>
            ))}
          </ul>
        )}
      </Card>
    </div>
  );
}

type Rate = { currency: string; perBtc: number } | null;

/** "(≈ $0.05)" beside an amount in sats, when a display currency has a rate now. */
function approx(msat: number, rate: Rate): string {
  return rate ? ` (≈ ${moneyShort(rate.currency, microsAt(msat, rate.perBtc))})` : "";
}

/** A budget's limit in its own denomination, the other beside it: "$1.00 (1,000 sats)", "500 sats (≈ $0.50)". */
function limitText(b: BudgetUse, rate: Rate): string {
  const fiat = b.budget.limit_fiat;
  if (!fiat) return sats(b.budget.limit) + approx(b.budget.limit, rate);
  return b.budget.limit > 0 ? `${money(fiat)} (${sats(b.budget.limit)})` : `${money(fiat)} (no rate now)`;
}

/** What a budget used and has left: "$0.77 (77 %) · 228 sats left", "300 sats (30 %)". */
function usedText(b: BudgetUse): string {
  const fiat = b.budget.limit_fiat;
  const held = b.budget.period === PERIOD.held ? " held there now" : "";
  if (!fiat || !b.used_fiat) return `${sats(b.used)}${held} (${percentUsed(b.used, b.budget.limit)})`;
  const percent = percentUsed(b.used_fiat.micros, fiat.micros);
  return b.budget.limit > 0
    ? `${money(b.used_fiat)} (${percent}) · ${sats(b.budget.limit - b.used)} left`
    : `${money(b.used_fiat)} (${percent})`;
}

/** A threshold's limit: "$0.05 (≈ 50 sats)" when set in a currency, else "50 sats (≈ $0.05)". */
function limit(t: Threshold, msat: number | null, micros: number | undefined | null, rate: Rate): string {
  if (!t.fiat) return msat === null ? "—" : sats(msat) + approx(msat, rate);
  if (micros === undefined || micros === null) return "—";
  const inSats = rate && rate.currency === t.fiat.currency ? ` (≈ ${sats(Math.floor((micros * 100_000) / rate.perBtc))})` : "";
  return moneyText(t.fiat.currency, micros) + inSats;
}

/** The unit a limit is typed in: sats, or the display currency when one is chosen. */
function UnitField({ currency, unit, set }: { currency: string | null; unit: string; set: (u: string) => void }) {
  if (!currency) return null;
  return (
    <label>In
      <select data-testid="limit-unit" value={unit} onChange={(e) => set(e.currentTarget.value)}>
        <option value="sats">sats</option>
        <option value={currency}>{currency}</option>
      </select>
    </label>
  );
}

/** An amount of a currency typed by a person: digits and at most six decimals. */
function parseAmount(text: string, what: string): string {
  const t = text.trim().replace(/^[$€£¥]/, "").replace(/[, ]/g, "");
  if (!/^(\d+(\.\d{0,6})?|\.\d{1,6})$/.test(t)) throw new Error(`${what}: “${text}” is not an amount such as 0.05`);
  return t;
}

function ScopeFields(props: { agents: string[]; agent: string; api: string; set: (agent: string, api: string) => void }) {
  return (
    <>
      <label>Agent
        <select value={props.agent} onChange={(e) => props.set(e.currentTarget.value, props.api)}>
          <option value="">Any agent</option>
          {props.agents.map((a) => <option value={a}>{a}</option>)}
        </select>
      </label>
      <label>API (host[:port][/path])
        <input placeholder="any API" value={props.api} onInput={(e) => props.set(props.agent, e.currentTarget.value)} />
      </label>
    </>
  );
}

function BudgetForm({ agents, currency, done }: { agents: string[]; currency: string | null; done: () => void }) {
  const [unit, setUnit] = useState("sats");
  const [agent, setAgent] = useState("");
  const [apiScope, setApi] = useState("");
  const [period, setPeriod] = useState<PeriodKind>(PERIOD.day);
  const [hours, setHours] = useState("6");
  const [amount, setAmount] = useState("");
  const [expires, setExpires] = useState("");
  const [msg, setMsg] = useState<{ error?: string; ok?: string }>({});
  const submit = (e: Event) => {
    e.preventDefault();
    let sats = 0;
    let fiat = null;
    let h: number | null = null;
    try {
      if (unit === "sats") sats = parseSats(amount, "Limit");
      else fiat = { currency: unit, amount: parseAmount(amount, "Limit") };
      if (period === PERIOD.rolling) h = parseSats(hours, "Hours");
    } catch (err) {
      return setMsg({ error: (err as Error).message });
    }
    api.addBudget({ agent: agent || null, api: apiScope || null, period, hours: h, sats, fiat, expires_at_ms: dateToMs(expires) })
      .then(() => (setMsg({ ok: "Budget added." }), setAmount(""), done()), (err) => setMsg({ error: toUiError(err).message }));
  };
  return (
    <form class="form" onSubmit={submit} data-testid="budget-form">
      <ScopeFields agents={agents} agent={agent} api={apiScope} set={(a, p) => (setAgent(a), setApi(p))} />
      <label>Period
        <select value={period} onChange={(e) => setPeriod(e.currentTarget.value as PeriodKind)}>
          {PERIOD_KINDS.map((k) => <option value={k}>{PERIOD_LABELS[k]}</option>)}
        </select>
      </label>
      {period === PERIOD.rolling && <label>Hours<input size={4} value={hours} onInput={(e) => setHours(e.currentTarget.value)} /></label>}
      {period === PERIOD.held && (
        <p class="muted small" data-testid="held-hint">
          Caps what one API holds at once: session deposits it has not drawn yet and refunds still awaited. Name the
          API; each call drawn from a deposit frees room, and so does a refund.
        </p>
      )}
      <UnitField currency={currency} unit={unit} set={setUnit} />
      <label>Limit ({unit})<input name="sats" size={8} value={amount} onInput={(e) => setAmount(e.currentTarget.value)} /></label>
      <label>Expires<input type="date" value={expires} onInput={(e) => setExpires(e.currentTarget.value)} /></label>
      <button class="primary" type="submit">Add budget</button>
      <Notice error={msg.error} ok={msg.ok} />
    </form>
  );
}

function ThresholdForm({ agents, currency, done }: { agents: string[]; currency: string | null; done: () => void }) {
  const [unit, setUnit] = useState("sats");
  const [agent, setAgent] = useState("");
  const [apiScope, setApi] = useState("");
  const [auto, setAuto] = useState("");
  const [ask, setAsk] = useState("");
  const [confirm, setConfirm] = useState("");
  const [msg, setMsg] = useState<{ error?: string; ok?: string }>({});
  const submit = (e: Event) => {
    e.preventDefault();
    if (unit !== "sats") {
      let fiat;
      try {
        fiat = {
          currency: unit,
          auto: parseAmount(auto, "Pay at once up to"),
          ask: parseAmount(ask, "Ask up to"),
          confirm_above: confirm.trim() === "" ? null : parseAmount(confirm, "Passphrase above"),
        };
      } catch (err) {
        return setMsg({ error: (err as Error).message });
      }
      return void api.setThreshold({ agent: agent || null, api: apiScope || null, auto_sats: 0, ask_sats: 0, confirm_above_sats: null, fiat })
        .then(() => (setMsg({ ok: "Thresholds set." }), done()), (err) => setMsg({ error: toUiError(err).message }));
    }
    let a: number, k: number, c: number | null;
    try {
      a = parseSats(auto, "Pay at once up to");
      k = parseSats(ask, "Ask up to");
      c = confirm.trim() === "" ? null : parseSats(confirm, "Passphrase above");
    } catch (err) {
      return setMsg({ error: (err as Error).message });
    }
    if (k < a) return setMsg({ error: "“Ask up to” cannot be below “Pay at once up to”." });
    if (c !== null && c >= k) return setMsg({ error: "“Passphrase above” must be below “Ask up to”: above it payments are refused." });
    api.setThreshold({ agent: agent || null, api: apiScope || null, auto_sats: a, ask_sats: k, confirm_above_sats: c, fiat: null })
      .then(() => (setMsg({ ok: "Thresholds set." }), done()), (err) => setMsg({ error: toUiError(err).message }));
  };
  return (
    <form class="form" onSubmit={submit} data-testid="threshold-form">
      <ScopeFields agents={agents} agent={agent} api={apiScope} set={(a, p) => (setAgent(a), setApi(p))} />
      <UnitField currency={currency} unit={unit} set={setUnit} />
      <label>Pay at once up to ({unit})<input size={6} data-testid="threshold-auto" value={auto} onInput={(e) => setAuto(e.currentTarget.value)} /></label>
      <label>Ask up to ({unit})<input size={6} data-testid="threshold-ask" value={ask} onInput={(e) => setAsk(e.currentTarget.value)} /></label>
      <label>Passphrase above ({unit}, optional)<input size={6} data-testid="confirm-above" value={confirm} onInput={(e) => setConfirm(e.currentTarget.value)} /></label>
      <button class="primary" type="submit">Set thresholds</button>
      <Notice error={msg.error} ok={msg.ok} />
    </form>
  );
}
