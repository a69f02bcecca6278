// APIs & pricing: the APIs the ledger has seen, what they cost, what is held there (session deposits), how
// often paid requests were delivered; the
// prices they publish; the proofs of payment kept for reuse (revocable); and the hosts whose traffic Purser
// could not look inside.
import { useState } from "preact/hooks";
import { api } from "../api";
import type { ScreenProps } from "../screen";
import { Card, Empty, ErrorBox, Loading, Notice, useData } from "../components";
import { ago, bytes, sats } from "../format";

export function ApisScreen({ tick }: ScreenProps) {
  const { data, error, reload } = useData(() => api.apis(), [tick]);
  const [open, setOpen] = useState<string | null>(null);
  return (
    <div class="screen">
      <h1>APIs & pricing</h1>
      <Card>
        {error ? <ErrorBox error={error} retry={reload} /> : !data ? <Loading what="APIs" /> : data.length === 0 ? (
          <Empty>No API has asked for a payment yet.</Empty>
        ) : (
          <table class="table" data-testid="apis">
            <thead><tr><th>API</th><th class="num">Spent</th><th class="num" title="Session deposits not yet drawn, and refunds on their way">Held</th><th class="num">Paid</th><th class="num">Success</th><th class="num">Paid, not delivered</th><th>Prices</th></tr></thead>
            <tbody>
              {data.map((a) => (
                <>
                  <tr>
                    <td class="mono">
                      {a.host}
                      {otherPorts(a.host, data).length > 0 && (
                        <div class="muted small note" data-testid="same-host">
                          Also seen on {otherPorts(a.host, data).join(", ")}: each port is its own API (its own origin,
                          prices and proofs), as browsers treat it.
                        </div>
                      )}
                    </td>
                    <td class="num">{sats(a.spent_msat)}</td>
                    <td class="num" data-testid={`held-${a.host}`}>{a.held_msat > 0 ? sats(a.held_msat) : "–"}</td>
                    <td class="num">{a.settled}</td>
                    <td class="num">{a.settled > 0 ? `${Math.round((a.delivered / a.settled) * 100)} %` : "–"}</td>
                    <td class={`num ${a.paid_not_delivered > 0 ? "bad" : ""}`}>{a.paid_not_delivered}</td>
                    <td>
                      <button class="link" data-testid={`endpoints-${a.host}`} onClick={() => setOpen(open === a.host ? null : a.host)}>
                        {open === a.host ? "Hide endpoints" : "Per endpoint"}
                      </button>
                    </td>
                  </tr>
                  {open === a.host && (
                    <tr class="nested"><td colSpan={7}><Endpoints host={a.host} tick={tick} /></td></tr>
                  )}
                </>
              ))}
            </tbody>
          </table>
        )}
      </Card>
      <PricesCard tick={tick} />
      <CredentialsCard tick={tick} />
      <UninspectedCard tick={tick} />
      <p class="muted small">
        Usual prices are per endpoint: the mean of its last 20 paid calls. Published prices are read from each API's
        <code>/pricing</code>, <code>/.well-known/l402-services</code>, <code>/.well-known/l402.json</code> and
        <code>/openapi.json</code> on its first payment (or with <code>purser pricing URL</code>); an invoice above
        them waits for you.
      </p>
    </div>
  );
}

/** The other ports the same host name was paid on ("127.0.0.1:4001" beside "127.0.0.1:4002"). */
function otherPorts(host: string, all: { host: string }[]): string[] {
  const name = hostName(host);
  return all.map((a) => a.host).filter((h) => h !== host && hostName(h) === name);
}

function hostName(host: string): string {
  return host.startsWith("[") ? host.slice(0, host.indexOf("]") + 1) : host.split(":")[0];
}

