// Overview: what needs the person (no wallet, a budget used up, a pause, a tripped breaker, repeated
// refusals, each with its fix), spent today / this week / this month against budgets, spend per day by API or
// agent (in sats or the display currency), what is held at APIs (session deposits, with each session's draws
// and a Close button), what waits for approval, recent alerts, the wallet, and the display currency's rate (its
// source and age).
import { useEffect, useRef, useState } from "preact/hooks";
import { api } from "../api";
import { openLedgerWith, type Screen, type ScreenProps } from "../screen";
import type { Overview } from "../bindings/Overview";
import type { WalletStatus } from "../bindings/WalletStatus";
import { periodName, scopeName, words } from "../describe";
import { Card, Empty, ErrorBox, Loading, useData } from "../components";
import { ago, budgetUse, feeText, microsAt, money, moneyShort, moneyText, percentUsed, sats, satsWhole, useClock } from "../format";
import type { BudgetUse } from "../bindings/BudgetUse";
import type { RateLine } from "../bindings/RateLine";
import { drawSpendChart } from "../chart";
import type { GroupBy } from "../bindings/GroupBy";
import type { SessionInfo } from "../bindings/SessionInfo";

type Attention = { text: string; fix: string; run: () => void };

/** Everything that stops an agent's payments now, each with the one action that fixes it. */
function attention(o: Overview, wallet: WalletStatus | null, go: (s: Screen) => void, reload: () => void): Attention[] {
  const items: Attention[] = [];
  if (wallet && !wallet.connected) {
    items.push({ text: "No wallet is connected: every payment an agent needs is refused.", fix: "Connect a wallet", run: () => go("wallet") });
  }
  if (o.paused) {
    items.push({ text: "All payments are paused.", fix: "Resume", run: () => void api.setPaused(null, false).then(reload) });
  }
  for (const name of o.paused_agents) {
    items.push({ text: `Agent ${name}'s payments are paused.`, fix: "Resume", run: () => void api.setPaused(name, false).then(reload) });
  }
  for (const b of o.budgets.filter((b) => b.budget.period !== "request" && b.budget.limit > 0 && b.used >= b.budget.limit)) {
    const used = percentUsed(b.used, b.budget.limit);
    items.push({
      text: b.budget.period === "held"
        ? `${cap(scopeName(b.budget.scope))} holds all its budget allows (${used}): new deposits there are refused until it draws or refunds.`
        : `The ${periodName(b.budget.period)} budget of ${scopeName(b.budget.scope).replace(/^whole wallet$/, "the whole wallet")} is used up (${used}): its payments are refused.`,
      fix: "Budgets",
      run: () => go("budgets"),
    });
  }
  for (const t of o.breakers) {
    items.push({ text: `Payments to ${t.host}${t.path} are stopped: ${t.reason}.`, fix: "Let them go ahead", run: () => void api.resetBreaker(t.host, t.path).then(reload) });
  }
  if (o.totals.refused_count_today >= 3) {
    items.push({ text: `${o.totals.refused_count_today} payments were refused today.`, fix: "See them", run: () => openLedgerWith({ status: "refused" }, go) });
  }
  return items;
}

