// Money and time for people: token units with the token's symbol, dates in UTC. Amounts are bigint token
// base units throughout; only these functions turn them into text, and only parseAmount turns text back.
import { formatUnits, parseUnits } from "ethers";

/** "1234.5" -> "1,234.50 tUSD": at least two decimals, no trailing zeros beyond them, never rounded. */
export function formatAmount(value, decimals, symbol) {
  const negative = value < 0n;
  const text = formatUnits(negative ? -value : value, decimals);
  let [whole, frac = ""] = text.split(".");
  frac = frac.replace(/0+$/, "").padEnd(2, "0");
  whole = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return `${negative ? "−" : ""}${whole}.${frac}${symbol ? ` ${symbol}` : ""}`;
}

/** Text typed by a person -> token base units; throws an Error with a sentence a person can act on. */
export function parseAmount(text, decimals, { allowZero = false } = {}) {
  const clean = String(text ?? "").trim().replace(/,/g, "");
  if (!/^\d+(\.\d+)?$/.test(clean)) throw new Error(`Enter an amount such as 12.50 (digits and one decimal point).`);
  const frac = clean.split(".")[1] ?? "";
  if (frac.length > decimals) throw new Error(`This token has ${decimals} decimals: use at most ${decimals} digits after the point.`);
  const value = parseUnits(clean, decimals);
  if (!allowZero && value === 0n) throw new Error("The amount must be more than zero.");
  return value;
}

/** Unix seconds -> "2026-11-26 14:05 UTC"; 0 -> "—". */
export function formatDate(seconds) {
  const s = Number(seconds);
  if (!s) return "—";
  return `${new Date(s * 1000).toISOString().slice(0, 16).replace("T", " ")} UTC`;
}

/** 0x1234…abcd */
export function shortHex(value) {
  return value && value.length > 14 ? `${value.slice(0, 8)}…${value.slice(-6)}` : value;
}

/** A duration in whole days or hours. */
export function formatDuration(seconds) {
  const s = Number(seconds);
  if (s % 86400 === 0) return `${s / 86400} day${s === 86400 ? "" : "s"}`;
  return `${Math.round(s / 3600)} h`;
}
