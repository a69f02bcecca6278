// Approvals: payments held for a person, with agent, API, amount, the budget left and the time left;
// Approve, Deny, or Approve and remember (with the rule it will create).
import { useEffect, useState } from "preact/hooks";
import { api, toUiError } from "../api";
import type { ScreenProps } from "../screen";
import { Card, Empty, ErrorBox, Loading, Notice, useData } from "../components";
import { parseSats, sats, secondsLeft } from "../format";
import type { ApprovalView } from "../bindings/ApprovalView";

export function ApprovalsScreen({ tick, refresh }: ScreenProps) {
  const { data, error, reload } = useData(() => api.approvals(), [tick]);
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
      {data.length === 0 ? (
        <Card>
          <Empty>
            Nothing waits for your approval. Payments above an auto-approve limit and within its ask limit wait here
            (and in a notification) until you answer.
          </Empty>
        </Card>
      ) : (
        data.map((a) => <Approval a={a} done={refresh} />)
      )}
    </div>
  );
}

function Approval({ a, done }: { a: ApprovalView; done: () => void }) {
  const [remember, setRemember] = useState(String(Math.ceil((a.amount_msat / 1000) * 5)));
  const [err, setErr] = useState<string | null>(null);
  const left = secondsLeft(a.expires_at_ms);
  const budget = a.budget as { budget?: string; remaining_msat?: number };
  const decide = (approve: boolean, rememberPerDay: boolean) => {
    let perDay: number | null = null;
    try {
      if (rememberPerDay) perDay = parseSats(remember, "Remember up to");
    } catch (e) {
      return setErr((e as Error).message);
    }
    api.decideApproval(a.id, approve, perDay).then(done, (e) => setErr(toUiError(e).message));
  };
  return (
    <Card class="approval" title={`${sats(a.amount_msat)} for ${a.agent}`}>
      <p class="mono">{a.method} {a.host}{a.path} {a.count > 1 && <span class="badge">×{a.count} identical requests</span>}</p>
      <p class="muted">{a.explanation}</p>
      <p>
        {budget.remaining_msat !== undefined && <>Budget left: <strong>{sats(budget.remaining_msat)}</strong> ({budget.budget}) · </>}
        <span data-testid="time-left">{left} s left</span> (then it is denied)
      </p>
      <div class="actions">
        <button class="primary" data-testid={`approve-${a.id}`} onClick={() => decide(true, false)}>Approve</button>
        <button class="danger" data-testid={`deny-${a.id}`} onClick={() => decide(false, false)}>Deny</button>
        <span class="remember">
          <button onClick={() => decide(true, true)}>Approve and remember</button>
          up to <input size={6} value={remember} onInput={(e) => setRemember(e.currentTarget.value)} /> sats a day for {a.agent} on {a.host}
        </span>
      </div>
      <Notice error={err} />
    </Card>
  );
}
