// Formatting shared by every screen: amounts, times, scopes.
import { useEffect, useState } from "preact/hooks";

/** "1 sat", "21 sats", "1.5 sats", "12,345 sats". */
export function sats(msat: number | null | undefined): string {
  if (msat === null || msat === undefined) return "–";
  const s = msat / 1000;
  const text = Number.isInteger(s)
    ? s.toLocaleString("en-US")
    : s.toLocaleString("en-US", { minimumFractionDigits: 0, maximumFractionDigits: 3 });
  return `${text} ${s === 1 ? "sat" : "sats"}`;
}

/** Whole sats for headlines: "578 sats", "4,963 sats" (rounded to the nearest sat). */
export function satsWhole(msat: number): string {
  const s = Math.round(msat / 1000);
  return `${s.toLocaleString("en-US")} ${s === 1 ? "sat" : "sats"}`;
}

/** A fee, small as it usually is: "0.58 sat", "0.001 sat", "12 sats". */
export function feeText(msat: number): string {
  if (msat >= 1000) return sats(msat);
  return `${(msat / 1000).toLocaleString("en-US", { maximumFractionDigits: msat < 10 ? 3 : 2 })} sat`;
}

/** A budget's use: its true percentage (307 of 300 is 102), the bar's width (at most 100) and its tone. */
export function budgetUse(used: number, limit: number): { percent: number; width: number; tone: "ok" | "hot" | "over" } {
  const percent = limit <= 0 ? 100 : Math.round((used / limit) * 100);
  const tone = used > limit ? "over" : percent >= 80 ? "hot" : "ok";
  return { percent, width: Math.min(100, percent), tone };
}

/** "512 B", "1.5 KiB", "12.3 MiB". */
export function bytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${value} B` : `${value.toLocaleString("en-US", { maximumFractionDigits: 1 })} ${units[unit]}`;
}

/** "just now", "5 s ago", "3 min ago", "2 h ago", else the local date and time. */
export function ago(iso: string, now: number = Date.now()): string {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return iso;
  const s = Math.round((now - t) / 1000);
  if (s < 2) return "just now";
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return new Date(t).toLocaleString();
}

/** A moment in the person's own time zone: "2 Dec 2026, 14:03:07". */
export function localTime(iso: string): string {
  const t = Date.parse(iso);
  return Number.isNaN(t) ? iso : new Date(t).toLocaleString("en-GB", { dateStyle: "medium", timeStyle: "medium" });
}

/** Seconds left until `ms` (epoch), never negative. */
export function secondsLeft(ms: number, now: number = Date.now()): number {
  return Math.max(0, Math.round((ms - now) / 1000));
}

/** The share of a budget used, uncapped and with the one thousands separator: "50 %", "6,346 %". */
export function percentUsed(used: number, limit: number): string {
  return `${budgetUse(used, limit).percent.toLocaleString("en-US")} %`;
}

/** A date input's value (`YYYY-MM-DD`, local) as epoch ms at local midnight; `null` when empty. */
export function dateToMs(value: string, endOfDay = false): number | null {
  if (!value) return null;
  const [y, m, d] = value.split("-").map(Number);
  if (!y || !m || !d) return null;
  return new Date(y, m - 1, endOfDay ? d + 1 : d).getTime();
}

/** Parses a whole number of sats typed by a person; explains what is wrong otherwise. */
export function parseSats(text: string, what: string): number {
  const t = text.trim().replace(/[,_ ]/g, "");
  if (t === "") throw new Error(`${what}: enter a number of sats`);
  if (!/^\d+$/.test(t)) throw new Error(`${what}: “${text}” is not a whole, positive number of sats`);
  const n = Number(t);
  if (!Number.isSafeInteger(n)) throw new Error(`${what}: that is more sats than exist`);
  return n;
}

/** Re-renders the calling screen every `ms`, so "3 min ago" stays true while it is open. */
export function useClock(ms = 15_000): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(t);
  }, [ms]);
  return now;
}

/** A request or address cut into pieces after each "/", "?", "&" and "=" (and before a long run goes on), so
 *  a narrow column wraps it at its own separators rather than inside a word. */
export function wrapPoints(text: string): string[] {
  return text.split(/(?<=[/?&=])/).filter((p) => p !== "");
}

const SYMBOLS: Record<string, string> = { USD: "$", EUR: "€", GBP: "£", JPY: "¥" };

/** An amount in a currency as the core writes it: "$1.00", "$0.05", "$0.0012", "0.50 CHF" (two decimals,
 *  more only when needed, six at most). */
export function moneyText(currency: string, micros: number): string {
  const sign = micros < 0 ? "-" : "";
  const abs = Math.abs(Math.round(micros));
  const whole = Math.floor(abs / 1_000_000);
  let decimals = String(abs % 1_000_000).padStart(6, "0");
  while (decimals.length > 2 && decimals.endsWith("0")) decimals = decimals.slice(0, -1);
  const number = `${whole.toLocaleString("en-US")}.${decimals}`;
  const symbol = SYMBOLS[currency];
  return symbol ? `${sign}${symbol}${number}` : `${sign}${number} ${currency}`;
}

/** `Money` from the core, or "–". */
export function money(m: { currency: string; micros: number } | null | undefined): string {
  return m ? moneyText(m.currency, m.micros) : "–";
}

/** What `msat` is worth at `perBtc` units of the currency a bitcoin, in millionths (rounded). */
export function microsAt(msat: number, perBtc: number): number {
  return Math.round((msat * perBtc) / 100_000);
}

/** The currencies offered in the picker; any other ISO code a rate source knows may be typed. */
export const COMMON_CURRENCIES = ["USD", "EUR", "GBP", "JPY", "CAD", "AUD", "CHF"];

/** A headline amount: rounded to the cent ("$0.29", "$4.81"), the exact figure kept for sums under a cent. */
export function moneyShort(currency: string, micros: number): string {
  return moneyText(currency, Math.abs(micros) >= 10_000 ? Math.round(micros / 10_000) * 10_000 : micros);
}