export function OverviewScreen({ tick, go }: ScreenProps) {
  const { data, error, reload } = useData(() => api.overview(), [tick]);
  const wallet = useData(() => api.walletStatus(), []);
  useClock();
  if (error) return <ErrorBox error={error} retry={reload} />;
  if (!data) return <Loading what="the overview" />;
  const t = data.totals;
  return (
    <div class="screen">
      <h1>Overview</h1>
      {(() => {
        const items = attention(data, wallet.data ?? null, go, reload);
        return items.length > 0 && (
          <Card title="Needs attention" class="attention">
            <ul class="attention-list" data-testid="attention">
              {items.map((i) => (
                <li><span>{i.text}</span> <button class="primary" onClick={i.run}>{i.fix}</button></li>
              ))}
            </ul>
          </Card>
        );
      })()}
      {data.sandbox_env && (
        // Open until the first payment, folded after it (still one click away for the next terminal).
        <details class="card try" open={t.settled_count_today + t.refused_count_today === 0}>
          <summary><h2>Try it with play sats</h2></summary>
          <p>This is the sandbox: a play-sats wallet and a demo paid API. In a terminal, make it an agent:</p>
          <pre data-testid="sandbox-env">{data.sandbox_env}</pre>
          <p>then <code>curl -s $PURSER_DEMO_API/joke</code> (1 sat, paid at once) or <code>curl -s $PURSER_DEMO_API/premium</code> (250 sats: it waits for your approval).</p>
        </details>
      )}
      <div class="tiles">
        <div class="tile" data-testid="spent-today">
          <span class="label">Spent today</span>
          <span class="value">
            {satsWhole(Math.max(0, t.today_msat - t.today_fee_msat))}
            {t.today_fee_msat > 0 && <span class="fees"> + {feeText(t.today_fee_msat)} in fees</span>}
          </span>
          {t.fiat && <span class="sub" data-testid="spent-today-fiat">≈ {moneyShort(t.fiat.currency, t.fiat.today_micros)}</span>}
          <span class="sub">
            {t.settled_count_today} paid ·{" "}
            <button class="link" data-testid="refused-today" onClick={() => openLedgerWith({ status: "refused" }, go)}>
              {t.refused_count_today} refused
            </button>
          </span>
        </div>
        <div class="tile">
          <span class="label">This week</span>
          <span class="value">{satsWhole(t.week_msat)}</span>
          {t.fiat && <span class="sub">≈ {moneyShort(t.fiat.currency, t.fiat.week_micros)}</span>}
        </div>
        <div class="tile">
          <span class="label">This month</span>
          <span class="value">{satsWhole(t.month_msat)}</span>
          {t.fiat && <span class="sub">≈ {moneyShort(t.fiat.currency, t.fiat.month_micros)}</span>}
        </div>
        <div class="tile" data-testid="held-at-apis" onClick={() => go("apis")}>
          <span class="label">Held at APIs</span>
          <span class="value">{satsWhole(data.held.reduce((sum, h) => sum + h.held_msat, 0))}</span>
          <span class="sub">
            {data.held.length === 0
              ? "no deposits or credit"
              : data.held.map((h) => `${h.host}: ${satsWhole(h.held_msat)}${h.credits > 0 ? " (credit)" : ""}`).join(" · ")}
          </span>
        </div>
        <div class="tile" onClick={() => go("wallet")}>
          <span class="label">Wallet</span>
          <span class="value">
            {wallet.data ? (wallet.data.balance_msat !== null ? satsWhole(wallet.data.balance_msat) : wallet.data.connected ? "unreachable" : "not connected") : "…"}
          </span>
          <span class="sub">{wallet.data?.info?.alias ?? (wallet.data?.connected ? wallet.data?.error : "Connect a wallet to pay")}</span>
        </div>
      </div>
      <SpendChart tick={tick} currency={data.rate.currency} />
      <div class="grid2">
        <Card title="Budgets">
          {data.budgets.length === 0 ? (
            <Empty>No budgets: only thresholds limit payments.</Empty>
          ) : (
            <ul class="budgets">
              {data.budgets.map((b) => (
                <li>
                  <div class="row">
                    <span>
                      {b.budget.period === "request" ? "Per request" : cap(periodName(b.budget.period))} · {scopeName(b.budget.scope)}
                    </span>
                    <span class={budgetUse(...useOf(b)).tone === "over" ? "over" : "muted"} data-testid="overview-budget">
                      {budgetFigures(b, data.rate)}
                    </span>
                  </div>
                  {b.budget.period !== "request" && (
                    <div class="bar" aria-label={`${percentUsed(...useOf(b))} used`}>
                      <div class={`fill ${budgetUse(...useOf(b)).tone}`} style={{ width: `${budgetUse(...useOf(b)).width}%` }} />
                    </div>
                  )}
                </li>
              ))}
            </ul>
          )}
        </Card>
        <Card title="Waiting for you" actions={<button class="link" onClick={() => go("approvals")}>Open approvals</button>}>
          {data.approvals.length === 0 ? (
            <Empty>Nothing waits for your approval.</Empty>
          ) : (
            <ul class="plain">
              {data.approvals.map((a) => (
                <li>
                  <strong>{a.count > 1 ? `${a.count} × ${sats(a.amount_msat)} = ${sats(a.total_msat)}` : sats(a.amount_msat)}</strong>
                  {a.fiat && <span class="muted"> ({moneyText(a.fiat.currency, a.fiat.micros * a.count)})</span>} · {a.agent} → {a.host}
                  {a.path} {a.count > 1 && <span class="badge">×{a.count}</span>}
                </li>
              ))}
            </ul>
          )}
        </Card>
      </div>
      {data.sessions.length > 0 && <Sessions sessions={data.sessions} reload={reload} />}
      <Card title="Recent alerts">
        {data.alerts.length === 0 ? (
          <Empty>No alerts yet.</Empty>
        ) : (
          <ul class="plain alerts">
            {data.alerts.map((a) => (
              <li>
                <span class={`tag ${a.kind}`}>{words(a.kind)}</span> {a.message} <span class="muted">{ago(a.created_at)}</span>
              </li>
            ))}
          </ul>
        )}
      </Card>
      <p class="muted small">
        Agents connect to <code>{data.proxy_url}</code>
        {data.sandbox && " · sandbox: play sats only"}
        {data.rate.currency && <> · <RateText rate={data.rate} go={go} /></>}
      </p>
    </div>
  );
}

