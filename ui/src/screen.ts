// The screens the window shows, and what each screen is given.

export const SCREENS = [
  ["overview", "Overview"],
  ["ledger", "Ledger"],
  ["approvals", "Approvals"],
  ["budgets", "Budgets & rules"],
  ["agents", "Agents"],
  ["apis", "APIs & pricing"],
  ["wallet", "Wallet"],
  ["settings", "Settings"],
] as const;
export type Screen = (typeof SCREENS)[number][0];

export type ScreenProps = { tick: number; refresh: () => void; go: (s: Screen) => void };