/** One API's endpoints, each with its own usual price. */
function Endpoints({ host, tick }: { host: string; tick: number }) {
  const { data, error, reload } = useData(() => api.apiEndpoints(host), [host, tick]);
  if (error) return <ErrorBox error={error} retry={reload} />;
  if (!data) return <Loading what="endpoints" />;
  return (
    <table class="table inner" data-testid="endpoints">
      <thead><tr><th>Endpoint</th><th class="num">Usual price</th><th class="num">Paid</th><th class="num">Spent</th></tr></thead>
      <tbody>
        {data.map((e) => (
          <tr>
            <td class="mono">{e.path}</td>
            <td class="num">{sats(e.usual_price_msat)}</td>
            <td class="num">{e.settled} of {e.payments}</td>
            <td class="num">{sats(e.spent_msat)}</td>
          </tr>
        ))}
      </tbody>
    </table>
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

const when = (ms: number) => new Date(ms).toISOString();

/** What APIs publish about their prices, one row per endpoint and price, naming the documents that say it. */
function PricesCard({ tick }: { tick: number }) {
  const { data, error, reload } = useData(() => api.prices(), [tick]);
  const lines = new Map<string, { origin: string; method: string; path: string; price_msat: number; sources: string[]; read_at_ms: number; about: string }>();
  for (const p of data ?? []) {
    const key = `${p.origin} ${p.method ?? "ANY"} ${p.path} ${p.price_msat}`;
    const line = lines.get(key);
    if (line) line.sources.push(p.source);
    else lines.set(key, { origin: p.origin, method: p.method ?? "any", path: p.path, price_msat: p.price_msat, sources: [p.source], read_at_ms: p.read_at_ms, about: p.description ?? "" });
  }
  return (
    <Card title="Published prices">
      {error ? <ErrorBox error={error} retry={reload} /> : !data ? <Loading what="prices" /> : data.length === 0 ? (
        <Empty>No API has published prices yet. They are read on an API's first payment.</Empty>
      ) : (
        <table class="table" data-testid="prices">
          <thead><tr><th>API</th><th>Endpoint</th><th class="num">Price</th><th>Published in</th><th>Read</th></tr></thead>
          <tbody>
            {[...lines.values()].map((l) => (
              <tr title={l.about}>
                <td class="mono">{l.origin}</td>
                <td class="mono">{l.method.toUpperCase()} {l.path}</td>
                <td class="num">{sats(l.price_msat)}</td>
                <td>{l.sources.join(", ")}</td>
                <td title={when(l.read_at_ms)}>{ago(when(l.read_at_ms))}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Card>
  );
}

/** Proofs Purser sends again for an agent on an API; revoking one makes the next request pay again. */
function CredentialsCard({ tick }: { tick: number }) {
  const { data, error, reload } = useData(() => api.credentials(), [tick]);
  const [note, setNote] = useState<{ ok?: string; error?: string }>({});
  const revoke = async (id: number) => {
    try {
      await api.revokeCredential(id);
      setNote({ ok: `Credential #${id} revoked: the next request there pays again, under your policy.` });
      reload();
    } catch (e) {
      setNote({ error: (e as { message?: string }).message ?? String(e) });
    }
  };
  return (
    <Card title="Kept credentials">
      <Notice ok={note.ok} error={note.error} />
      {error ? <ErrorBox error={error} retry={reload} /> : !data ? <Loading what="credentials" /> : data.length === 0 ? (
        <Empty>No proof of payment is kept. L402 tokens are kept after a payment and sent again until the API refuses them.</Empty>
      ) : (
        <table class="table" data-testid="credentials">
          <thead><tr><th>#</th><th>Agent</th><th>API and path</th><th>Kind</th><th>Kept</th><th>Expires</th><th></th></tr></thead>
          <tbody>
            {data.map((c) => (
              <tr>
                <td class="num">{c.id}</td>
                <td>{c.agent}</td>
                <td class="mono">{c.origin}{c.path}</td>
                <td title={c.single_use ? "A proof for one challenge, kept because its paid request was not delivered: sent once more with the next identical request" : undefined}>{c.scheme}{c.single_use ? " (once)" : ""}</td>
                <td title={when(c.created_at_ms)}>{ago(when(c.created_at_ms))}</td>
                <td class={c.expired ? "bad" : ""}>{c.expires_at_ms === null ? "not stated" : `${c.expired ? "expired " : ""}${when(c.expires_at_ms).slice(0, 16).replace("T", " ")} UTC`}</td>
                <td><button class="small" onClick={() => revoke(c.id)}>Revoke</button></td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Card>
  );
}
