import { type Evidence, evidenceAt, type Guess, type Repo, SOURCE_FILE } from "./repo.ts";

/** The Stripe webhook handler: its route and the file it is in. */
export interface WebhookRoute {
  path: string;
  file: string;
}

// A handler verifies Stripe's signature: it reads the header or calls the SDK's verifier.
const SIGNATURE = /stripe[-_]signature|constructEvent(?:Async)?\s*\(|construct_event\s*\(/i;

/** Next.js app router: app/api/stripe/webhook/route.ts → /api/stripe/webhook. */
function nextAppRoute(file: string): string | undefined {
  const m = /(?:^|\/)(?:src\/)?app\/(.*?)\/?route\.[cm]?[jt]sx?$/.exec(file);
  if (!m) return undefined;
  // Route groups "(name)" and parallel slots "@name" are not part of the URL.
  const segments = (m[1] ?? "")
    .split("/")
    .filter((s) => s && !/^\(.*\)$/.test(s) && !s.startsWith("@"));
  return `/${segments.join("/")}`;
}

/** Next.js pages router: pages/api/stripe/webhook.ts (or …/index.ts) → /api/stripe/webhook. */
function nextPagesRoute(file: string): string | undefined {
  const m = /(?:^|\/)(?:src\/)?pages\/(api\/.*?)(?:\/index)?\.[cm]?[jt]sx?$/.exec(file);
  return m ? `/${m[1]}` : undefined;
}

// Route declarations in one file, each with the path it registers.
const DECLARATIONS: RegExp[] = [
  // Express, Fastify, Hono, Koa router, Gin/Echo/chi (Go): app.post("/x", …), r.POST("/x", …)
  /\.(?:post|all|POST|Post|route)\s*\(\s*["'`](\/[^"'`]*)["'`]/g,
  // Fastify's route({ method: "POST", url: "/x" }) and similar objects
  /\burl\s*:\s*["'`](\/[^"'`]*)["'`]/g,
  // Flask / FastAPI / Starlette decorators: @app.route("/x", methods=["POST"]), @router.post("/x")
  /@\w+(?:\.\w+)*\.(?:route|post|api_route)\s*\(\s*["'](\/[^"']*)["']/g,
  // net/http: http.HandleFunc("/x", …), mux.Handle("/x", …)
  /\.Handle(?:Func)?\s*\(\s*"(\/[^"]*)"/g,
  // Sinatra: post '/x' do
  /^\s*post\s+["'](\/[^"']*)["']\s+do\b/gm,
  // node:http with no framework: if (req.url === "/x"), case "/x" on a pathname
  // `req.url === "/x"`, and the guard form `req.url !== "/x"` (then 404).
  /\b(?:url|pathname|path)\s*[!=]==?\s*["'`](\/[^"'`]*)["'`]/g,
];

const HEALTH_ROUTE =
  /^\/(?:api\/)?(?:health|healthz|healthcheck|ready|readyz|livez|status|ping)\/?$/;

/** The route declared closest above `index` in the file (or the first one below it). */
function declaredRoute(text: string, index: number): { path: string; at: number } | undefined {
  let above: { path: string; at: number } | undefined;
  let below: { path: string; at: number } | undefined;
  for (const pattern of DECLARATIONS) {
    for (const m of text.matchAll(pattern)) {
      const found = { path: m[1] ?? "/", at: m.index };
      // A health or readiness route beside the handler is not where Stripe posts.
      if (HEALTH_ROUTE.test(found.path)) continue;
      if (m.index <= index) {
        if (!above || m.index > above.at) above = found;
      } else if (!below || m.index < below.at) below = found;
    }
  }
  return above ?? below;
}

/** Rails: a controller's action is routed in config/routes.rb (`post "x", to: "stripe#webhook"`). */
function railsRoute(repo: Repo, file: string): Evidence | undefined {
  const m = /app\/controllers\/(.+)_controller\.rb$/.exec(file);
  if (!m || !repo.has("config/routes.rb")) return undefined;
  const controller = (m[1] ?? "").replace(/\W/g, "\\$&");
  return (
    repo.find(
      "config/routes.rb",
      new RegExp(`post\\s+["']([^"']+)["']\\s*(?:,\\s*to:\\s*|=>\\s*)["']${controller}#`),
    ) ?? undefined
  );
}

/** Names a file exports (JS/TS) or defines (Python, Go): what a router elsewhere may mount. */
function exportedNames(text: string): string[] {
  const names = new Set<string>();
  for (const m of text.matchAll(
    /exports\.(\w+)\s*=|module\.exports\s*=\s*(\w+)|export\s+(?:default\s+)?(?:async\s+)?(?:function\*?|const|let|var)\s+(\w+)|^(?:async\s+)?def\s+(\w+)|^func\s+(\w+)/gm,
  )) {
    const name = m.slice(1).find((g) => g !== undefined);
    if (name) names.add(name);
  }
  return [...names];
}

/**
 * A handler with no route in its own file is mounted by a router elsewhere:
 * `app.post("/x", express.raw(…), handleStripe)`. Find a route declaration naming one of its
 * exports on the same line.
 */
function mountedRoute(repo: Repo, file: string, text: string): Evidence | undefined {
  const names = exportedNames(text);
  if (names.length === 0) return undefined;
  const named = new RegExp(`\\b(?:${names.join("|")})\\b`);
  for (const other of repo.files) {
    if (other === file || !SOURCE_FILE.test(other)) continue;
    const body = repo.read(other);
    if (!body || !named.test(body)) continue;
    for (const pattern of DECLARATIONS) {
      for (const m of body.matchAll(pattern)) {
        const at = evidenceAt(other, body, m.index);
        if (named.test(at.text)) return at;
      }
    }
  }
  return undefined;
}

/** The route path a declaration line registers. */
function declaredPath(line: string): string {
  for (const pattern of DECLARATIONS) {
    const m = new RegExp(pattern.source).exec(line);
    if (m) return m[1] ?? "";
  }
  return "";
}

interface Candidate {
  route: Guess<WebhookRoute>;
  score: number;
}

function candidate(repo: Repo, file: string): Candidate | undefined {
  const text = repo.read(file);
  if (text === undefined) return undefined;
  const hit = SIGNATURE.exec(text);
  if (!hit) return undefined;
  const signature = evidenceAt(file, text, hit.index);
  // Both the header and the verifier in one file is the handler itself, not a helper.
  const score =
    (/stripe[-_]signature/i.test(text) ? 2 : 0) +
    (/constructEvent|construct_event/.test(text) ? 2 : 0) +
    (/webhook/i.test(file) ? 1 : 0);
  const next = nextAppRoute(file) ?? nextPagesRoute(file);
  if (next !== undefined)
    return { route: { value: { path: next, file }, evidence: [signature] }, score: score + 2 };
  const rails = railsRoute(repo, file);
  if (rails) {
    const path = (/["']([^"']+)["']/.exec(rails.text)?.[1] ?? "").replace(/^(?!\/)/, "/");
    return { route: { value: { path, file }, evidence: [signature, rails] }, score: score + 2 };
  }
  const declared = declaredRoute(text, hit.index);
  if (declared) {
    const at = evidenceAt(file, text, declared.at);
    return {
      route: { value: { path: declared.path, file }, evidence: [signature, at] },
      score: score + 1,
    };
  }
  const mounted = mountedRoute(repo, file, text);
  if (mounted)
    return {
      route: { value: { path: declaredPath(mounted.text), file }, evidence: [signature, mounted] },
      score: score + 1,
    };
  // A handler with no route we can see (a prefix router, say): still worth naming.
  return { route: { value: { path: "", file }, evidence: [signature] }, score };
}

/**
 * The route of the handler that verifies Stripe's signature. `path` is "" when the handler was
 * found but its route was not (the caller writes a TODO).
 */
export function detectWebhook(repo: Repo): Guess<WebhookRoute> | undefined {
  let best: Candidate | undefined;
  for (const file of repo.files) {
    if (!SOURCE_FILE.test(file) || /\.(?:test|spec)\.[^.]+$|(^|\/)tests?\//.test(file)) continue;
    const found = candidate(repo, file);
    if (found && (!best || found.score > best.score)) best = found;
  }
  return best?.route;
}

/**
 * The Stripe event the starter scenario sends: checkout.session.completed when the handler
 * names it or names no event faultline has a fixture for, else the first one it names. A
 * handler that hands the event on (to a package's `switch (event.type)`) names none itself:
 * then the source file with the most `case "…"` / `=== "…"` / `if` tests of event types is read.
 */
export function detectEventType(
  repo: Repo,
  handler: string | undefined,
  fixtures: string[],
): Guess<string> {
  const fallback = { value: "checkout.session.completed", evidence: [] };
  const inHandler = handler ? firstNamed(repo, handler, fixtures, ANY_MENTION) : undefined;
  if (inHandler) return inHandler;
  let best: { file: string; tests: number } | undefined;
  for (const file of repo.files) {
    if (!SOURCE_FILE.test(file) || /\.(?:test|spec)\.[^.]+$|(^|\/)tests?\//.test(file)) continue;
    const text = repo.read(file);
    if (text === undefined || !/\.type\b|\btype\s*[=:]/.test(text)) continue;
    const tests = [...text.matchAll(EVENT_TEST)].length;
    if (tests > 0 && (!best || tests > best.tests)) best = { file, tests };
  }
  return (best && firstNamed(repo, best.file, fixtures, EVENT_TEST)) ?? fallback;
}

/** `case "a.b":`, `=== "a.b"`, `== 'a.b'`, `when "a.b"` (Ruby), `"a.b" =>` (PHP match). */
const EVENT_TEST =
  /(?:\bcase\s+|===?\s*|\bwhen\s+)["'`]([a-z_]+(?:\.[a-z_]+)+)["'`]|["'`]([a-z_]+(?:\.[a-z_]+)+)["'`]\s*(?:=>|===?)/g;
const ANY_MENTION = /["'`]([a-z_]+(?:\.[a-z_]+)+)["'`]/g;

function firstNamed(
  repo: Repo,
  file: string,
  fixtures: string[],
  pattern: RegExp,
): Guess<string> | undefined {
  const text = repo.read(file);
  if (text === undefined) return undefined;
  let first: (Guess<string> & { at: number }) | undefined;
  for (const m of text.matchAll(pattern)) {
    const name = m[1] ?? m[2] ?? "";
    if (!fixtures.includes(name)) continue;
    const found = { value: name, evidence: [evidenceAt(file, text, m.index)], at: m.index };
    if (name === "checkout.session.completed") return { value: name, evidence: found.evidence };
    if (!first || found.at < first.at) first = found;
  }
  return first && { value: first.value, evidence: first.evidence };
}
