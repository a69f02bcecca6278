// APIs & pricing: the APIs the ledger has seen, what they cost, how often paid requests were delivered; and
// the hosts whose traffic Purser could not look inside.
import { api } from "../api";
import type { ScreenProps } from "../app";
import { Card, Empty, ErrorBox, Loading, useData } from "../components";
import { ago, bytes, sats } from "../format";

export function ApisScreen({ tick }: ScreenProps) {
  const { data, error, reload } = useData(() => api.apis(), [tick]);
  return (
    <div class="screen">
      <h1>APIs & pricing</h1>
      <Card>
        {error ? <ErrorBox error={error} retry={reload} /> : !data ? <Loading what="APIs" /> : data.length === 0 ? (
          <Empty>No API has asked for a payment yet.</Empty>
        ) : (
          <table class="table">
            <thead><tr><th>API</th><th class="num">Usual price</th><th class="num">Spent</th><th class="num">Paid</th><th class="num">Success</th><th class="num">Paid, not delivered</th></tr></thead>
            <tbody>
              {data.map((a) => (
                <tr>
                  <td class="mono">{a.host}</td>
                  <td class="num">{sats(a.usual_price_msat)}</td>
                  <td class="num">{sats(a.spent_msat)}</td>
                  <td class="num">{a.settled}</td>
                  <td class="num">{a.settled > 0 ? `${Math.round((a.delivered / a.settled) * 100)} %` : "–"}</td>
                  <td class={`num ${a.paid_not_delivered > 0 ? "bad" : ""}`}>{a.paid_not_delivered}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Card>
      <UninspectedCard tick={tick} />
      <p class="muted small">Prices shown are what the ledger has seen; published pricing endpoints are read in a later version.</p>
    </div>
  );
}

const WHY: Record<string, string> = {
  pass_through: "pass_through setting",
  certificate_rejected: "the agent refused Purser's certificate",
};

/** Tunnels Purser could not read: no payment can happen in them, so a person should know they exist. */
function UninspectedCard({ tick }: { tick: number }) {
  const { data, error, reload } = useData(() => api.uninspected(), [tick]);
  return (
    <Card title="Not inspected">
      {error ? <ErrorBox error={error} retry={reload} /> : !data ? <Loading what="connections" /> : data.length === 0 ? (
        <Empty>Every HTTPS connection so far was read by Purser.</Empty>
      ) : (
        <>
          <table class="table" data-testid="uninspected">
            <thead><tr><th>Host</th><th>Why</th><th>Agents</th><th class="num">Connections</th><th class="num">Sent</th><th class="num">Received</th><th>Last</th></tr></thead>
            <tbody>
              {data.map((u) => (
                <tr>
                  <td class="mono">{u.host}:{u.port}</td>
                  <td class={u.kind === "certificate_rejected" ? "bad" : ""}>{WHY[u.kind] ?? u.kind}</td>
                  <td>{u.agents.join(", ")}</td>
                  <td class="num">{u.connections}</td>
                  <td class="num">{bytes(u.bytes_to_upstream)}</td>
                  <td class="num">{bytes(u.bytes_to_agent)}</td>
                  <td title={u.last_opened_at}>{ago(u.last_opened_at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <p class="muted small">
            Purser cannot see or pay a 402 inside these connections. An agent that refuses Purser's certificate
            needs its CA bundle (<code>eval "$(purser env --agent NAME)"</code>); a client that pins certificates
            belongs in <code>pass_through</code>.
          </p>
        </>
      )}
    </Card>
  );
}
