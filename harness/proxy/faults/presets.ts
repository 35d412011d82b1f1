/**
 * The SQLSTATEs services meet in production, by name, as ready-made fault specs. A rule can
 * say `"fault": { "type": "preset", "name": "serialization_failure" }`.
 */
export const faultPresets = {
  undefined_column: {
    type: "sqlError",
    sqlstate: "42703",
    message: 'column "credits_balance" does not exist',
  },
  undefined_table: {
    type: "sqlError",
    sqlstate: "42P01",
    message: 'relation "users" does not exist',
  },
  serialization_failure: {
    type: "sqlError",
    sqlstate: "40001",
    message: "could not serialize access due to concurrent update",
  },
  deadlock_detected: { type: "sqlError", sqlstate: "40P01", message: "deadlock detected" },
  query_canceled: {
    type: "sqlError",
    sqlstate: "57014",
    message: "canceling statement due to statement timeout",
  },
  unique_violation: {
    type: "sqlError",
    sqlstate: "23505",
    message: "duplicate key value violates unique constraint",
  },
  too_many_connections: {
    type: "refuseConnections",
    sqlstate: "53300",
    message: "sorry, too many clients already",
  },
  // 08006 is what a client reports when the connection dies under it: the proxy really cuts it.
  connection_failure: { type: "resetConnection", when: "before" },
} as const;

/** A preset's name. */
export type FaultPresetName = keyof typeof faultPresets;
