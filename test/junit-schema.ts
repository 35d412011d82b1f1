import { readFile } from "node:fs/promises";
import { expect, it } from "vitest";
import { validateXML } from "xmllint-wasm";
import { describeSharedData, sharedData } from "./shared-data.ts";

/**
 * The JUnit schemas a report must satisfy: Jenkins' (what its xUnit plugin validates with) and
 * Windy Road's (Ant's format, the strictest common reading: it requires timestamp, hostname,
 * properties, system-out and system-err). Both are third-party files, read from the shared test
 * data's `junit-schemas/` (see test/shared-data.ts and that folder's README for their origin).
 */
export const JUNIT_SCHEMAS = {
  jenkins: "jenkins-junit-10.xsd",
  windyroad: "windyroad-JUnit.xsd",
} as const;

/** The shared-data entries validateJunit reads: give them to describeSharedData. */
export const JUNIT_SCHEMA_FILES = Object.values(JUNIT_SCHEMAS).map(
  (file) => `junit-schemas/${file}`,
);

/** A schema by its short name. */
export type JunitSchema = keyof typeof JUNIT_SCHEMAS;

/**
 * Validate JUnit XML with libxml2 (xmllint compiled to WebAssembly: no native build) against
 * each schema. Returns the errors, each naming the schema and the report's line; none when valid.
 */
export async function validateJunit(
  xml: string,
  schemas: readonly JunitSchema[] = ["jenkins", "windyroad"],
): Promise<string[]> {
  const errors: string[] = [];
  for (const schema of schemas) {
    const file = JUNIT_SCHEMAS[schema];
    const contents = await readFile(sharedData("junit-schemas", file), "utf8");
    const result = await validateXML({
      xml: { fileName: "report.xml", contents: xml },
      schema: { fileName: file, contents },
    });
    if (!result.valid) {
      const found = result.errors.map((e) => `${file}: ${e.rawMessage}`);
      // A document that does not even parse may come back invalid with no itemised error.
      errors.push(...(found.length ? found : [`${file}: ${result.rawOutput.trim() || "invalid"}`]));
    }
  }
  return errors;
}

/**
 * The end-to-end tests' JUnit files, validated together by one test at the end of the file: the
 * schemas are shared data (skipped without it, failing under CI), the tests that write the files
 * are not. `add` each file as it is written, then call `describeValid()` once, last.
 */
export class JunitFiles {
  private readonly files = new Map<string, string>();

  /** Keep a JUnit document (its name says which test wrote it) for the schema check. */
  add(name: string, xml: string): void {
    this.files.set(name, xml);
  }

  /** A describe block that validates every document added by then against both schemas. */
  describeValid(name: string): void {
    describeSharedData(name, JUNIT_SCHEMA_FILES, () => {
      it("every JUnit file written above is valid against both schemas", async (context) => {
        if (this.files.size === 0) context.skip("no test above wrote a JUnit file");
        for (const [file, xml] of this.files) expect(await validateJunit(xml), file).toEqual([]);
      });
    });
  }
}
