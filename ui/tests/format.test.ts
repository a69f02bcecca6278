import { describe, expect, it } from "vitest";
import { ago, budgetUse, bytes, dateToMs, feeText, parseSats, percentUsed, sats, satsWhole, secondsLeft, wrapPoints } from "../src/format";
import { lastDays, series } from "../src/chart";

describe("sats", () => {
  it("names amounts with their unit", () => {
    expect(sats(1000)).toBe("1 sat");
    expect(sats(21000)).toBe("21 sats");
    expect(sats(1500)).toBe("1.5 sats");
    expect(sats(12345000)).toBe("12,345 sats");
    expect(sats(null)).toBe("–");
  });
});

describe("input", () => {
  it("accepts whole sats and explains everything else", () => {
    expect(parseSats(" 1,000 ", "Limit")).toBe(1000);
    expect(() => parseSats("-5", "Limit")).toThrow(/not a whole, positive number/);
    expect(() => parseSats("", "Limit")).toThrow(/enter a number/);
    expect(() => parseSats("1.5", "Limit")).toThrow(/Limit/);
  });
  it("turns a date into local midnight", () => {
    expect(dateToMs("2026-03-01")).toBe(new Date(2026, 2, 1).getTime());
    expect(dateToMs("2026-03-01", true)).toBe(new Date(2026, 2, 2).getTime());
    expect(dateToMs("")).toBeNull();
  });
});

describe("time", () => {
  it("says how long ago", () => {
    const now = Date.parse("2026-11-22T12:00:00Z");
    expect(ago("2026-11-22T12:00:00Z", now)).toBe("just now");
    expect(ago("2026-11-22T11:59:30Z", now)).toBe("30 s ago");
    expect(ago("2026-11-22T11:00:00Z", now)).toBe("1 h ago");
    expect(secondsLeft(now + 5400, now)).toBe(5);
    expect(secondsLeft(now - 1, now)).toBe(0);
  });
  it("caps budget bars", () => {
    expect(percentUsed(50, 100)).toBe("50 %");
    expect(percentUsed(150, 100)).toBe("150 %");
    expect(percentUsed(317_000, 5_000)).toBe("6,340 %");
    expect(percentUsed(1, 0)).toBe("100 %");
  });
});

describe("chart series", () => {
  it("stacks per key per day, biggest first, the rest as other", () => {
    const days = lastDays(3, new Date(2026, 10, 22));
    expect(days).toEqual(["2026-11-20", "2026-11-21", "2026-11-22"]);
    const rows = [
      { day: "2026-11-22", key: "a", msat: 5000 },
      { day: "2026-11-21", key: "b", msat: 9000 },
      { day: "2026-11-22", key: "c", msat: 1000 },
    ];
    const s = series(rows, days, 2);
    expect(s.map((x) => x.label)).toEqual(["b", "a", "other"]);
    expect(s[0].data).toEqual([0, 9, 0]);
    expect(s[2].data).toEqual([0, 0, 1]);
  });
});

describe("bytes", () => {
  it("names the unit, binary steps", () => {
    expect(bytes(0)).toBe("0 B");
    expect(bytes(1023)).toBe("1023 B");
    expect(bytes(1536)).toBe("1.5 KiB");
    expect(bytes(1_572_864)).toBe("1.5 MiB");
  });
});

describe("readable amounts", () => {
  it("shows whole sats in headlines and fees apart", () => {
    expect(satsWhole(578_578)).toBe("579 sats");
    expect(satsWhole(4_963_964_000)).toBe("4,963,964 sats");
    expect(satsWhole(1_000)).toBe("1 sat");
    expect(feeText(578)).toBe("0.58 sat");
    expect(feeText(1)).toBe("0.001 sat");
    expect(feeText(12_000)).toBe("12 sats");
  });
  it("tells a budget's true share, its bar and when it is over", () => {
    expect(budgetUse(307, 300)).toEqual({ percent: 102, width: 100, tone: "over" });
    expect(budgetUse(300, 300)).toEqual({ percent: 100, width: 100, tone: "hot" });
    expect(budgetUse(240, 300)).toEqual({ percent: 80, width: 80, tone: "hot" });
    expect(budgetUse(30, 300)).toEqual({ percent: 10, width: 10, tone: "ok" });
  });
});

describe("wrapPoints", () => {
  it("cuts after a request's separators, never inside a word", () => {
    expect(wrapPoints("GET api.example.com/v1/search/item-0?q=a&n=2")).toEqual(["GET api.example.com/", "v1/", "search/", "item-0?", "q=", "a&", "n=", "2"]);
    expect(wrapPoints("/").join("")).toBe("/");
    expect(wrapPoints("")).toEqual([]);
  });
});
