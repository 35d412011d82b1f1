import { describeSqlstate } from "../../postgres/sqlstates.ts";
import type {
  PageResult,
  PageSide,
  Waterfall,
  WaterfallDelivery,
  WaterfallStatement,
} from "./data.ts";
import { el, fmt, fmtMs, statusColour, statusLabel } from "./dom.ts";

/** A bar on the waterfall's time track, placed by percentage of the run's span. */
function bar(fromMs: number, toMs: number, spanMs: number, className: string): HTMLElement {
  const left = Math.min(100, (fromMs / spanMs) * 100);
  const width = Math.max(0, ((toMs - fromMs) / spanMs) * 100);
  return el(
    "div",
    { class: "wf-track" },
    el("div", {
      class: `wf-bar ${className}`,
      style: `left: ${left.toFixed(2)}%; width: ${width.toFixed(2)}%`,
    }),
  );
}

function deliveryName(d: WaterfallDelivery): string {
  const copy = d.redeliveryOf
    ? ` (redelivery of ${d.redeliveryOf})`
    : d.duplicateOf
      ? ` (duplicate of ${d.duplicateOf})`
      : "";
  const forged = d.signature ? ` [signature: ${d.signature}]` : "";
  return `#${d.n} ${d.label}${copy}${forged}`;
}

function deliveryRow(d: WaterfallDelivery, spanMs: number): HTMLElement {
  const status =
    d.status === 0 ? `no response${d.error ? `: ${d.error}` : ""}` : statusLabel(d.status);
  const badge =
    d.role === "cause"
      ? el("span", { class: "badge badge-cause" }, "cause here")
      : d.role === "cascade"
        ? el("span", { class: "badge badge-cascade" }, "cascade")
        : "";
  return el(
    "div",
    {
      class: `wf-row wf-delivery${d.role ? ` role-${d.role}` : ""}`,
      "data-n": String(d.n),
      "data-status": String(d.status),
      ...(d.role ? { "data-role": d.role } : {}),
    },
    el(
      "div",
      { class: "wf-what" },
      el("b", {}, deliveryName(d)),
      " ",
      badge,
      el(
        "div",
        { class: "wf-sub" },
        `${d.type} · `,
        el("code", {}, d.eventId),
        ` · attempt ${d.attempt}`,
      ),
    ),
    el("div", { class: "wf-conn" }, ""),
    el(
      "div",
      { class: "wf-result" },
      el("span", { class: "status-chip", style: `background: ${statusColour(d.status)}` }, status),
    ),
    el(
      "div",
      { class: "wf-time" },
      `${fmt(d.fromMs, 0)} ms`,
      el("br"),
      `took ${fmtMs(d.toMs - d.fromMs)}`,
    ),
    bar(d.fromMs, d.toMs, spanMs, `delivery status-${Math.floor(d.status / 100)}xx`),
  );
}

function outcomeText(s: WaterfallStatement): string {
  if (s.outcome === "error" && s.sqlstate) return describeSqlstate(s.sqlstate);
  if (s.outcome === "skipped") return "skipped: its batch had failed";
  if (s.outcome === "lost") return "lost: no answer";
  return s.tag ?? "ok";
}

function statementRow(s: WaterfallStatement, spanMs: number): HTMLElement {
  const badge =
    s.role === "cause"
      ? el("span", { class: "badge badge-cause" }, "CAUSE")
      : s.role === "cascade"
        ? el("span", { class: "badge badge-cascade" }, "CASCADE")
        : "";
  const message =
    s.message && s.role !== "cascade" ? el("div", { class: "wf-message" }, s.message) : "";
  return el(
    "div",
    {
      class: `wf-row wf-statement outcome-${s.outcome}${s.role ? ` role-${s.role}` : ""}`,
      ...(s.sqlstate ? { "data-sqlstate": s.sqlstate } : {}),
      ...(s.role ? { "data-role": s.role } : {}),
      title: `${s.sql}${s.message ? `\n→ ${s.message}` : ""}${s.step ? ` (at ${s.step})` : ""}`,
    },
    el(
      "div",
      { class: "wf-what" },
      badge,
      badge ? " " : "",
      el("code", { class: "wf-sql" }, s.sql),
    ),
    el("div", { class: "wf-conn" }, `conn #${s.conn}`),
    el("div", { class: "wf-result" }, outcomeText(s), message),
    el("div", { class: "wf-time" }, `${fmt(s.atMs, 0)} ms`, el("br"), fmtMs(s.durationMs)),
    bar(s.atMs, s.atMs + s.durationMs, spanMs, `statement outcome-${s.outcome}`),
  );
}

/** The sentence a person tells first: what failed, where, and what it took down with it. */
function causeSummary(w: Waterfall): HTMLElement {
  const c = w.cause;
  if (!c) return el("p", { class: "wf-summary wf-clean" }, "No statement failed.");
  const where = c.delivery === undefined ? "outside any delivery" : `while handling #${c.delivery}`;
  const head = [
    el("b", {}, c.aborted > 0 ? "Cause: " : "First error: "),
    el(
      "span",
      { class: `badge ${c.aborted > 0 ? "badge-cause" : "badge-error"}` },
      describeSqlstate(c.sqlstate),
    ),
    ` ${where}, on conn #${c.conn}: `,
    el("code", {}, c.sql),
    ` → ${c.message}. `,
  ];
  const tail =
    c.aborted > 0
      ? [
          "It left the transaction aborted: ",
          el(
            "b",
            { class: "cascade-count" },
            `${c.aborted} later statement${c.aborted === 1 ? "" : "s"}`,
          ),
          ` in ${c.abortedDeliveries.length} deliver${c.abortedDeliveries.length === 1 ? "y" : "ies"} (${c.abortedDeliveries.map((n) => `#${n}`).join(", ")}) failed without running: the `,
          el("span", { class: "badge badge-cascade" }, "cascade"),
          ".",
        ]
      : ["Nothing was aborted after it: the service rolled back and carried on."];
  return el("p", { class: `wf-summary${c.aborted > 0 ? "" : " wf-handled"}` }, ...head, ...tail);
}

