// Overview: spent today / this week / this month against budgets, spend per day by API or agent, what waits
// for approval, recent alerts, and the wallet.
import { useEffect, useRef, useState } from "preact/hooks";
import { api } from "../api";
import type { ScreenProps } from "../screen";
import { periodName, scopeName, words } from "../describe";
import { Card, Empty, ErrorBox, Loading, useData } from "../components";
import { ago, percentUsed, sats } from "../format";
import { drawSpendChart } from "../chart";
import type { GroupBy } from "../bindings/GroupBy";

export function OverviewScreen({ tick, go }: ScreenProps) {
  const { data, error, reload } = useData(() => api.overview(), [tick]);
  const wallet = useData(() => api.walletStatus(), []);
  if (error) return <ErrorBox error={error} retry={reload} />;
  if (!data) return <Loading what="the overview" />;
  const t = data.totals;
  return (
    <div class="screen">
      <h1>Overview</h1>
      {data.sandbox_env && t.settled_count_today + t.refused_count_today === 0 && (
        <Card title="Try it with play sats" class="try">
          <p>This is the sandbox: a play-sats wallet and a demo paid API. In a terminal, make it an agent:</p>
          <pre data-testid="sandbox-env">{data.sandbox_env}</pre>
          <p>then <code>curl -s $PURSER_DEMO_API/joke</code> (1 sat, paid at once) or <code>curl -s $PURSER_DEMO_API/premium</code> (250 sats: it waits for your approval).</p>
        </Card>
      )}
      <div class="tiles">
        <div class="tile" data-testid="spent-today">
          <span class="label">Spent today</span>
          <span class="value">{sats(t.today_msat)}</span>
          <span class="sub">
            {t.settled_count_today} paid · {t.refused_count_today} refused
          </span>
        </div>
        <div class="tile">
          <span class="label">This week</span>
          <span class="value">{sats(t.week_msat)}</span>
        </div>
        <div class="tile">
          <span class="label">This month</span>
          <span class="value">{sats(t.month_msat)}</span>
        </div>
        <div class="tile" onClick={() => go("wallet")}>
          <span class="label">Wallet</span>
          <span class="value">
            {wallet.data ? (wallet.data.balance_msat !== null ? sats(wallet.data.balance_msat) : wallet.data.connected ? "unreachable" : "not connected") : "…"}
          </span>
          <span class="sub">{wallet.data?.info?.alias ?? (wallet.data?.connected ? wallet.data?.error : "Connect a wallet to pay")}</span>
        </div>
      </div>
      <SpendChart tick={tick} />
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
                    <span class="muted">
                      {b.budget.period === "request" ? `≤ ${sats(b.budget.limit)}` : `${sats(b.used)} of ${sats(b.budget.limit)}`}
                    </span>
                  </div>
                  {b.budget.period !== "request" && (
                    <div class="bar" aria-label={`${percentUsed(b.used, b.budget.limit)} % used`}>
                      <div class={`fill ${percentUsed(b.used, b.budget.limit) >= 80 ? "hot" : ""}`} style={{ width: `${percentUsed(b.used, b.budget.limit)}%` }} />
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
                  <strong>{sats(a.amount_msat)}</strong> · {a.agent} → {a.host}
                  {a.path} {a.count > 1 && <span class="badge">×{a.count}</span>}
                </li>
              ))}
            </ul>
          )}
        </Card>
      </div>
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
      </p>
    </div>
  );
}

function SpendChart({ tick }: { tick: number }) {
  const [group, setGroup] = useState<GroupBy>("api");
  const { data, error } = useData(() => api.spendChart(14, group), [tick, group]);
  const canvas = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    if (canvas.current && data) return drawSpendChart(canvas.current, data, 14);
  }, [data]);
  return (
    <Card
      title="Spend per day"
      actions={
        <div class="segmented" role="group" aria-label="Group by">
          <button class={group === "api" ? "on" : ""} onClick={() => setGroup("api")}>By API</button>
          <button class={group === "agent" ? "on" : ""} onClick={() => setGroup("agent")}>By agent</button>
        </div>
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
