// The spend chart: stacked bars per day, one colour per API or agent (Chart.js).
import { moneyText, sats } from "./format";
import {
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  Legend,
  LinearScale,
  Tooltip,
} from "chart.js";
import type { DaySpend } from "./bindings/DaySpend";

Chart.register(BarController, BarElement, CategoryScale, LinearScale, Legend, Tooltip);

const COLOURS = ["#f7931a", "#3b82f6", "#10b981", "#a855f7", "#ef4444", "#14b8a6", "#eab308", "#64748b"];

/** The last `days` calendar days ending today, as `YYYY-MM-DD` (local). */
export function lastDays(days: number, today: Date = new Date()): string[] {
  const out: string[] = [];
  for (let i = days - 1; i >= 0; i--) {
    const d = new Date(today.getFullYear(), today.getMonth(), today.getDate() - i);
    out.push(`${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`);
  }
  return out;
}

/** One dataset per key (the biggest spenders first, the rest as "other"), values in sats per day, or in
 *  units of the display currency when `fiat` (each payment at its recorded rate). */
export function series(rows: DaySpend[], days: string[], maxKeys = 6, fiat = false) {
  const value = (r: DaySpend) => (fiat ? (r.fiat_micros ?? 0) / 1_000_000 : r.msat / 1000);
  const totals = new Map<string, number>();
  for (const r of rows) totals.set(r.key, (totals.get(r.key) ?? 0) + r.msat);
  const keys = [...totals.entries()].sort((a, b) => b[1] - a[1]).map(([k]) => k);
  const shown = keys.slice(0, maxKeys);
  const named = (k: string) => (shown.includes(k) ? k : "other");
  const labels = [...shown, ...(keys.length > maxKeys ? ["other"] : [])];
  return labels.map((label) => ({
    label,
    data: days.map((d) => rows.filter((r) => r.day === d && named(r.key) === label).reduce((n, r) => n + value(r), 0)),
  }));
}

/** Draws the chart in sats, or in `currency` when given; returns what removes it. */
export function drawSpendChart(canvas: HTMLCanvasElement, rows: DaySpend[], days: number, currency: string | null = null): () => void {
  const labels = lastDays(days);
  const dark = window.matchMedia?.("(prefers-color-scheme: dark)").matches;
  const grid = dark ? "#334155" : "#e2e8f0";
  const text = dark ? "#cbd5e1" : "#475569";
  const chart = new Chart(canvas, {
    type: "bar",
    data: {
      labels: labels.map((d) => d.slice(5)),
      datasets: series(rows, labels, 6, currency !== null).map((s, i) => ({ ...s, backgroundColor: COLOURS[i % COLOURS.length], borderRadius: 3 })),
    },
    options: {
      animation: false,
      maintainAspectRatio: false,
      scales: {
        x: { stacked: true, grid: { display: false }, ticks: { color: text } },
        y: { stacked: true, grid: { color: grid }, ticks: { color: text }, title: { display: true, text: currency ?? "sats", color: text } },
      },
      plugins: {
        legend: { position: "bottom", labels: { color: text, boxWidth: 12 } },
        tooltip: {
          callbacks: {
            label: (item) =>
              `${item.dataset.label}: ${currency ? moneyText(currency, Number(item.raw) * 1_000_000) : sats(Number(item.raw) * 1000)}`,
          },
        },
      },
    },
  });
  return () => chart.destroy();
}