/** The delivery waterfall of one result: each delivery, then the statements it ran. */
export function waterfall(result: PageResult, into: HTMLElement, heading: string): void {
  const w = result.waterfall;
  const section = el(
    "section",
    { class: "waterfall", "data-result": result.name },
    el(
      "h3",
      {},
      heading,
      " — ",
      el("span", { class: `verdict-${result.verdict}` }, result.verdict),
    ),
  );
  into.append(section);
  if (!w || (w.deliveries.length === 0 && w.outside.length === 0)) {
    section.append(el("p", { class: "empty" }, "No deliveries were sent."));
    return;
  }
  section.append(causeSummary(w));
  const rows = el(
    "div",
    { class: "wf-rows" },
    el(
      "div",
      { class: "wf-row wf-head" },
      el("div", {}, "delivery / statement"),
      el("div", {}, "conn"),
      el("div", {}, "result"),
      el("div", {}, "at"),
      el("div", { class: "wf-scale" }, el("span", {}, "0"), el("span", {}, fmtMs(w.spanMs))),
    ),
  );
  if (w.notShownBefore > 0)
    rows.append(
      el("div", { class: "wf-more" }, `… ${fmt(w.notShownBefore, 0)} earlier deliveries`),
    );
  for (const d of w.deliveries) {
    rows.append(deliveryRow(d, w.spanMs));
    if (d.statements.length === 0 && d.status >= 200)
      rows.append(el("div", { class: "wf-more" }, "no statement ran while it was handled"));
    for (const s of d.statements) rows.append(statementRow(s, w.spanMs));
    if (d.statementsNotShown > 0)
      rows.append(
        el("div", { class: "wf-more" }, `… and ${fmt(d.statementsNotShown, 0)} more statements`),
      );
  }
  if (w.notShownAfter > 0)
    rows.append(
      el(
        "div",
        { class: "wf-more" },
        `… ${fmt(w.notShownAfter, 0)} later deliveries (all of them in --json)`,
      ),
    );
  if (w.outside.length > 0) {
    rows.append(
      el(
        "div",
        { class: "wf-row wf-delivery wf-outside" },
        el("div", { class: "wf-what" }, el("b", {}, "during no delivery")),
      ),
    );
    for (const s of w.outside) rows.append(statementRow(s, w.spanMs));
    if (w.outsideNotShown > 0)
      rows.append(
        el("div", { class: "wf-more" }, `… and ${fmt(w.outsideNotShown, 0)} more statements`),
      );
  }
  section.append(rows);
}

function sum(results: PageResult[], pick: (r: PageResult) => Record<string, number>) {
  const total: Record<string, number> = {};
  for (const r of results)
    for (const [k, n] of Object.entries(pick(r))) total[k] = (total[k] ?? 0) + n;
  return total;
}

/** Gate's BEFORE and AFTER: verdicts, SQLSTATEs and HTTP statuses counted on each side. */
export function comparison(before: PageSide, after: PageSide, into: HTMLElement): void {
  const section = el("section", { class: "comparison" }, el("h2", {}, "BEFORE → AFTER"));
  const verdicts = (side: PageSide) =>
    (["pass", "fail", "error"] as const)
      .map((v) => [v, side.results.filter((r) => r.verdict === v).length] as const)
      .filter(([, n]) => n > 0)
      .map(([v, n]) => `${n} ${v}`)
      .join(", ") || "no results";
  const list = el("ul", { class: "deltas" });
  const compare = (
    kind: string,
    key: string,
    label: string,
    a: number,
    b: number,
    fewerIsBetter: boolean,
  ) => {
    const better = fewerIsBetter ? b < a : b > a;
    list.append(
      el(
        "li",
        { class: `delta ${a === b ? "same" : better ? "better" : "worse"}`, [`data-${kind}`]: key },
        `${label}: `,
        el("b", {}, `${fmt(a, 0)} → ${fmt(b, 0)}`),
      ),
    );
  };
  const byCode = (a: string, b: string) => a.localeCompare(b, "en", { numeric: true });
  const keys = (x: Record<string, number>, y: Record<string, number>) =>
    [...new Set([...Object.keys(x), ...Object.keys(y)])].sort(byCode);
  const codesBefore = sum(before.results, (r) => r.sqlstates);
  const codesAfter = sum(after.results, (r) => r.sqlstates);
  for (const code of keys(codesBefore, codesAfter))
    compare(
      "sqlstate",
      code,
      describeSqlstate(code),
      codesBefore[code] ?? 0,
      codesAfter[code] ?? 0,
      true,
    );
  const statusBefore = sum(before.results, (r) => r.statuses);
  const statusAfter = sum(after.results, (r) => r.statuses);
  for (const status of keys(statusBefore, statusAfter)) {
    const ok = Number(status) >= 200 && Number(status) < 300;
    compare(
      "status",
      status,
      statusLabel(status),
      statusBefore[status] ?? 0,
      statusAfter[status] ?? 0,
      !ok,
    );
  }
  section.append(
    el(
      "div",
      { class: "before-after" },
      el(
        "div",
        { class: "before" },
        el("h3", {}, "BEFORE"),
        el("div", {}, before.label),
        el("div", {}, verdicts(before)),
      ),
      el(
        "div",
        { class: "after" },
        el("h3", {}, "AFTER"),
        el("div", {}, after.label),
        el("div", {}, verdicts(after)),
      ),
    ),
    list,
  );
  into.append(section);
}
