// Ledger: every payment, newest first, filtered, sorted and paged in the database (fast on a million rows);
// a detail pane (preimage only on demand); CSV export of the filtered view.
import { useState } from "preact/hooks";
import { api, toUiError } from "../api";
import { takeLedgerStart, type ScreenProps } from "../screen";
import { Card, Empty, ErrorBox, Loading, Notice, useData, Wrapping } from "../components";
import { ago, dateToMs, localTime, moneyText, parseSats, sats, useClock } from "../format";
import type { PaymentFilter } from "../bindings/PaymentFilter";
import type { PaymentRow } from "../bindings/PaymentRow";
import type { SortBy } from "../bindings/SortBy";
import type { PaymentStatus } from "../bindings/PaymentStatus";
import { PAYMENT_STATUSES } from "../bindings/values";
import { isSettled, reasonWords, words } from "../describe";

const PAGE = 50;
const EMPTY: PaymentFilter = {
  agent: null, host: null, status: null, challenge_kind: null,
  from_ms: null, to_ms: null, min_amount_msat: null, max_amount_msat: null, allowance_id: null,
};
type Typed = { from: string; to: string; min: string; max: string };
const NOTHING_TYPED: Typed = { from: "", to: "", min: "", max: "" };
const KINDS = ["l402", "lsat", "json_l402", "mpp", "mpp_session", "x402", "hash_only", "json_payment_hash", "l402_offers", "l402_top_up", "unreadable"];

