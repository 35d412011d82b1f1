import { describe, expect, it } from "vitest";
import { bindNamed } from "./event-query.ts";

describe("bindNamed", () => {
  it("binds each name once, in order of first use", () => {
    expect(
      bindNamed("SELECT 1 FROM t WHERE a = :event_id AND b = :customer OR c = :event_id", {
        event_id: "evt_1",
        customer: "cus_1",
      }),
    ).toEqual({
      text: "SELECT 1 FROM t WHERE a = $1 AND b = $2 OR c = $1",
      params: ["evt_1", "cus_1"],
    });
  });

  it("leaves casts, strings, quoted names and comments alone", () => {
    const { text, params } = bindNamed(
      `SELECT ':x', "a:b", n::int /* :y */ FROM t -- :z\nWHERE id = :id::text`,
      { id: 7 },
    );
    expect(text).toBe(`SELECT ':x', "a:b", n::int /* :y */ FROM t -- :z\nWHERE id = $1::text`);
    expect(params).toEqual([7]);
  });

  it("names an unknown placeholder and the ones it has", () => {
    expect(() => bindNamed("SELECT :subscription", { event_id: "e", customer: "c" })).toThrow(
      ":subscription is not a value of this event (it has: :event_id, :customer)",
    );
  });
});
