import type { z } from "zod";
import type { Random } from "../../random/index.ts";

/**
 * What the session does with a statement (or a new connection) a rule matched. Faults decide;
 * the session carries the action out, so each fault stays a few lines, like a Toxiproxy toxic.
 */
export type FaultAction =
  /** Send this SQL instead; the real server runs it and answers (sqlError, terminateBackend). */
  | { action: "replace"; sql: string }
  /** Hold the statement (before) or its reply (after) for `ms`. */
  | { action: "delay"; ms: number; when: "before" | "after" }
  /** Close both sockets before the statement is sent, or after it ran but before its reply. */
  | { action: "reset"; when: "before" | "after" }
  /** Forward nothing more in either direction; the client waits until it gives up. */
  | { action: "blackhole" }
  /** At startup: answer with a FATAL error instead of connecting upstream. */
  | { action: "refuse"; sqlstate: string; message: string };

/** Where a fault applies: to statements, or to new connections at startup. */
export type FaultPhase = "statement" | "connect";

/** A fault ready to fire. */
export interface Fault {
  readonly type: string;
  readonly phase: FaultPhase;
  /** Decide what happens this time (jitter draws from the run's seeded random). */
  act(random: Random): FaultAction;
  /** A short description for the proxy's log lines. */
  describe(): string;
}

/** One fault type: its data shape and how to build it. */
export interface FaultType<Spec extends { type: string }> {
  readonly type: Spec["type"];
  readonly schema: z.ZodType<Spec>;
  create(spec: Spec): Fault;
}

/** Quote a string as a dollar-quoted SQL literal that cannot be broken out of. */
export function dollarQuote(text: string, base = "fl"): string {
  let tag = base;
  while (text.includes(`$${tag}$`)) tag += "x";
  return `$${tag}$${text}$${tag}$`;
}
