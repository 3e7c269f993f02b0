import { describe, expect, it } from "vitest";
import { api } from "./support/api";

describe("database connections", () => {
  it("are released after each request: more requests than the server accepts connections all succeed", async () => {
    // The embedded server in the test setup accepts 512 connections at once.
    for (let i = 0; i < 544; i++) {
      const res = await api("GET", "/api/conversations?limit=1");
      expect(res.status).toBe(200);
      await res.arrayBuffer();
    }
  });
});