export function LedgerScreen({ tick }: ScreenProps) {
  const [filter, setFilter] = useState<PaymentFilter>(() => ({ ...EMPTY, ...takeLedgerStart() }));
  // What the person typed in the free-text fields, kept so Clear empties them too.
  const [typed, setTyped] = useState<Typed>(NOTHING_TYPED);
  const [more, setMore] = useState(false);
  const [sort, setSort] = useState<SortBy>("newest");
  const [offset, setOffset] = useState(0);
  const [selected, setSelected] = useState<PaymentRow | null>(null);
  const [notice, setNotice] = useState<{ error?: string; ok?: string }>({});
  const page = useData(() => api.ledgerPage(filter, sort, offset, PAGE), [tick, filter, sort, offset]);
  const agents = useData(() => api.agents(), []);
  useClock();
  const apis = useData(() => api.apis(), [tick]);

  const set = (patch: Partial<PaymentFilter>) => {
    setFilter({ ...filter, ...patch });
    setOffset(0);
  };
  const type = (field: keyof Typed, text: string, patch: Partial<PaymentFilter>) => {
    setTyped({ ...typed, [field]: text });
    set(patch);
  };
  const amount = (text: string, what: string): number | null => {
    if (!text.trim()) return null;
    try {
      setNotice({});
      return parseSats(text, what) * 1000;
    } catch (e) {
      setNotice({ error: (e as Error).message });
      return null;
    }
  };
  const clear = () => {
    setFilter(EMPTY);
    setTyped(NOTHING_TYPED);
    setNotice({});
    setOffset(0);
  };
  const exportCsv = () =>
    api.exportCsv(filter).then(
      (r) => setNotice({ ok: `Exported ${r.rows} payments to ${r.path}` }),
      (e) => setNotice({ error: toUiError(e).message }),
    );
  // Filters kept under "More filters" that are set, so folding never hides an active one unseen.
  const hiddenOn = [filter.host, filter.challenge_kind, filter.from_ms, filter.to_ms, filter.min_amount_msat, filter.max_amount_msat]
    .filter((v) => v !== null).length;
  const active = hiddenOn + (filter.agent !== null ? 1 : 0) + (filter.status !== null ? 1 : 0) + (filter.allowance_id !== null ? 1 : 0);
  const machines = page.data ? manyMachines(page.data.rows) : false;

  return (
    <div class="screen">
      <h1>Ledger</h1>
      <Card
        class="filter-card"
        actions={
          <>
            <button class="link" data-testid="more-filters" aria-expanded={more} onClick={() => setMore(!more)}>
              {more ? "Fewer filters" : hiddenOn > 0 ? `More filters (${hiddenOn} on)` : "More filters"}
            </button>
            {active > 0 && <button class="link" data-testid="clear-filters" onClick={clear}>Clear</button>}
            <button data-testid="export-csv" onClick={exportCsv}>Export CSV</button>
          </>
        }
        title="Filters"
      >
        <div class="filters">
          <label>Agent
            <select data-testid="filter-agent" value={filter.agent ?? ""} onChange={(e) => set({ agent: e.currentTarget.value || null })}>
              <option value="">All</option>
              {agents.data?.map((a) => <option value={a.agent.name}>{a.agent.name}</option>)}
            </select>
          </label>
          <label>Status
            <select data-testid="filter-status" value={filter.status ?? ""} onChange={(e) => set({ status: (e.currentTarget.value || null) as PaymentStatus | null })}>
              <option value="">All</option>
              {PAYMENT_STATUSES.map((s) => <option value={s}>{words(s)}</option>)}
            </select>
          </label>
          <label>Sort
            <select value={sort} onChange={(e) => setSort(e.currentTarget.value as SortBy)}>
              <option value="newest">Newest first</option>
              <option value="oldest">Oldest first</option>
              <option value="largest_amount">Largest amount</option>
              <option value="smallest_amount">Smallest amount</option>
            </select>
          </label>
          {more && (
            <>
              <label>API
                <select data-testid="filter-host" value={filter.host ?? ""} onChange={(e) => set({ host: e.currentTarget.value || null })}>
                  <option value="">All</option>
                  {apis.data?.map((a) => <option value={a.host}>{a.host}</option>)}
                </select>
              </label>
              <label>Dialect
                <select value={filter.challenge_kind ?? ""} onChange={(e) => set({ challenge_kind: e.currentTarget.value || null })}>
                  <option value="">All</option>
                  {KINDS.map((k) => <option value={k}>{k}</option>)}
                </select>
              </label>
              <label>From
                <input type="date" data-testid="filter-from" class={typed.from ? "" : "empty"} value={typed.from}
                  onChange={(e) => type("from", e.currentTarget.value, { from_ms: dateToMs(e.currentTarget.value) })} />
              </label>
              <label>To
                <input type="date" data-testid="filter-to" class={typed.to ? "" : "empty"} value={typed.to}
                  onChange={(e) => type("to", e.currentTarget.value, { to_ms: dateToMs(e.currentTarget.value, true) })} />
              </label>
              <label>Min sats
                <input inputMode="numeric" placeholder="0" value={typed.min}
                  onChange={(e) => type("min", e.currentTarget.value, { min_amount_msat: amount(e.currentTarget.value, "Min sats") })} />
              </label>
              <label>Max sats
                <input inputMode="numeric" placeholder="any" value={typed.max}
                  onChange={(e) => type("max", e.currentTarget.value, { max_amount_msat: amount(e.currentTarget.value, "Max sats") })} />
              </label>
            </>
          )}
        </div>
        {filter.allowance_id !== null && (
          <p data-testid="filter-task">
            Only task #{filter.allowance_id}'s payments. <button class="link" onClick={() => set({ allowance_id: null })}>Show all</button>
          </p>
        )}
        <Notice error={notice.error} ok={notice.ok} />
      </Card>
      <div class={selected ? "split" : ""}>
        <Card>
          {page.error ? (
            <ErrorBox error={page.error} retry={page.reload} />
          ) : !page.data ? (
            <Loading what="payments" />
          ) : page.data.rows.length === 0 ? (
            <Empty>{active === 0 ? "No payments yet. When an agent meets a 402, it shows up here." : "No payment matches these filters."}</Empty>
          ) : (
            <>
              {/* A team's ledger (payments from more than one machine) says which machine made each. */}
              <table class="table" data-testid="ledger-table">
                <thead>
                  <tr><th>When</th><th>{machines ? "Agent, machine" : "Agent"}</th><th>Request</th><th class="num">Amount</th><th class="num">Value</th><th class="num">Fee</th><th>Status</th><th>Delivered</th></tr>
                </thead>
                <tbody>
                  {page.data.rows.map((r) => (
                    <tr class={selected?.id === r.id ? "sel" : ""} onClick={() => setSelected(r)}>
                      <td class="nowrap" title={localTime(r.created_at)}>{ago(r.created_at)}</td>
                      <td data-testid="row-agent">
                        {r.agent}
                        {machines && <div class="muted small" data-testid="row-machine">{r.instance ?? "–"}</div>}
                      </td>
                      <td class="mono request" title={`${r.method} ${r.host}${r.path}`}><Wrapping text={`${r.method} ${r.host}${r.path}`} /></td>
                      <td class="num">{sats(r.amount_msat)}</td>
                      <td class="num muted" data-testid="row-value" title={rateTitle(r)}>{valueText(r)}</td>
                      <td class="num">{sats(r.fee_msat)}</td>
                      <td><span class={`status ${r.status}`}>{words(r.status)}</span>{r.reason && !isSettled(r.status) ? <span class="muted" title={r.reason}> {reasonWords(r.reason)}</span> : null}</td>
                      <td class="nowrap">{r.delivered === null ? "–" : r.delivered ? `yes (${r.upstream_status})` : `no (${r.upstream_status ?? "no answer"})`}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
              <div class="pager">
                <span class="muted" data-testid="ledger-count">
                  {offset + 1}–{offset + page.data.rows.length} of {page.data.total.toLocaleString("en-US")}
                </span>
                <button disabled={offset === 0} onClick={() => setOffset(Math.max(0, offset - PAGE))}>Newer</button>
                <button disabled={offset + PAGE >= page.data.total} onClick={() => setOffset(offset + PAGE)}>Older</button>
              </div>
            </>
          )}
        </Card>
        {selected && <Detail row={selected} close={() => setSelected(null)} />}
      </div>
    </div>
  );
}

function Detail({ row, close }: { row: PaymentRow; close: () => void }) {
  const [preimage, setPreimage] = useState<string | null>(null);
  const [err, setErr] = useState<string | null>(null);
  const show = () => api.paymentPreimage(row.id).then((p) => setPreimage(p ?? "(none: this payment was not settled)"), (e) => setErr(toUiError(e).message));
  const field = (k: string, v: unknown) => (
    <>
      <dt>{k}</dt>
      <dd class="mono">{v === null || v === undefined || v === "" ? "–" : String(v)}</dd>
    </>
  );
  return (
    <Card title={`Payment #${row.id}`} actions={<button class="link" onClick={close}>Close</button>} class="detail">
      <dl>
        {field("Request", `${row.method} ${row.scheme}://${row.host}${row.path}`)}
        {field("Request id", row.request_id)}
        {field("Agent", row.agent)}
        {row.instance !== null && field("Machine", row.instance)}
        {field("Dialect", row.challenge_kind)}
        {field("Amount", sats(row.amount_msat))}
        {field("Fee", sats(row.fee_msat))}
        {field("Value", row.fiat_value === null ? null : `${valueText(row)} (amount and fee at the rate it was decided at)`)}
        {field("Rate", rateTitle(row) || null)}
        {field("Status", row.reason ? `${row.status} (${row.reason})` : row.status)}
        {field("Decision", row.decision)}
        {row.allowance_id !== null && field("Task", `allowance #${row.allowance_id}`)}
        {field("Delivered", row.delivered === null ? null : `${row.delivered ? "yes" : "no"}, upstream answered ${row.upstream_status ?? "nothing"}`)}
        {field("Payment hash", row.payment_hash)}
        {field("Invoice", row.invoice)}
        {row.receipt && field("Receipt", row.receipt)}
        {field("When", `${localTime(row.created_at)} (updated ${localTime(row.updated_at)})`)}
        <dt>Preimage</dt>
        <dd class="mono">{preimage ?? <button class="link" onClick={show}>Show the preimage</button>}</dd>
      </dl>
      <Notice error={err} />
    </Card>
  );
}

/** Whether these rows come from more than one of a team's machines (then each says which). */
function manyMachines(rows: PaymentRow[]): boolean {
  return new Set(rows.map((r) => r.instance).filter((i) => i !== null)).size > 1;
}

/** The value recorded with a payment: "$0.25", or "–" when none was (no currency chosen then, or no rate). */
function valueText(r: PaymentRow): string {
  return r.fiat_value === null || r.fiat_currency === null ? "–" : moneyText(r.fiat_currency, Math.round(r.fiat_value * 1_000_000));
}

/** "1 BTC = $100,000.00 from sandbox play rate": the rate a payment was valued at. */
function rateTitle(r: PaymentRow): string {
  if (r.fiat_per_btc === null || r.fiat_currency === null) return "";
  return `1 BTC = ${moneyText(r.fiat_currency, Math.round(r.fiat_per_btc * 1_000_000))} from ${r.fiat_source ?? "an unnamed source"}`;
}
