import type { HtmlLoadSummary, PageInvariant } from "./data.ts";
import { el, fmt, statusLabel } from "./dom.ts";

/** The load command's figures: rates, latencies, statuses, thresholds and what held it back. */
export function loadPanel(load: HtmlLoadSummary, into: HTMLElement): void {
  const dl = (rows: [string, string][]) =>
    el("dl", {}, ...rows.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
  const panel = el("div", { class: "load-panel" }, el("h3", {}, "Load"));
  const held = load.achievedRate >= load.requestedRate * 0.99;
  const unanswered = load.sent - Object.values(load.byStatus).reduce((a, b) => a + b, 0);
  const share = fmt((load.achievedRate / load.requestedRate) * 100);
  panel.append(
    dl([
      ["requested", `${fmt(load.requestedRate)}/s`],
      ["achieved", `${fmt(load.achievedRate)}/s${held ? "" : ` (${share}% of requested)`}`],
      ["sent", fmt(load.sent, 0)],
      ["acknowledged (2xx)", fmt(load.acked, 0)],
      ["sent > 10 ms late", fmt(load.late, 0)],
      ["dropped", fmt(load.dropped, 0)],
    ]),
    dl([
      ["p50", `${fmt(load.latency.p50)} ms`],
      ["p90", `${fmt(load.latency.p90)} ms`],
      ["p99", `${fmt(load.latency.p99)} ms`],
      ["p99.9", `${fmt(load.latency.p999)} ms`],
      ["max", `${fmt(load.latency.max)} ms`],
    ]),
    dl([
      ...Object.entries(load.byStatus).map(([s, n]): [string, string] => [
        statusLabel(s),
        fmt(n, 0),
      ]),
      ...(unanswered > 0 ? [["never answered", fmt(unanswered, 0)] as [string, string]] : []),
      ...(load.proxyBusyPercent === undefined
        ? []
        : [["proxy busy", `${fmt(load.proxyBusyPercent)}% of a core`] as [string, string]]),
    ]),
  );
  if (load.thresholds.length) {
    const list = el("dl", { class: "thresholds" });
    for (const t of load.thresholds) {
      list.append(
        el("dt", {}, t.source),
        el(
          "dd",
          { class: t.passed ? "threshold-pass" : "threshold-fail" },
          (t.passed ? "✓ pass" : "✗ FAIL") +
            (t.actual === undefined ? "" : ` (${fmt(t.actual, 3)})`),
        ),
      );
    }
    panel.append(list);
  }
  if (load.rateNotHeld)
    panel.append(el("div", { class: "warning rate-not-held" }, `⚠ ${load.rateNotHeld}`));
  if (load.achievedRate < load.requestedRate * 0.9)
    panel.append(
      el(
        "div",
        { class: "warning service-behind" },
        `⚠ requests completed at ${fmt(load.achievedRate)}/s of the ${fmt(load.requestedRate)}/s requested: the service fell behind, so latency climbs and late requests go unanswered`,
      ),
    );
  if (load.proxyBusyPercent !== undefined && load.proxyBusyPercent > 80)
    panel.append(
      el(
        "div",
        { class: "warning proxy-bound" },
        `The proxy was busy ${fmt(load.proxyBusyPercent)}% of a core: it, not the service, may have limited this load.`,
      ),
    );
  into.append(panel);
}

/** Each invariant's verdict with what was expected, what was seen and the evidence. */
export function invariantsTable(invariants: PageInvariant[], into: HTMLElement): void {
  const table = el(
    "table",
    { class: "invariants" },
    el(
      "tr",
      {},
      el("th", {}, "invariant"),
      el("th", {}, "verdict"),
      el("th", {}, "expected / seen"),
      el("th", {}, "evidence"),
    ),
  );
  for (const inv of invariants) {
    table.append(
      el(
        "tr",
        {},
        el("td", {}, inv.name),
        el(
          "td",
          { class: inv.passed ? "verdict-pass" : "verdict-fail" },
          inv.passed ? "pass" : "FAIL",
        ),
        el("td", {}, `expected ${inv.expected}`, el("br"), `seen ${inv.seen}`),
        el("td", {}, el("pre", { class: "evidence" }, inv.evidence.join("\n"))),
      ),
    );
  }
  into.append(el("h4", {}, "Invariants"), table);
}
