// The screens the window shows, and what each screen is given.

import type { PaymentFilter } from "./bindings/PaymentFilter";

export const SCREENS = [
  ["overview", "Overview"],
  ["ledger", "Ledger"],
  ["approvals", "Approvals"],
  ["tasks", "Tasks"],
  ["budgets", "Budgets & rules"],
  ["agents", "Agents"],
  ["apis", "APIs & pricing"],
  ["wallet", "Wallet"],
  ["settings", "Settings"],
] as const;
export type Screen = (typeof SCREENS)[number][0];

export type ScreenProps = { tick: number; refresh: () => void; go: (s: Screen) => void };

/** A filter for the ledger to open with, set by a link elsewhere ("3 refused" on the Overview). */
let ledgerStart: Partial<PaymentFilter> = {};

export function openLedgerWith(filter: Partial<PaymentFilter>, go: (s: Screen) => void) {
  ledgerStart = filter;
  go("ledger");
}

/** The filter the ledger opens with, once. */
export function takeLedgerStart(): Partial<PaymentFilter> {
  const f = ledgerStart;
  ledgerStart = {};
  return f;
}
