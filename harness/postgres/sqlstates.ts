/**
 * Condition names of the SQLSTATEs webhook services meet, as Postgres's errcodes.txt spells
 * them, so a report can say "25P02 in_failed_sql_transaction" rather than a bare code.
 */
const NAMES: Record<string, string> = {
  "08000": "connection_exception",
  "08003": "connection_does_not_exist",
  "08006": "connection_failure",
  "08P01": "protocol_violation",
  "22001": "string_data_right_truncation",
  "22P02": "invalid_text_representation",
  "23502": "not_null_violation",
  "23503": "foreign_key_violation",
  "23505": "unique_violation",
  "25P02": "in_failed_sql_transaction",
  "3D000": "invalid_catalog_name",
  "40001": "serialization_failure",
  "40P01": "deadlock_detected",
  "42601": "syntax_error",
  "42703": "undefined_column",
  "42883": "undefined_function",
  "42P01": "undefined_table",
  "53300": "too_many_connections",
  "55P03": "lock_not_available",
  "57014": "query_canceled",
  "57P01": "admin_shutdown",
};

/** `25P02 in_failed_sql_transaction`, or the bare code when the name is not known here. */
export function describeSqlstate(code: string): string {
  const name = NAMES[code];
  return name ? `${code} ${name}` : code;
}
