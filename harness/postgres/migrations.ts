/** One schema migration as its tool applies it. */
export interface Migration {
  /**
   * The `NNN` of a plain `NNN_name.sql` file; for every other layout the migration's 1-based
   * position in the tool's order. `stopAtMigration: N` compares against it.
   */
  number: number;
  /** The file or folder name the tool knows it by: `0001_add_users.sql`, `20240101120000_init`. */
  name: string;
  /** The version prefix: `001`, `V1.1`, `20240101120000`, `0001`. */
  version: string;
  /** Absolute path of the SQL file. */
  file: string;
  /** The file's text as faultline reads it; `offsets` and error positions refer to it. */
  sql: string;
  /** What is sent, in order, each whole as one simple-protocol query (never split on `;`). */
  sections: string[];
  /** Where each section starts in `sql` (character index), to turn error positions into line:column. */
  offsets: number[];
}
