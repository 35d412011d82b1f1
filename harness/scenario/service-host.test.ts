import { describe, expect, it } from "vitest";
import { saysPortTaken } from "./service-host.ts";

describe("saysPortTaken", () => {
  it("knows the words the common stacks die with when their port is taken", () => {
    const taken = [
      // Node
      "Error: listen EADDRINUSE: address already in use 127.0.0.1:19453",
      // Python (http.server, uvicorn)
      "OSError: [Errno 98] Address already in use",
      "ERROR:    [Errno 98] error while attempting to bind on address ('127.0.0.1', 8000): address already in use",
      // gunicorn
      "[2026-11-28 11:00:00 +0000] [7] [ERROR] Connection in use: ('127.0.0.1', 8000)",
      // Go net/http
      "listen tcp 127.0.0.1:8080: bind: address already in use",
      // Java / Spring Boot
      "java.net.BindException: Address already in use",
      // Ruby (Puma)
      'Errno::EADDRINUSE: Address already in use - bind(2) for "127.0.0.1" port 9292',
      // nginx
      "nginx: [emerg] bind() to 127.0.0.1:8080 failed (98: Address already in use)",
    ];
    for (const line of taken) expect(saysPortTaken(["starting", line]), line).toBe(true);
  });

  it("does not retry a service that died of something else", () => {
    expect(saysPortTaken(["psycopg2.OperationalError: connection refused"])).toBe(false);
    expect(saysPortTaken(["python-billing: set HTTP_PORT"])).toBe(false);
    expect(saysPortTaken([])).toBe(false);
  });
});
