/** The service under test as a process: start, readiness, output, stop. */
export { bundledServices, type ResolvedService, resolveService } from "./bundled.ts";
export {
  type ServiceEnv,
  type ServiceSpec,
  StartedService,
  type StartServiceOptions,
  startService,
} from "./process.ts";
