// k6/http's blocking calls: each request is made for real by a child Node process, which
// k6's synchronous API needs (a VU waits for its response).
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { state } from "./state.mjs";

const FETCH_ONCE = fileURLToPath(new URL("../fetch-once.mjs", import.meta.url));

export function request(method, url, body, params = {}) {
  const headers = { ...(params.headers ?? {}) };
  const child = spawnSync(process.execPath, [FETCH_ONCE], {
    input: JSON.stringify({ method, url, headers, body: body ?? null }),
    encoding: "utf8",
  });
  if (child.status !== 0) throw new Error(`the stand-in's request failed: ${child.stderr}`);
  const response = JSON.parse(child.stdout);
  state.requests.push({
    method,
    url,
    headers,
    body: body ?? "",
    status: response.status,
    durationMs: response.durationMs,
    ...(response.error ? { error: response.error } : {}),
    tags: { ...(params.tags ?? {}) },
  });
  return {
    status: response.status,
    body: response.body,
    headers: response.headers,
    error: response.error ?? "",
    timings: { duration: response.durationMs },
    json: () => JSON.parse(response.body),
  };
}

export const post = (url, body, params) => request("POST", url, body, params);
export const get = (url, params) => request("GET", url, null, params);

export default { request, post, get };
