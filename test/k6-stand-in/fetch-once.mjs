// One real HTTP request for the k6/http stand-in: the request as JSON on stdin, the response
// as JSON on stdout. A refused connection is a response with status 0, as in k6.
import { text } from "node:stream/consumers";

const { method, url, headers, body } = JSON.parse(await text(process.stdin));
const started = performance.now();
try {
  const response = await fetch(url, { method, headers, body: body ?? undefined });
  const responseBody = await response.text();
  process.stdout.write(
    JSON.stringify({
      status: response.status,
      body: responseBody,
      headers: Object.fromEntries(response.headers),
      durationMs: performance.now() - started,
    }),
  );
} catch (error) {
  process.stdout.write(
    JSON.stringify({
      status: 0,
      body: "",
      headers: {},
      durationMs: performance.now() - started,
      error: String(error.cause ?? error),
    }),
  );
}
