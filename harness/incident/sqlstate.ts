/**
 * What a log says when it gives no SQLSTATE: the server's message (its English text, as
 * errcodes.txt and the backend's ereport calls word it) or the driver's exception class.
 */

const BY_MESSAGE: [RegExp, string][] = [
  [/\bcolumn .+ does not exist\b/i, "42703"],
  [/\brelation ".+" does not exist\b/i, "42P01"],
  [/\bcurrent transaction is aborted, commands ignored until end of transaction block/i, "25P02"],
  [/\bduplicate key value violates unique constraint\b/i, "23505"],
  [/\bnull value in column .+ violates not-null constraint\b/i, "23502"],
  [/\bviolates foreign key constraint\b/i, "23503"],
  [/\bviolates check constraint\b/i, "23514"],
  [/\bcould not serialize access\b/i, "40001"],
  [/\bdeadlock detected\b/i, "40P01"],
  [/\bcanceling statement due to statement timeout\b/i, "57014"],
  [/\bcanceling statement due to user request\b/i, "57014"],
  [/\bterminating connection due to administrator command\b/i, "57P01"],
  [/\bterminating connection due to idle-in-transaction timeout\b/i, "25P03"],
  [/\bsorry, too many clients already\b|\bremaining connection slots are reserved\b/i, "53300"],
  [/\bvalue too long for type\b/i, "22001"],
  [/\binvalid input syntax for type\b/i, "22P02"],
  [/\bfunction .+ does not exist\b/i, "42883"],
  [/\bsyntax error at or near\b/i, "42601"],
  [/\bpermission denied for\b/i, "42501"],
  [/\bcolumn .+ is of type .+ but expression is of type\b/i, "42804"],
  [
    /\bserver closed the connection unexpectedly\b|\bconnection terminated unexpectedly\b|\bconnection reset by peer\b|\bunexpected EOF on client connection\b/i,
    "08006",
  ],
];

/**
 * Exception class names of the drivers (their own spelling: psycopg2.errors, asyncpg.exceptions,
 * psycopg's, ruby-pg's PG::, Django's and SQLAlchemy's wrappers) → SQLSTATE.
 */
const BY_CLASS: Record<string, string> = {
  UndefinedColumn: "42703",
  UndefinedColumnError: "42703",
  UndefinedTable: "42P01",
  UndefinedTableError: "42P01",
  InFailedSqlTransaction: "25P02",
  InFailedSQLTransactionError: "25P02",
  PendingRollbackError: "25P02",
  TransactionManagementError: "25P02",
  UniqueViolation: "23505",
  UniqueViolationError: "23505",
  NotNullViolation: "23502",
  NotNullViolationError: "23502",
  ForeignKeyViolation: "23503",
  ForeignKeyViolationError: "23503",
  SerializationFailure: "40001",
  SerializationError: "40001",
  TRSerializationFailure: "40001",
  DeadlockDetected: "40P01",
  DeadlockDetectedError: "40P01",
  TRDeadlockDetected: "40P01",
  QueryCanceled: "57014",
  QueryCanceledError: "57014",
  AdminShutdown: "57P01",
  AdminShutdownError: "57P01",
  TooManyConnections: "53300",
  TooManyConnectionsError: "53300",
};

export function sqlstateOfMessage(message: string): string | undefined {
  return BY_MESSAGE.find(([pattern]) => pattern.test(message))?.[1];
}

export function sqlstateOfClass(name: string): string | undefined {
  return BY_CLASS[name];
}

/** What each SQLSTATE the reconstruction acts on means, in the words an engineer knows. */
export const SQLSTATE_WORDS: Record<string, string> = {
  "42703": "undefined column",
  "42P01": "undefined table",
  "25P02": "current transaction is aborted",
  "23505": "unique violation",
  "40001": "serialization failure",
  "40P01": "deadlock",
  "57014": "statement timeout",
  "57P01": "connection terminated by the server",
  "08006": "connection lost",
  "53300": "too many connections",
};
