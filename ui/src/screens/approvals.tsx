// Approvals: payments held for a person, with agent, API, amount, the budget left and the time left;
// Approve, Deny, or Approve and remember (with the rule it will create). Joined identical requests show as
// "4 × 250 sats = 1,000 sats" and an answer covers the four shown. Payments in the confirm tier take the
// passphrase (or the amount typed when none is set) right in their card.
import { useEffect, useState } from "preact/hooks";
import { api, toUiError } from "../api";
import type { ScreenProps } from "../screen";
import { Card, Empty, ErrorBox, Loading, Notice, useData } from "../components";
import { moneyText, parseSats, sats, secondsLeft } from "../format";
import type { ApprovalView } from "../bindings/ApprovalView";
import { AllowanceRequest } from "./tasks";

export function ApprovalsScreen({ tick, refresh }: ScreenProps) {
  const { data, error, reload } = useData(() => api.approvals(), [tick]);
  const settings = useData(() => api.settings(), [tick]);
  const asked = useData(() => api.allowances(false), [tick]);
  const allowances = (asked.data ?? []).filter((a) => a.state === "requested");
  const [, setNow] = useState(0);
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(t);
  }, []);
  if (error) return <ErrorBox error={error} retry={reload} />;
  if (!data) return <Loading what="approvals" />;
  return (
    <div class="screen">
      <h1>Approvals</h1>
      {allowances.map((a) => (
        <AllowanceRequest key={`allowance-${a.id}`} a={a} passphraseSet={settings.data?.passphrase_set ?? false} done={refresh} />
      ))}
      {data.length === 0 && allowances.length === 0 ? (
        <Card>
          <Empty>
            Nothing waits for your approval. Payments above an auto-approve limit and within its ask limit wait here
            (and in a notification) until you answer.
          </Empty>
        </Card>
      ) : (
        // Keyed by approval: a card's own fields (the amount to remember) never pass to the next one.
        data.map((a) => <Approval key={a.team_id != null ? `team-${a.team_id}` : a.id} a={a} passphraseSet={settings.data?.passphrase_set ?? false} done={refresh} />)
      )}
    </div>
  );
}

