import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";

/** Write a report file, making its folder first: CI steps name paths like reports/gate.xml. */
export async function writeReportFile(file: string, text: string): Promise<void> {
  await mkdir(path.dirname(path.resolve(file)), { recursive: true });
  await writeFile(file, text);
}
