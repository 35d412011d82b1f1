/**
 * The HTML report's browser code, bundled by esbuild into one script the page inlines. The data
 * arrives counted (timeline buckets, lane runs, the waterfall's rows), so drawing does no
 * per-statement work.
 */
import { charts, chartWidth, drawnLanes, latency, swimlanes, timeline } from "./charts.ts";
import type { PageData, PageResult } from "./data.ts";
import { el } from "./dom.ts";
import { invariantsTable, loadPanel } from "./panels.ts";
import { comparison, waterfall } from "./waterfall.ts";

declare global {
  interface Window {
    /** What the page drew, for a person's console and for the tests. */
    faultlineReport: {
      data: PageData;
      charts: typeof charts;
      lanes: typeof drawnLanes;
      renderMs?: number;
    };
  }
}

const data = JSON.parse(document.getElementById("faultline-data")?.textContent ?? "{}") as PageData;
window.faultlineReport = { data, charts, lanes: drawnLanes };
const columns = Math.max(1, data.sides.length);

function cellOf(result: PageResult): string {
  return result.cell
    ? ` [${Object.entries(result.cell)
        .map(([k, v]) => `${k}=${v}`)
        .join(", ")}]`
    : "";
}

// First the story: each delivery and what it ran, BEFORE and AFTER side by side for a gate.
const story = document.getElementById("story") as HTMLElement;
const [before, after] = data.sides;
if (data.comparison && before && after) comparison(before, after, story);
const storyColumns = el("div", { class: `story-columns sides-${columns}` });
story.append(storyColumns);
data.sides.forEach((side, i) => {
  const column = el("div", { class: "story-side" });
  if (data.comparison)
    column.append(el("h2", {}, i === 0 ? "BEFORE" : "AFTER", el("small", {}, ` ${side.label}`)));
  storyColumns.append(column);
  for (const result of side.results)
    waterfall(result, column, `Deliveries of ${result.name}${cellOf(result)}`);
});

// Then the details: the load's figures, the charts and every invariant's verdict.
const sides = document.getElementById("sides") as HTMLElement;
for (const side of data.sides) {
  const section = el("section", { class: "side" });
  // A run's one side is named like the page: its title says it once.
  if (data.sides.length > 1 || side.label !== data.title) section.append(el("h2", {}, side.label));
  sides.append(section);
  if (side.load) loadPanel(side.load, section);
  latency(side.latency, columns, section);
  for (const result of side.results) {
    const sqlstates =
      Object.entries(result.sqlstates)
        .map(([k, v]) => `${k}×${v}`)
        .join(" ") || "none";
    const article = el(
      "article",
      { class: "result", "data-verdict": result.verdict },
      el(
        "h3",
        {},
        `${result.name}${cellOf(result)} — `,
        el("span", { class: `verdict-${result.verdict}` }, result.verdict),
      ),
      el(
        "div",
        {},
        `service ${result.service}, seed ${result.seed}, ${result.durationMs} ms; SQLSTATEs ${sqlstates}`,
      ),
    );
    if (result.error)
      article.append(
        el("pre", { class: "evidence" }, `${result.error.code}: ${result.error.message}`),
      );
    section.append(article);
    if (result.charts) {
      timeline(result.charts, columns, article);
      swimlanes(result, result.charts, columns, article);
    }
    invariantsTable(result.invariants, article);
  }
}

// Charts follow the window's width; one resize per frame however many events arrive.
let pending = false;
window.addEventListener("resize", () => {
  if (pending) return;
  pending = true;
  requestAnimationFrame(() => {
    pending = false;
    const width = chartWidth(columns);
    for (const chart of charts) chart.setSize({ width, height: chart.height });
  });
});
window.faultlineReport.renderMs = performance.now();
