// What the stand-in modules share with the driver: the current iteration and what was sent.
export const state = {
  iteration: 0,
  /** @type {Array<{ method: string, url: string, headers: Record<string, string>, body: string, status: number, durationMs: number, error?: string, tags: Record<string, string> }>} */
  requests: [],
  /** @type {Array<{ name: string, ok: boolean }>} */
  checks: [],
};
