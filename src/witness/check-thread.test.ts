import { afterEach, describe, expect, it } from "vitest";
import { SignedLog } from "../../bench/gen/signed-log.js";
import { generateCosignatureKey } from "../tlog/index.js";
import { CheckThreads } from "./check-thread.js";
import { parseLogsConfig } from "./logs-config.js";

describe("add-checkpoint check threads", () => {
  const keys = generateCosignatureKey("witness.test/threads");
  let threads: CheckThreads | undefined;
  afterEach(async () => {
    await threads?.close();
  });

  it("replaces a thread that died, with the logs' keys, instead of failing every later request", async () => {
    const log = new SignedLog("log.test/threads").append(5);
    const logs = parseLogsConfig(`logs:\n  - ${log.verifierKey}\n`, "logs.yaml").logs;
    threads = new CheckThreads({ signerKey: keys.signerKey }, 1);
    const body = await log.addCheckpointBody(0);
    expect((await threads.check(body, undefined, logs)).kind).toBe("cosign");
    // What an out-of-memory end or a crash of the thread looks like from here: it exits.
    const inside = threads as unknown as { threads: { worker: { terminate(): Promise<number> } }[] };
    await inside.threads[0]!.worker.terminate();
    await new Promise((r) => setTimeout(r, 50));
    const again = await threads.check(body, undefined, logs);
    expect(again.kind).toBe("cosign");
    expect(again.reply.status).toBe(200);
  });
});
