// APIs & pricing: the APIs the ledger has seen, what they cost, how often paid requests were delivered.
import { api } from "../api";
import type { ScreenProps } from "../app";
import { Card, Empty, ErrorBox, Loading, useData } from "../components";
import { sats } from "../format";

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
      <p class="muted small">Prices shown are what the ledger has seen; published pricing endpoints are read in a later version.</p>
    </div>
  );
}
