/**
 * What the report's page receives as JSON: counted in Node (html.ts, waterfall.ts) and drawn in
 * the browser (main.ts). Self-contained types, so the page compiles against the DOM alone.
 */

/** A statement's outcome as the lanes colour it. */
export type MarkResult = "ok" | "error" | "lost";

/** One latency sample over time: seconds since the run started, percentiles in milliseconds. */
export interface LatencyPoint {
  t: number;
  p50: number;
  p90: number;
  p99: number;
}

/** A load run's figures for the summary panel: rates per second, latencies in milliseconds. */
export interface HtmlLoadSummary {
  requestedRate: number;
  achievedRate: number;
  sent: number;
  acked: number;
  late: number;
  dropped: number;
  latency: { p50: number; p90: number; p99: number; p999: number; max: number };
  byStatus: Record<string, number>;
  /** `actual` as measured, a number or a number with its unit (`"12.5ms"`). */
  thresholds: { source: string; passed: boolean; actual?: number | string }[];
  /** The proxy's time in its handlers as a share of one CPU core, in percent. */
  proxyBusyPercent?: number;
  /** Why the generator could not hold the requested rate, when it could not. */
  rateNotHeld?: string;
}

/**
 * Consecutive statements of one session drawn as one mark: from the first's start to the
 * last's end, in seconds since the run's start, coloured by the worst result among them.
 */
export interface LaneRun {
  from: number;
  to: number;
  count: number;
  result: MarkResult;
  /** The most frequent SQLSTATE among them, if any failed. */
  sqlstate?: string;
  /** SQLSTATEs among them and how many of each. */
  sqlstates?: Record<string, number>;
  /** When statements of different results share the run (per bucket): how many of each. */
  mix?: Record<MarkResult, number>;
}

/** Where a session sat in a failed transaction block, in seconds since the run's start. */
export interface AbortedStretch {
  from: number;
  to: number;
  /** Still aborted at the session's last statement. */
  open?: boolean;
  /** The part of from..to the session really was aborted (stretches close together merge). */
  share: number;
}

/** One lane of the swimlane: a session (or sessions that never overlapped, on huge runs). */
export interface Lane {
  conns: number[];
  runs: LaneRun[];
  /**
   * Stretches (seconds since the start) where the session sat in a failed transaction block;
   * `share` is how much of a merged stretch really was (1: aborted throughout).
   */
  aborted: AbortedStretch[];
}

/** One line of the timeline: deliveries of one HTTP status, or statements of one SQLSTATE. */
export interface TimelineSeries {
  label: string;
  kind: "status" | "sqlstate";
  key: string;
  /** How many fell in each bucket. */
  counts: number[];
}

/** A delivery's span on the swimlane's time axis, in seconds since the run's start. */
export interface DeliverySpan {
  /** The delivery's position in the run, from 1 as the waterfall numbers them. */
  n: number;
  from: number;
  to: number;
  status: number;
}

/** The timeline and the lanes, counted in Node so the page carries no per-statement rows. */
export interface Aggregated {
  /** Epoch milliseconds of the run's first event; every other time is seconds after it. */
  t0: number;
  spanSeconds: number;
  /** What the time axes count in: milliseconds for a run shorter than a few seconds. */
  timeUnit: "ms" | "s";
  bucketMs: number;
  /** Bucket starts, in seconds. */
  x: number[];
  /** Counts per bucket, by HTTP status (of deliveries) or SQLSTATE (of statements). */
  series: TimelineSeries[];
  /** Where faults fired, in seconds; one per bucket when there were more than MAX_FAULT_MARKS. */
  faultMarks: number[];
  faultCount: number;
  lanes: Lane[];
  /** Whether lanes show one run per bucket (the run had too many statements to draw each). */
  bucketedLanes: boolean;
  /** Each delivery's span, for runs with few enough to label on the swimlane; else empty. */
  deliverySpans: DeliverySpan[];
  statements: number;
  deliveries: number;
}

/** How a statement took part in a cascade. */
export type StatementRole = "cause" | "cascade";

/** One statement the service ran, as the waterfall lists it; times in ms since the run's start. */
export interface WaterfallStatement {
  sql: string;
  conn: number;
  atMs: number;
  durationMs: number;
  outcome: "ok" | "error" | "skipped" | "lost";
  /** The command tag of one that succeeded (`INSERT 0 1`). */
  tag?: string;
  sqlstate?: string;
  message?: string;
  /** Where in the extended protocol it failed (parse, bind, …), when before it ran. */
  step?: string;
  /**
   * `cause`: an error that left its transaction aborted for later statements; `cascade`: one
   * such an error aborted (25P02, or skipped in its batch).
   */
  role?: StatementRole;
}

/** One webhook delivery and the statements the service ran while handling it. */
export interface WaterfallDelivery {
  /** Position in the run, from 1, in the order the deliveries started. */
  n: number;
  label: string;
  type: string;
  eventId: string;
  attempt: number;
  /** HTTP status, 0 when no response came. */
  status: number;
  error?: string;
  redeliveryOf?: string;
  duplicateOf?: string;
  signature?: string;
  fromMs: number;
  toMs: number;
  statements: WaterfallStatement[];
  /** Statements attributed to it beyond those listed. */
  statementsNotShown: number;
  /** `cause`: the run's cause ran while handling it; `cascade`: only statements it aborted failed. */
  role?: StatementRole;
}

/** The run's first error and what it aborted (nothing, when the service rolled back). */
export interface CascadeCause {
  /** The delivery it ran under (its `n`), if any. */
  delivery?: number;
  conn: number;
  sql: string;
  sqlstate: string;
  message: string;
  atMs: number;
  /** Statements it aborted (25P02 or skipped) on its connection before a rollback. */
  aborted: number;
  /** The deliveries (`n`) those aborted statements served. */
  abortedDeliveries: number[];
}

/** The deliveries in the order they started, each with its statements. */
export interface Waterfall {
  spanMs: number;
  deliveries: WaterfallDelivery[];
  /** Deliveries of the run left out before and after those listed (a load has thousands). */
  notShownBefore: number;
  notShownAfter: number;
  /** Statements that ran during no delivery (startup, pool checks). */
  outside: WaterfallStatement[];
  outsideNotShown: number;
  cause?: CascadeCause;
}

/** An invariant's verdict as the page lists it. */
export interface PageInvariant {
  name: string;
  passed: boolean;
  expected: string;
  seen: string;
  evidence: string[];
}

/** The browser's copy of a result: the verdicts, and the charts' data already counted. */
export interface PageResult {
  name: string;
  cell?: Record<string, string>;
  verdict: "pass" | "fail" | "error";
  service: string;
  seed: number;
  durationMs: number;
  error?: { code: string; message: string };
  invariants: PageInvariant[];
  sqlstates: Record<string, number>;
  /** Deliveries by HTTP status (`"0"`: no response). */
  statuses: Record<string, number>;
  charts?: Aggregated;
  waterfall?: Waterfall;
}

/** One column of the report: a service's results (gate has two, baseline and candidate). */
export interface PageSide {
  label: string;
  load?: HtmlLoadSummary;
  latency: LatencyPoint[];
  results: PageResult[];
}

export interface PageData {
  title: string;
  /** `gate`: the two sides are a baseline and a candidate, shown as BEFORE and AFTER. */
  comparison: boolean;
  sides: PageSide[];
}
