/**
 * Every error faultline raises on purpose carries a stable code, so the CLI can map it to an
 * exit code in one table and scripts can match on it.
 */
export type ErrorCode =
  | "FL_BAD_USAGE"
  | "FL_BAD_SCENARIO"
  | "FL_BAD_CONFIG"
  | "FL_BAD_RULES"
  | "FL_SCENARIO_NOT_FOUND"
  | "FL_POSTGRES_FAILED"
  | "FL_SERVICE_FAILED"
  | "FL_UNSAFE_DATABASE"
  | "FL_INTERRUPTED";

/** Base class of faultline's own errors. */
export class FaultlineError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** The command line itself is wrong: unknown flag, missing value. */
export class BadUsageError extends FaultlineError {
  constructor(message: string) {
    super("FL_BAD_USAGE", message);
  }
}

/** A scenario file is invalid; the message names the file and the field. */
export class BadScenarioError extends FaultlineError {
  readonly file: string;
  constructor(file: string, message: string, options?: { cause?: unknown }) {
    super("FL_BAD_SCENARIO", `${file}: ${message}`, options);
    this.file = file;
  }
}

/** A faultline.config file is invalid; the message names the file and the field. */
export class BadConfigError extends FaultlineError {
  readonly file: string;
  constructor(file: string, message: string, options?: { cause?: unknown }) {
    super("FL_BAD_CONFIG", `${file}: ${message}`, options);
    this.file = file;
  }
}

/** A proxy rules file (or a scenario's rules) is invalid; the message names the rule and field. */
export class BadRulesError extends FaultlineError {
  constructor(where: string, message: string) {
    super("FL_BAD_RULES", `${where}: ${message}`);
  }
}

/** A path given on the command line matched no scenario file. */
export class ScenarioNotFoundError extends FaultlineError {
  constructor(message: string) {
    super("FL_SCENARIO_NOT_FOUND", message);
  }
}

/** Postgres could not be started, reached or prepared. */
export class PostgresFailedError extends FaultlineError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("FL_POSTGRES_FAILED", message, options);
  }
}

/** The service under test exited or never became healthy; `output` is its last lines. */
export class ServiceFailedError extends FaultlineError {
  readonly output: string[];
  constructor(message: string, output: string[]) {
    const tail = output.length
      ? `\n--- last ${output.length} lines of service output ---\n${output.join("\n")}`
      : "\n(the service printed nothing)";
    super("FL_SERVICE_FAILED", message + tail);
    this.output = output;
  }
}

/** A database the harness did not create, or a non-loopback host without opt-in. */
export class UnsafeDatabaseError extends FaultlineError {
  constructor(message: string) {
    super("FL_UNSAFE_DATABASE", message);
  }
}

/** The run was stopped by SIGINT or SIGTERM. */
export class InterruptedError extends FaultlineError {
  readonly signal: NodeJS.Signals;
  constructor(signal: NodeJS.Signals) {
    super("FL_INTERRUPTED", `interrupted by ${signal}`);
    this.signal = signal;
  }
}

/** Exit codes: 0 pass, 1 an invariant failed, 2 bad usage or input, 3 infrastructure failed. */
export const EXIT = { pass: 0, invariantFailed: 1, badInput: 2, infrastructure: 3 } as const;

const exitCodeByError: Record<ErrorCode, number> = {
  FL_BAD_USAGE: EXIT.badInput,
  FL_BAD_SCENARIO: EXIT.badInput,
  FL_BAD_CONFIG: EXIT.badInput,
  FL_BAD_RULES: EXIT.badInput,
  FL_SCENARIO_NOT_FOUND: EXIT.badInput,
  FL_UNSAFE_DATABASE: EXIT.badInput,
  FL_POSTGRES_FAILED: EXIT.infrastructure,
  FL_SERVICE_FAILED: EXIT.infrastructure,
  // 128 + signal number, as shells report a process killed by that signal.
  FL_INTERRUPTED: 130,
};

/** The process exit code for an error; unknown errors are infrastructure failures. */
export function exitCodeFor(error: unknown): number {
  if (error instanceof InterruptedError) return error.signal === "SIGTERM" ? 143 : 130;
  if (error instanceof FaultlineError) return exitCodeByError[error.code];
  return EXIT.infrastructure;
}
