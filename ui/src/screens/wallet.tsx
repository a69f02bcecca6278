// Wallet: connect by pasting a nostr+walletconnect:// string (checked with get_info, kept only in the OS
// keyring), alias, network, balance, disconnect; a first-run path that includes trying the sandbox. The sandbox's
// play wallet can be disconnected and reconnected, to see what agents meet with no wallet.
import { useState } from "preact/hooks";
import { api, toUiError } from "../api";
import type { ScreenProps } from "../screen";
import { Card, ErrorBox, Loading, Notice, useData } from "../components";
import { sats } from "../format";

export function WalletScreen({ tick }: ScreenProps) {
  const status = useData(() => api.walletStatus(), [tick]);
  const [uri, setUri] = useState("");
  const [busy, setBusy] = useState(false);
  const [msg, setMsg] = useState<{ error?: string; ok?: string; keyring?: boolean }>({});
  const connect = (e: Event) => {
    e.preventDefault();
    if (!uri.trim().startsWith("nostr+walletconnect://")) {
      return setMsg({ error: "A connection string starts with nostr+walletconnect:// — copy it from your wallet's “connect an app” page." });
    }
    setBusy(true);
    api.walletConnect(uri).then(
      () => (setUri(""), setMsg({ ok: "Connected. The connection string is kept in the OS keyring only." }), status.reload()),
      (err) => {
        const ui = toUiError(err);
        setMsg({ error: ui.message, keyring: ui.kind === "keyring" });
      },
    ).finally(() => setBusy(false));
  };
  const s = status.data;
  return (
    <div class="screen">
      <h1>Wallet</h1>
      {status.error ? <ErrorBox error={status.error} retry={status.reload} /> : !s ? <Loading what="the wallet" /> : s.connected ? (
        <Card title={s.sandbox ? "Sandbox wallet (play sats)" : "Connected wallet"}>
          <dl>
            <dt>Alias</dt><dd>{s.info?.alias ?? "–"}</dd>
            <dt>Network</dt><dd>{s.info?.network ?? "–"}</dd>
            <dt>Balance</dt><dd data-testid="wallet-balance">{sats(s.balance_msat)}</dd>
            <dt>Encryption</dt><dd>{s.info?.encryption ?? "–"}</dd>
            <dt>Connection from</dt><dd>{s.source ?? "–"}</dd>
          </dl>
          {s.error && <p class="notice bad">The wallet did not answer: {s.error}</p>}
          <button class="danger" data-testid="wallet-disconnect" onClick={() => api.walletDisconnect().then(status.reload, (e) => setMsg({ error: toUiError(e).message }))}>
            Disconnect
          </button>
          {s.sandbox && <span class="muted small"> The play wallet comes back with one click: try what agents meet with no wallet.</span>}
          <Notice error={msg.error} />
        </Card>
      ) : s.sandbox ? (
        <Card title="Sandbox wallet disconnected">
          <p>Agents' payments are refused (<code>wallet_not_configured</code>) until a wallet is connected again.</p>
          <button class="primary" data-testid="wallet-reconnect-sandbox" onClick={() => api.walletReconnectSandbox().then(status.reload, (e) => setMsg({ error: toUiError(e).message }))}>
            Reconnect the sandbox wallet
          </button>
          <Notice error={msg.error} />
        </Card>
      ) : (
        <Card title="Connect your wallet">
          <p>
            Purser pays through your own Lightning wallet over Nostr Wallet Connect. In your wallet (Alby Hub, Coinos,
            LNbits, …) create a connection for Purser, ideally with its own budget, and paste its connection string:
          </p>
          <form class="form wide" onSubmit={connect}>
            <input type="password" autoComplete="off" placeholder="nostr+walletconnect://…" value={uri} onInput={(e) => setUri(e.currentTarget.value)} />
            <button class="primary" disabled={busy} type="submit">{busy ? "Checking…" : "Connect"}</button>
          </form>
          <Notice error={msg.error} ok={msg.ok} />
          {msg.keyring && (
            <p class="muted">
              No OS keyring is available here. Purser never writes the connection string to a file; instead start it with
              <code> PURSER_NWC_URI='nostr+walletconnect://…'</code> in its environment.
            </p>
          )}
          <p class="muted">
            Just looking? Start Purser with <code>--sandbox</code> (or <code>scripts/run</code>) to try every flow with play sats.
          </p>
        </Card>
      )}
    </div>
  );
}
