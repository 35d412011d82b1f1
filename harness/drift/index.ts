/** Production's schema against the migrations': the catalog diff, read-only reads, the matrix axis. */
export { productionAxisModule, writeNewFile } from "./axis-file.ts";
export { type Catalog, readCatalog } from "./catalog.ts";
export { compareCatalogs, type Difference, driftToProduction } from "./compare.ts";
export {
  checkProduction,
  compareWithProduction,
  describeProduction,
  type ProductionDriftOptions,
  type ProductionDriftReport,
  type ProductionSource,
} from "./production.ts";
export { readCatalogReadOnly, withReadOnlyTransaction } from "./read-only.ts";
