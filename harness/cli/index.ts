// The command line: `faultline <command> …` dispatched by name, every error turned into output
// and an exit code here and nowhere else.
import { setMaxListeners } from "node:events";
import { exitCodeFor, InterruptedError } from "../errors.ts";
import { faultlineVersion } from "../lifecycle/index.ts";
import type { Command } from "./command.ts";
import { driftCommand } from "./drift.ts";
import { exploreCommand } from "./explore.ts";
import { UsageError } from "./flags.ts";
import { gateCommand } from "./gate.ts";
import { importCommand } from "./import.ts";
import { incidentCommand } from "./incident.ts";
import { initCommand } from "./init.ts";
import { k6Command } from "./k6.ts";
import { loadCommand } from "./load.ts";
import { postgresCommand } from "./postgres.ts";
import { proxyCommand } from "./proxy.ts";
import { recordCommand } from "./record.ts";
import { replayCommand } from "./replay.ts";
import { runCommand } from "./run.ts";
import { abortOnSignals } from "./signals.ts";
import { USAGE } from "./usage.ts";

/** Every command, by the name main dispatches on. */
export const COMMANDS: ReadonlyMap<string, Command> = new Map(
  [
    runCommand,
    gateCommand,
    loadCommand,
    k6Command,
    proxyCommand,
    recordCommand,
    importCommand,
    replayCommand,
    initCommand,
    postgresCommand,
    exploreCommand,
    driftCommand,
    incidentCommand,
  ].map((command) => [command.name, command]),
);

/** The command line: returns the process exit code. */
export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  const controller = new AbortController();
  // Every wait of every parallel cell listens for the abort: more than Node's default of 10.
  setMaxListeners(0, controller.signal);
  const release = abortOnSignals(controller);
  // `faultline run | head`: a reader that stops reading is not a failure of the run, which
  // still finishes, cleans up and exits with its verdict.
  process.stdout.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code !== "EPIPE") throw error;
  });
  const command = name === undefined ? undefined : COMMANDS.get(name);
  try {
    const helpOf = name === "help" && rest[0] ? COMMANDS.get(rest[0])?.help : undefined;
    if (helpOf) {
      process.stdout.write(helpOf);
      return 0;
    }
    if (name === undefined || name === "-h" || name === "--help" || name === "help") {
      process.stdout.write(USAGE);
      return name === undefined ? 2 : 0;
    }
    if (name === "--version" || name === "-v") {
      process.stdout.write(`${faultlineVersion()}\n`);
      return 0;
    }
    if (!command) throw new UsageError(`unknown command ${JSON.stringify(name)}`);
    const code = await command.run(rest, controller.signal);
    // A run interrupted while it wound down still ends as interrupted: a CI runner that sent
    // SIGTERM must not read a verdict from a run it stopped.
    if (command.interrupt === "void" && controller.signal.aborted) throw controller.signal.reason;
    return code;
  } catch (error) {
    const reason = controller.signal.aborted ? controller.signal.reason : error;
    if (reason instanceof InterruptedError && command?.interrupt === "stop") return 0;
    if (reason instanceof InterruptedError) {
      process.stderr.write(`faultline: ${reason.message}; the service and Postgres were stopped\n`);
    } else {
      const message = error instanceof Error ? error.message : String(error);
      // Only main knows every command, so the global usage is added here.
      process.stderr.write(
        `faultline: ${error instanceof UsageError ? `${message}\n\n${USAGE}` : message}\n`,
      );
      if (!(error instanceof Error && "code" in error))
        process.stderr.write(`${(error as Error)?.stack ?? ""}\n`);
    }
    return exitCodeFor(reason);
  } finally {
    release();
  }
}
