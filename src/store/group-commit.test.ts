import { describe, expect, it } from "vitest";
import { GroupCommitter, type SplitCommit } from "./group-commit.js";
import { LogError } from "./types.js";

const entry = (s: string) => new TextEncoder().encode(s);

describe("GroupCommitter", () => {
  it("groups appends that arrive while a commit is in flight and gives each its own indexes", async () => {
    const commits: number[] = [];
    let size = 0;
    const gc = new GroupCommitter(async (entries) => {
      commits.push(entries.length);
      await new Promise((r) => setTimeout(r, 5));
      const first = size;
      size += entries.length;
      return first;
    });
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => gc.submit([entry(`a${i}`), entry(`b${i}`)], 10)),
    );
    expect(commits.length).toBeLessThan(50);
    expect(commits.reduce((a, b) => a + b, 0)).toBe(100);
    const firsts = results.map((r) => r.firstIndex).sort((a, b) => a - b);
    expect(firsts).toEqual(Array.from({ length: 50 }, (_, i) => i * 2));
  });

  it("rejects every append of a failed group and keeps serving later ones", async () => {
    let fail = true;
    const gc = new GroupCommitter(async () => {
      if (fail) throw new LogError("full", "the disk is full");
      return 0;
    });
    const failed = await Promise.allSettled([gc.submit([entry("x")], 1), gc.submit([entry("y")], 1)]);
    expect(failed.map((r) => r.status)).toEqual(["rejected", "rejected"]);
    fail = false;
    await expect(gc.submit([entry("z")], 1)).resolves.toEqual({ firstIndex: 0 });
  });

  it("refuses new work with 'busy' when the backlog is over its limit, and 'closed' after close", async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const gc = new GroupCommitter(
      async () => {
        await gate;
        return 0;
      },
      { maxPendingBytes: 100, maxCommitBytes: 1000, minSpacingMs: 0 },
    );
    const first = gc.submit([entry("a")], 80);
    await expect(gc.submit([entry("b")], 80)).rejects.toMatchObject({ code: "busy" });
    release();
    await first;
    const closing = gc.close();
    await expect(gc.submit([entry("c")], 1)).rejects.toMatchObject({ code: "closed" });
    await closing;
  });

  it("hands a group's leaf hashes to the commit in entry order only when every append gave them", async () => {
    const seen: (string[] | undefined)[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const gc = new GroupCommitter(async (entries, leafHashes) => {
      seen.push(leafHashes?.map((h) => new TextDecoder().decode(h)));
      await gate;
      return 0;
    });
    const hashed = (s: string) => [entry(`h(${s})`)];
    // The first group holds "a" alone; "b" and "c" wait for it and form the second group.
    const a = gc.submit([entry("a")], 1, hashed("a"));
    await new Promise((r) => setImmediate(r));
    const bc = [gc.submit([entry("b")], 1, hashed("b")), gc.submit([entry("c")], 1, hashed("c"))];
    await new Promise((r) => setImmediate(r));
    release();
    await Promise.all([a, ...bc]);
    // A group where one append gave none: the commit hashes all of it itself.
    await Promise.all([gc.submit([entry("d")], 1, hashed("d")), gc.submit([entry("e")], 1)]);
    expect(seen).toEqual([["h(a)"], ["h(b)", "h(c)"], undefined]);
  });

  it("spaces commit starts by minSpacingMs while appends keep coming, and not after a quiet spell", async () => {
    let clock = 0;
    const starts: number[] = [];
    let size = 0;
    const gc = new GroupCommitter(
      async (entries) => {
        starts.push(clock);
        size += entries.length;
        return size - entries.length;
      },
      { maxPendingBytes: 1 << 20, maxCommitBytes: 1 << 20, minSpacingMs: 40 },
      () => clock,
    );
    expect(await gc.submit([entry("a")], 1)).toEqual({ firstIndex: 0 });
    // 10 ms after the first commit started: held until 40 ms have passed since then.
    clock = 10;
    let settled = false;
    const held = gc.submit([entry("b")], 1).then((r) => ((settled = true), r));
    await new Promise((r) => setTimeout(r, 15));
    expect(settled).toBe(false);
    expect(await held).toEqual({ firstIndex: 1 });
    expect(starts).toHaveLength(2);
    // After a quiet spell longer than the spacing: committed at once. With a minute's spacing,
    // holding it would show as the timeout winning the race.
    const slow = new GroupCommitter(
      async () => 0,
      { maxPendingBytes: 1 << 20, maxCommitBytes: 1 << 20, minSpacingMs: 60_000 },
      () => clock,
    );
    await slow.submit([entry("c")], 1);
    clock = 120_000;
    const quiet = slow.submit([entry("d")], 1);
    expect(await Promise.race([quiet, new Promise((r) => setTimeout(() => r("held"), 20_000))])).toEqual({
      firstIndex: 0,
    });
  });
  /** A two-step commit whose syncs wait for the test (gates[i] settles the i-th write's sync). */
  function gatedSplit() {
    const events: string[] = [];
    const gates: ((err?: Error) => void)[] = [];
    let next = 0;
    let acked = 0;
    const split: SplitCommit = {
      write: async (entries) => {
        const first = next;
        const name = new TextDecoder().decode(entries[0]);
        next += entries.length;
        events.push(`write ${name}@${first}${entries.length > 1 ? `+${entries.length - 1}` : ""}`);
        const synced = new Promise<void>((resolve, reject) =>
          gates.push((err) => (err ? reject(err) : resolve())),
        );
        return {
          first,
          sync: () => synced,
          acknowledge: () => {
            acked = first + entries.length;
            events.push(`ack ${name}`);
          },
          abandon: () => events.push(`abandon ${name}`),
        };
      },
      rewind: () => {
        events.push(`rewind to ${acked}`);
        next = acked;
      },
    };
    return { events, gates, split };
  }
  const tick = () => new Promise((r) => setImmediate(r));
  const limits = { maxPendingBytes: 1 << 20, maxCommitBytes: 1 << 20, minSpacingMs: 0 };

  it("with a split commit, keeps at most two groups unacknowledged and rewinds only once all failed ones settled", async () => {
    const { events, gates, split } = gatedSplit();
    // A clock that stands still: syncs take no time, so any sync in flight is late.
    const gc = new GroupCommitter(split, limits, () => 0);
    const a = gc.submit([entry("a")], 1);
    await tick();
    const b = gc.submit([entry("b")], 1);
    await tick();
    const c = gc.submit([entry("c")], 1);
    await tick();
    await tick();
    // a and b are written; c waits until a is settled.
    expect(events).toEqual(["write a@0", "write b@1"]);
    gates[0]!();
    expect(await a).toEqual({ firstIndex: 0 });
    await tick();
    expect(events).toEqual(["write a@0", "write b@1", "ack a", "write c@2"]);
    // b fails: c, written after it, fails too although its own sync succeeds first.
    gates[2]!();
    gates[1]!(new LogError("io", "b's sync failed"));
    await expect(b).rejects.toThrow("b's sync failed");
    await expect(c).rejects.toThrow("b's sync failed");
    // The next group is written where b began, after a rewind.
    const d = gc.submit([entry("d")], 1);
    await tick();
    gates[3]!();
    expect(await d).toEqual({ firstIndex: 1 });
    expect(events.slice(3)).toEqual([
      "write c@2",
      "abandon b",
      "abandon c",
      "rewind to 1",
      "write d@1",
      "ack d",
    ]);
    await gc.close();
  });

  it("with a split commit, writes beside a sync only once it is late; until then the next group gathers", async () => {
    const { events, gates, split } = gatedSplit();
    let clock = 0;
    const gc = new GroupCommitter(split, limits, () => clock);
    // The usual sync: 10 ms.
    const x = gc.submit([entry("x")], 1);
    await tick();
    clock = 10;
    gates[0]!();
    await x;
    // a's sync starts at 100 and is held; b and c arrive while it is on time.
    clock = 100;
    const a = gc.submit([entry("a")], 1);
    await tick();
    const bc = [gc.submit([entry("b")], 1), gc.submit([entry("c")], 1)];
    clock = 115;
    await new Promise((r) => setTimeout(r, 40));
    expect(events).toEqual(["write x@0", "ack x", "write a@1"]);
    // Past twice the usual: b and c go together, beside a's sync.
    clock = 125;
    for (let i = 0; i < 50 && events.length < 4; i++) await new Promise((r) => setTimeout(r, 10));
    expect(events).toEqual(["write x@0", "ack x", "write a@1", "write b@2+1"]);
    gates[2]!();
    gates[1]!();
    expect(await a).toEqual({ firstIndex: 1 });
    expect(await Promise.all(bc)).toEqual([{ firstIndex: 2 }, { firstIndex: 3 }]);
    await gc.close();
  });
});