/** Sessions at APIs: what each deposit holds after its draws, and its refund; an open one can be closed. */
function Sessions({ sessions, reload }: { sessions: SessionInfo[]; reload: () => void }) {
  const [busy, setBusy] = useState<number | null>(null);
  const [failed, setFailed] = useState<string | null>(null);
  const close = async (id: number) => {
    setBusy(id);
    setFailed(null);
    try {
      await api.closeSession(id);
    } catch (e) {
      setFailed(String((e as { message?: string }).message ?? e));
    }
    setBusy(null);
    reload();
  };
  return (
    <Card title="Sessions at APIs">
      <p class="muted small">
        A session is a deposit paid once at an API; each call is drawn from it without a new payment. What is not
        drawn is held at the API until the session closes and the API returns it to your wallet.
      </p>
      {failed && <p class="over" data-testid="session-close-failed">{failed}</p>}
      <table class="table" data-testid="sessions">
        <thead><tr><th>Agent</th><th>API</th><th class="num">Deposit</th><th class="num">Calls</th><th class="num">Held</th><th>State</th><th></th></tr></thead>
        <tbody>
          {sessions.map((s) => (
            <tr>
              <td>{s.agent}</td>
              <td class="mono">{s.host}</td>
              <td class="num">{satsWhole(s.deposit_msat)}</td>
              <td class="num">{s.draws}</td>
              <td class="num" data-testid="session-held">{satsWhole(s.held_msat)}</td>
              <td class={s.refund_state === "missing" ? "bad" : ""}>{sessionState(s)}</td>
              <td>
                {s.state === "open" && (
                  <button disabled={busy === s.id} onClick={() => void close(s.id)} data-testid={`close-session-${s.id}`}>
                    {busy === s.id ? "Closing…" : "Close"}
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </Card>
  );
}

function sessionState(s: SessionInfo): string {
  if (s.state === "open") return "open";
  if (s.state === "closing") return "closing…";
  const claimed = satsWhole(s.refund_claimed_msat ?? 0);
  switch (s.refund_state) {
    case "waiting": return `closed · ${claimed} on its way back`;
    case "missing": return s.state === "ended" ? "ended by the API · not returned" : `closed · ${claimed} never arrived`;
    case "received": return `closed · ${satsWhole(s.refund_msat ?? 0)} returned`;
    default: return s.state === "ended" ? "ended by the API" : "closed";
  }
}

/** The rate line: "1 BTC = $100,000.00 · sandbox play rate · 12 s old", or why there is none. */
function RateText({ rate, go }: { rate: RateLine; go: (s: Screen) => void }) {
  if (rate.per_btc === null) {
    return <span class="over" data-testid="rate-line">no {rate.currency} rate: {rate.error} (limits in {rate.currency} go to you)</span>;
  }
  return (
    <span data-testid="rate-line">
      1 BTC = {moneyText(rate.currency ?? "", Math.round(rate.per_btc * 1e6))} · {rate.source} · {rate.age_secs} s old{" "}
      <button class="link" onClick={() => go("settings")}>Change</button>
    </span>
  );
}

/** A budget's use and limit in the budget's own denomination: millionths of its currency, or msat. */
function useOf(b: BudgetUse): [number, number] {
  return b.budget.limit_fiat && b.used_fiat ? [b.used_fiat.micros, b.budget.limit_fiat.micros] : [b.used, b.budget.limit];
}

/** "$0.77 of $1.00 (77 %) · 228 sats left", "300 sats of 1,000 sats (30 %) ≈ $0.30 of $1.00", "≤ 50 sats". */
function budgetFigures(b: BudgetUse, rate: RateLine): string {
  const fiat = b.budget.limit_fiat;
  if (b.budget.period === "request") return `≤ ${fiat ? money(fiat) : satsWhole(b.budget.limit)}`;
  if (!fiat || !b.used_fiat) {
    const inSats = `${satsWhole(b.used)} of ${satsWhole(b.budget.limit)} (${percentUsed(b.used, b.budget.limit)})`;
    if (!rate.currency || rate.per_btc === null) return inSats;
    const at = (msat: number) => moneyShort(rate.currency ?? "", microsAt(msat, rate.per_btc ?? 0));
    return `${inSats} ≈ ${at(b.used)} of ${at(b.budget.limit)}`;
  }
  const left = b.budget.limit > 0 ? ` · ${satsWhole(b.budget.limit - b.used)} left` : "";
  return `${moneyShort(fiat.currency, b.used_fiat.micros)} of ${money(fiat)} (${percentUsed(b.used_fiat.micros, fiat.micros)})${left}`;
}

function SpendChart({ tick, currency }: { tick: number; currency: string | null }) {
  const [group, setGroup] = useState<GroupBy>("api");
  const [inFiat, setInFiat] = useState(false);
  const { data, error } = useData(() => api.spendChart(14, group), [tick, group, currency]);
  const canvas = useRef<HTMLCanvasElement>(null);
  const unit = inFiat && currency ? currency : null;
  useEffect(() => {
    if (canvas.current && data) return drawSpendChart(canvas.current, data, 14, unit);
  }, [data, unit]);
  return (
    <Card
      title="Spend per day"
      actions={
        <>
          {currency && (
            <div class="segmented" role="group" aria-label="Unit" data-testid="chart-unit">
              <button class={!inFiat ? "on" : ""} onClick={() => setInFiat(false)}>sats</button>
              <button class={inFiat ? "on" : ""} onClick={() => setInFiat(true)}>{currency}</button>
            </div>
          )}
          <div class="segmented" role="group" aria-label="Group by">
            <button class={group === "api" ? "on" : ""} onClick={() => setGroup("api")}>By API</button>
            <button class={group === "agent" ? "on" : ""} onClick={() => setGroup("agent")}>By agent</button>
          </div>
        </>
      }
    >
      {error ? <ErrorBox error={error} /> : data && data.length === 0 ? <Empty>No payments in the last 14 days.</Empty> : null}
      <div class="chart" style={{ display: data && data.length > 0 ? "block" : "none" }}>
        <canvas ref={canvas} />
      </div>
    </Card>
  );
}

function cap(s: string) {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
