import { describe, expect, it } from "vitest";
import { tempDir } from "../../test/fixtures/audit/temp-dir.js";
import { followLogWith } from "./follow.js";
import { openLogIn } from "../../test/fixtures/memory-log.js";

const entry = (i: number) => new TextEncoder().encode(JSON.stringify({ i }));

describe("followLogWith", () => {
  it("delivers every integrated index once, in order, from the consumer's reader, and retries a failed batch", async () => {
    const log = await openLogIn(tempDir("kt-follow-"), { integrateIntervalMs: 3_600_000 });
    try {
      const asked: Array<[number, number]> = [];
      const seen: number[] = [];
      let failOnce = true;
      const follower = followLogWith(
        log,
        async (start, end) => {
          asked.push([start, end]);
          return Array.from({ length: end - start }, (_, i) => start + i);
        },
        {
          from: 2,
          batchSize: 3,
          retryMs: 10,
          onEntries: async (indexes) => {
            if (failOnce && indexes[0] === 5) {
              failOnce = false;
              throw new Error("consumer busy");
            }
            seen.push(...indexes);
          },
        },
      );
      await log.append(Array.from({ length: 10 }, (_, i) => entry(i)));
      await log.waitIntegrated(10);
      while (follower.position() < 10) await follower.caughtUp();
      await follower.stop();

      expect(seen).toEqual([2, 3, 4, 5, 6, 7, 8, 9]);
      // The failed range [5, 8) was asked for again, and nothing before `from` ever.
      expect(asked).toEqual([
        [2, 5],
        [5, 8],
        [5, 8],
        [8, 10],
      ]);
    } finally {
      await log.close();
    }
  });
});
