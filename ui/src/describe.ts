// How the screens name Purser's states and scopes for a person: one place for the words every screen shares.

import type { PaymentStatus } from "./bindings/PaymentStatus";
import type { Period } from "./bindings/Period";
import type { PeriodKind } from "./bindings/PeriodKind";
import type { Scope } from "./bindings/Scope";
import { STATUS, PERIOD } from "./bindings/values";

/** How the budget form names each period. */
export const PERIOD_LABELS: Record<PeriodKind, string> = {
  request: "Per request", day: "Day", week: "Week", month: "Month", rolling: "Rolling hours", lifetime: "Lifetime",
};

const PERIOD_ADJECTIVES: Record<Exclude<PeriodKind, typeof PERIOD.rolling>, string> = {
  request: "per request", day: "daily", week: "weekly", month: "monthly", lifetime: "lifetime",
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
