import { InterruptedError } from "../errors.ts";
import { runExitHooksNow, watchParent } from "../lifecycle/index.ts";

/**
 * Stop cleanly on SIGINT/SIGTERM: the first signal aborts the run, whose `finally` blocks stop
 * the service and Postgres and remove temp dirs; a second signal (or a stuck cleanup) kills
 * whatever is left synchronously and exits.
 */
export function abortOnSignals(controller: AbortController): () => void {
  const onSignal = (signal: NodeJS.Signals) => {
    if (controller.signal.aborted) {
      runExitHooksNow();
      process.exit(signal === "SIGTERM" ? 143 : 130);
    }
    process.stderr.write(`\nfaultline: ${signal}: stopping…\n`);
    controller.abort(new InterruptedError(signal));
    setTimeout(() => {
      runExitHooksNow();
      process.exit(signal === "SIGTERM" ? 143 : 130);
    }, 15_000).unref();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  // A killed `npx faultline` or CI step sends no signal on: its parent's exit is the signal.
  const unwatch = watchParent(() => onSignal("SIGTERM"));
  return () => {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    unwatch();
  };
}

/** Until Ctrl-C: how the proxy and the recorder, which serve until stopped, wait. */
export async function untilAborted(signal: AbortSignal): Promise<void> {
  await new Promise<void>((resolve) => {
    if (signal.aborted) resolve();
    signal.addEventListener("abort", () => resolve(), { once: true });
  });
}
