// How figures read in the console. Dates are UTC, so every operator reads the same day.

import { h } from "./dom.js";

const integer = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
const usd = new Intl.NumberFormat("en-US", { style: "currency", currency: "USD", maximumFractionDigits: 4 });

/** The limits a key can carry, in the order the console shows them. A limit shows where
 * a key object has the field, so limits the gateway adds appear with one entry here. */
export const LIMITS = [
  { name: "rpm", label: "Requests per minute", unit: "req/min" },
  { name: "images_per_minute", label: "Images per minute", unit: "img/min" },
  { name: "images_per_day", label: "Images per day", unit: "img/day" },
  { name: "images_per_month", label: "Images per month", unit: "img/month" },
];

/** The money budgets (keys and teams carry them as exact decimal strings of USD). */
export const BUDGETS = [
  { name: "usd_per_day", label: "USD per day", unit: "day", money: true },
  { name: "usd_per_month", label: "USD per month", unit: "month", money: true },
];

/** Every limit and budget, as usage reports and teams show them. */
export const ALL_LIMITS = [...LIMITS, ...BUDGETS];

export const STATUSES = ["active", "disabled", "expired", "revoked"];

export function count(value) {
  return value === null || value === undefined ? "—" : integer.format(value);
}

export function money(value) {
  return value === null || value === undefined ? "—" : usd.format(value);
}

export function percent(ratio) {
  return ratio === null || ratio === undefined ? "—" : `${(ratio * 100).toFixed(1)}%`;
}

export function bytes(value) {
  if (value === null || value === undefined) return "—";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let size = value;
  let unit = 0;
  while (size >= 1024 && unit < units.length - 1) {
    size /= 1024;
    unit += 1;
  }
  return `${unit === 0 ? size : size.toFixed(1)} ${units[unit]}`;
}

export function when(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  return `${new Date(seconds * 1000).toISOString().slice(0, 16).replace("T", " ")} UTC`;
}

/** To the second, for logs: "2026-12-01 09:04:06". */
export function exactTime(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  return new Date(seconds * 1000).toISOString().slice(0, 19).replace("T", " ");
}

export function duration(seconds) {
  if (seconds < 1) return "now";
  if (seconds < 60) return `${Math.ceil(seconds)} s`;
  if (seconds < 3600) return `${Math.ceil(seconds / 60)} min`;
  if (seconds < 86400) return `${(seconds / 3600).toFixed(1)} h`;
  return `${(seconds / 86400).toFixed(1)} days`;
}

/** A key's status: the gateway's own word for it when it sends one. */
export function keyStatus(key, now = Date.now() / 1000) {
  if (typeof key.status === "string") return key.status;
  if (key.revoked) return "revoked";
  if (key.disabled) return "disabled";
  if (key.expires_at !== null && key.expires_at !== undefined && key.expires_at <= now) return "expired";
  return "active";
}

export function statusBadge(status) {
  return h("span", { class: ["status", `status-${status}`] }, status);
}

export function limitsOf(key, limits = LIMITS) {
  return limits.filter((limit) => limit.name in key);
}

/** A limit's value as read: "500" images, "$5.00" (money limits arrive as decimal strings). */
export function limitValue(limit, value) {
  return limit.money ? money(Number(value)) : count(value);
}

export function limitsText(key, limits = LIMITS) {
  const set = limitsOf(key, limits).filter((limit) => key[limit.name] !== null);
  if (set.length === 0) return "Unlimited";
  return set
    .map((limit) => (limit.money ? `${limitValue(limit, key[limit.name])}/${limit.unit}` : `${count(key[limit.name])} ${limit.unit}`))
    .join(" · ");
}

/** "1 image", "2 images". */
export function plural(value, noun) {
  return `${count(value)} ${noun}${value === 1 ? "" : "s"}`;
}

export function todayText(key) {
  const used = key.usage_today;
  if (!used) return "—";
  const quota = key.images_per_day;
  const images = quota === null || quota === undefined
    ? plural(used.images, "image")
    : `${count(used.images)} / ${plural(quota, "image")}`;
  const parts = [images, plural(used.requests, "request")];
  if (used.refused) parts.push(`${count(used.refused)} refused`);
  return parts.join(" · ");
}