function Approval({ a, passphraseSet, done }: { a: ApprovalView; passphraseSet: boolean; done: () => void }) {
  const [remember, setRemember] = useState(String(Math.ceil((a.amount_msat / 1000) * 5)));
  // An overage on a task allowance: the task's figures, and raising its maximum as a third answer.
  type Money = { currency: string; micros: number };
  const task = (a.budget as { allowance?: { id: number; purpose: string; used_msat: number; max_msat: number; left_msat: number; needed_msat: number; max_fiat?: Money; raise_to_fiat?: Money } }).allowance;
  // A task set in a currency is raised in it.
  const taskFiat = task?.raise_to_fiat ?? null;
  // Enough for the requests shown, each with its fee reserve.
  const [raiseTo, setRaiseTo] = useState(
    taskFiat ? String(taskFiat.micros / 1_000_000) : task ? String(Math.ceil((task.used_msat + task.needed_msat * a.count) / 1000)) : "",
  );
  const [secret, setSecret] = useState("");
  const [err, setErr] = useState<string | null>(null);
  const left = secondsLeft(a.expires_at_ms);
  // Test ids: this machine's approvals by their id, the team's other machines' by their id in the team's database.
  const tid = a.team_id != null ? `team-${a.team_id}` : String(a.id);
  const budget = a.budget as { budget?: string; remaining_msat?: number };
  // What the person sees is what they answer: the count shown, never requests that joined since.
  const count = a.count;
  const decide = (approve: boolean, rememberPerDay: boolean) => {
    let perDay: number | null = null;
    let typed: number | null = null;
    try {
      if (rememberPerDay) perDay = parseSats(remember, "Remember up to");
      if (approve && a.confirm && !passphraseSet) typed = parseSats(secret, "The amount");
    } catch (e) {
      return setErr((e as Error).message);
    }
    if (approve && a.confirm && passphraseSet && secret === "") return setErr("Type your passphrase to approve this payment.");
    const passphrase = approve && a.confirm && passphraseSet ? secret : null;
    const answer = { approve, count, remember_sats_per_day: perDay, passphrase, typed_sats: typed };
    // Held on another of the team's machines: answered in the team's database, paid or refused there.
    (a.team_id != null ? api.decideTeamApproval(a.team_id, answer) : api.decideApproval(a.id, answer))
      .then(done, (e) => (setSecret(""), setErr(toUiError(e).message)));
  };
  const raise = () => {
    if (!task) return;
    let to: number | null = null;
    let toFiat: string | null = null;
    try {
      if (taskFiat) {
        if (!/^\d*(\.\d{0,6})?$/.test(raiseTo.trim()) || raiseTo.trim() === "") throw new Error(`The new maximum: “${raiseTo}” is not an amount such as 1.50`);
        toFiat = `${raiseTo.trim()} ${taskFiat.currency}`;
      } else {
        to = parseSats(raiseTo, "The new maximum");
      }
    } catch (e) {
      return setErr((e as Error).message);
    }
    api.raiseAllowance(task.id, to, toFiat, passphraseSet && secret ? secret : null)
      .then(() => decide(true, false), (e) => setErr(toUiError(e).message));
  };
  const inSats = count > 1 ? `${count} × ${sats(a.amount_msat)} = ${sats(a.total_msat)}` : sats(a.amount_msat);
  // With a display currency, the value beside it at the rate the payment was decided at: "250 sats ($0.25)".
  const total = a.fiat ? `${inSats} (${moneyText(a.fiat.currency, a.fiat.micros * count)})` : inSats;
  return (
    <Card class="approval" title={`${total} for ${a.agent}`}>
      {a.machine && <p class="machine" data-testid="approval-machine">Waiting on <strong>{a.machine}</strong></p>}
      <p class="mono">{a.method} {a.host}{a.path} {count > 1 && <span class="badge" data-testid="approval-count">{count} identical requests</span>}</p>
      {task && (
        <p class="overage" data-testid={`overage-${tid}`}>
          Task #{task.id} “{task.purpose}”: {sats(task.used_msat)} of {sats(task.max_msat)} used, {sats(task.left_msat)} left;
          this payment needs {sats(task.needed_msat)} with its fee reserve{count > 1 ? `, each of ${count}` : ""}.
        </p>
      )}
      <p class="muted">{a.explanation}</p>
      <p>
        {budget.remaining_msat !== undefined && <>Budget left: <strong>{sats(budget.remaining_msat)}</strong> ({budget.budget}) · </>}
        <span data-testid="time-left">{left} s left</span> (then it is denied)
      </p>
      {a.confirm && (
        <p class="confirm" data-testid={`confirm-${tid}`}>
          {passphraseSet ? (
            <label>A click is not enough for this payment: type your passphrase
              <input type="password" autoComplete="off" data-testid={`passphrase-${tid}`} value={secret} onInput={(e) => setSecret(e.currentTarget.value)} />
            </label>
          ) : (
            <label>A click is not enough for this payment: type the amount, {Math.ceil(a.total_msat / 1000)}, in sats
              <input size={8} autoComplete="off" data-testid={`typed-${tid}`} value={secret} onInput={(e) => setSecret(e.currentTarget.value)} />
            </label>
          )}
        </p>
      )}
      <div class="actions">
        <button class="primary" data-testid={`approve-${tid}`} onClick={() => decide(true, false)}>{count > 1 ? `Approve all ${count}` : "Approve"}</button>
        <button class="danger" data-testid={`deny-${tid}`} onClick={() => decide(false, false)}>{count > 1 ? `Deny all ${count}` : "Deny"}</button>
        {task && (
          <span class="remember">
            <button data-testid={`raise-${tid}`} onClick={raise}>Raise the task to</button>
            <input size={6} value={raiseTo} onInput={(e) => setRaiseTo(e.currentTarget.value)} /> {taskFiat ? taskFiat.currency : "sats"} and approve
          </span>
        )}
        <span class="remember">
          <button onClick={() => decide(true, true)}>Approve and remember</button>
          up to <input size={6} value={remember} onInput={(e) => setRemember(e.currentTarget.value)} /> sats a day for {a.agent} on {a.host}
        </span>
      </div>
      <Notice error={err} />
    </Card>
  );
}
