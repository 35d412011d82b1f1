// CPU as Linux's /proc counts it: the host's, one process's, and everyone else's.
import { readdirSync, readFileSync } from "node:fs";

/**
 * Whole-host CPU time in ticks, from /proc/stat (Linux): busy is user, nice, system, irq and
 * softirq; steal (time the hypervisor gave to someone else) is counted apart.
 */
export function hostCpu(): { busy: number; steal: number; total: number } {
  try {
    const fields = readFileSync("/proc/stat", "utf8").split("\n")[0]?.trim().split(/\s+/).slice(1);
    const n = (fields ?? []).map(Number);
    const at = (i: number) => n[i] ?? 0;
    return {
      busy: at(0) + at(1) + at(2) + at(5) + at(6),
      steal: at(7),
      total: n.slice(0, 8).reduce((a, b) => a + b, 0),
    };
  } catch {
    return { busy: Number.NaN, steal: Number.NaN, total: Number.NaN };
  }
}

let clockTicks = 100;

/** Ticks per second of /proc CPU counters (getconf CLK_TCK), when not the usual 100. */
export function setClockTicks(ticks: number): void {
  clockTicks = ticks;
}

/** A process's user+system CPU seconds, from /proc/<pid>/stat. */
export function processCpuSeconds(pid: number | undefined): number {
  if (!pid) return Number.NaN;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / clockTicks;
  } catch {
    return Number.NaN;
  }
}

/** CPU ticks of every process now, with its parent (Linux /proc). */
export function processTable(): Map<number, { ppid: number; ticks: number }> {
  const table = new Map<number, { ppid: number; ticks: number }>();
  let pids: string[] = [];
  try {
    pids = readdirSync("/proc").filter((name) => /^\d+$/.test(name));
  } catch {
    return table;
  }
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      table.set(Number(pid), {
        ppid: Number(fields[1]),
        ticks: Number(fields[11]) + Number(fields[12]),
      });
    } catch {
      // Exited meanwhile.
    }
  }
  return table;
}

/**
 * CPU seconds used between two snapshots by processes that are not this one or its
 * descendants (Postgres, pgbouncer and pgbench are all ours): other load on the host. Processes
 * that both started and ended between the snapshots are missed, so this is a lower bound.
 */
export function foreignCpuSeconds(
  before: Map<number, { ppid: number; ticks: number }>,
  after: Map<number, { ppid: number; ticks: number }>,
): number {
  if (!after.size) return Number.NaN;
  const mine = new Set([process.pid]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const snapshot of [before, after]) {
      for (const [pid, { ppid }] of snapshot) {
        if (!mine.has(pid) && mine.has(ppid)) {
          mine.add(pid);
          grew = true;
        }
      }
    }
  }
  let ticks = 0;
  for (const [pid, { ticks: now }] of after) {
    if (!mine.has(pid)) ticks += Math.max(0, now - (before.get(pid)?.ticks ?? 0));
  }
  return ticks / clockTicks;
}
