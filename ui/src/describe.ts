// How the screens name Purser's states and scopes for a person: one place for the words every screen shares.

import type { PaymentStatus } from "./bindings/PaymentStatus";
import type { Period } from "./bindings/Period";
import type { PeriodKind } from "./bindings/PeriodKind";
import type { Scope } from "./bindings/Scope";
import { STATUS, PERIOD } from "./bindings/values";

/** How the budget form names each period. */
export const PERIOD_LABELS: Record<PeriodKind, string> = {
  request: "Per request", day: "Day", week: "Week", month: "Month", rolling: "Rolling hours", lifetime: "Lifetime",
  held: "Held at one API at once",
};

const PERIOD_ADJECTIVES: Record<Exclude<PeriodKind, typeof PERIOD.rolling>, string> = {
  request: "per request", day: "daily", week: "weekly", month: "monthly", lifetime: "lifetime",
  held: "held at the API at once",
};

/** "daily", "rolling 6 h", … */
export function periodName(p: Period): string {
  return typeof p === "string" ? PERIOD_ADJECTIVES[p] : `rolling ${p.rolling.hours} h`;
}

/** "agent research on api.example.com/v1", "whole wallet", … */
export function scopeName(s: Pick<Scope, "agent" | "host" | "path_prefix">): string {
  const api = s.host ? `${s.host}${s.path_prefix ?? ""}` : null;
  if (s.agent && api) return `agent ${s.agent} on ${api}`;
  if (s.agent) return `agent ${s.agent}`;
  if (api) return `API ${api}`;
  return "whole wallet";
}

/** A payment status or alert kind as words: "bad preimage", "budget crossing". */
export function words(name: string): string {
  return name.replace(/_/g, " ");
}

/** Whether a payment went through (its reason, if any, is then not a failure's). */
export function isSettled(status: PaymentStatus): boolean {
  return status === STATUS.settled;
}

/** Refusal reasons as a person reads them; the code itself stays in the detail and the API. */
const REASONS: Record<string, string> = {
  budget_exceeded: "over budget",
  over_threshold_denied: "above the ask limit",
  denied_by_user: "denied by you",
  approval_timeout: "nobody answered in time",
  payments_paused: "payments paused",
  loop_detected: "stopped: repeated payments",
  price_mismatch: "price above the advertised one",
  max_sats_exceeded: "above the agent's own maximum",
  invoice_already_paid: "invoice paid before",
  payment_unknown: "outcome unknown",
  invoice_expired: "invoice expired",
  challenge_expired: "challenge expired",
  wrong_network: "invoice for another network",
  amountless_invoice: "invoice without an amount",
  invalid_invoice: "unreadable invoice",
  payment_hash_mismatch: "token and invoice disagree",
  token_invoice_mismatch: "token minted for another invoice",
  fee_too_high: "routing fee above the cap",
  malformed_challenge: "unreadable challenge",
  body_too_large: "request too large to replay",
  insufficient_balance: "wallet balance too low",
  payment_failed: "payment failed",
  wallet_not_configured: "no wallet connected",
  wallet_unreachable: "wallet unreachable",
  wallet_timeout: "wallet too slow",
  too_many_approvals: "too many waiting for you",
  unsupported_scheme: "offer passed on (not payable here)",
  payment_request_failed: "no invoice for the offer",
};

/** "over budget" for `budget_exceeded`; an unknown code as words. */
export function reasonWords(code: string): string {
  return REASONS[code] ?? words(code);
}
