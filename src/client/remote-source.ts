// Answers from a running kubetrail server, trusted only as far as they are proven: every
// checkpoint must be signed by the pinned verifier key and extend the newest one this client
// saw before, and every entry must come with an inclusion proof in that checkpoint's tree.
// The server pages with a cursor that pins the listing to one tree size, so a listing of any
// length is proven against one checkpoint while neither side holds more than a page.
import { requireWitnesses, WitnessPolicyError, type WitnessPolicy } from "../verify/witness-policy.js";
import type { TopCount, TopDimension } from "../index/db.js";
import type { RawFilter } from "../index/query.js";
import type { ResolvedEntry } from "../index/resolve.js";
import { parsedEntry } from "../index/row.js";
import type { Gone } from "../store/types.js";
import { decodeBase64, type Hash } from "../tlog/index.js";
import type { JsonClient } from "../http/json-client.js";
import { ClientError } from "./errors.js";
import { checkExtends, proveEntry, trustCheckpoint } from "./proven.js";
import type { SeenCheckpoints } from "./seen-checkpoints.js";
import {
  PAGE_SIZE,
  TOP_MAX,
  type Listing,
  type PageOptions,
  type ProvenEntry,
  type ReadSource,
  type TrustedCheckpoint,
} from "./source.js";

export interface RemoteSourceOptions {
  api: JsonClient;
  /** The verifier key answers must be signed by (pinned by the user, never taken from the server). */
  verifierKey: string;
  seen?: SeenCheckpoints;
  /** Witnesses whose cosignatures every checkpoint trusted must carry (--witness, --min-witnesses). */
  witnesses?: WitnessPolicy | null;
}

/** Reads fields of an answer, turning anything the API does not document into a "junk" error. */
class Answer {
  constructor(
    private readonly where: string,
    private readonly value: unknown,
  ) {
    if (value === null || typeof value !== "object" || Array.isArray(value))
      throw this.junk("the answer is not a JSON object");
  }

  junk(what: string): ClientError {
    return new ClientError("junk", `${this.where}: ${what} (is this a kubetrail server?)`);
  }

  private field(name: string): unknown {
    return (this.value as Record<string, unknown>)[name];
  }

  string(name: string): string {
    const v = this.field(name);
    if (typeof v !== "string") throw this.junk(`"${name}" is not a string`);
    return v;
  }

  index(name: string): number {
    const v = this.field(name);
    if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0)
      throw this.junk(`"${name}" is not a log index`);
    return v;
  }

  /** The `gone` of an item whose bytes were pruned or erased, if it is one. */
  gone(): Gone | undefined {
    if (this.field("gone") === undefined) return undefined;
    const g = this.object("gone");
    const state = g.string("state");
    if (state !== "pruned" && state !== "erased") throw g.junk(`"state" is not pruned or erased`);
    return { state, reason: g.string("reason") };
  }

  optionalString(name: string): string | undefined {
    const v = this.field(name);
    if (v === undefined) return undefined;
    if (typeof v !== "string") throw this.junk(`"${name}" is not a string`);
    return v;
  }

  object(name: string): Answer {
    return new Answer(`${this.where} ${name}`, this.field(name));
  }

  list(name: string): unknown[] {
    const v = this.field(name);
    if (!Array.isArray(v)) throw this.junk(`"${name}" is not a list`);
    return v;
  }

  hashes(name: string): Hash[] {
    return this.list(name).map((h) => {
      const bytes = typeof h === "string" ? decodeBase64(h) : null;
      if (bytes === null || bytes.length !== 32)
        throw this.junk(`"${name}" holds something that is not a base64 hash`);
      return bytes;
    });
  }
}

/** A listed entry whose bytes are gone: its index and why, and an empty row. */
function goneEntry(index: number, gone: Gone): ResolvedEntry {
  const data = new Uint8Array(0);
  return { row: parsedEntry(index, data, new Uint8Array(32)).row, data, value: undefined, gone };
}

function params(raw: RawFilter, extra: Record<string, string>): URLSearchParams {
  const q = new URLSearchParams();
  for (const [name, values] of Object.entries(raw)) for (const v of values ?? []) q.append(name, v);
  for (const [name, v] of Object.entries(extra)) q.set(name, v);
  return q;
}

export function remoteSource(opts: RemoteSourceOptions): ReadSource {
  const { api, verifierKey, seen } = opts;
  let witnessed: TrustedCheckpoint | undefined;

  /** Verifies a checkpoint note and that it extends what this client saw before (once per run). */
  async function trust(note: string, where: string): Promise<TrustedCheckpoint> {
    const cp = trustCheckpoint(note, verifierKey, where);
    if (opts.witnesses) requireQuorum(note, opts.witnesses, where);
    const earlier = witnessed ?? storedCheckpoint();
    if (earlier !== undefined)
      checkExtends(earlier, cp, earlier.size >= cp.size ? [] : await consistency(earlier.size, cp.size));
    if (earlier === undefined || cp.size > earlier.size) seen?.save(verifierKey, cp);
    witnessed = cp;
    return cp;
  }

  function storedCheckpoint(): TrustedCheckpoint | undefined {
    const note = seen?.load(verifierKey);
    if (note === undefined) return undefined;
    try {
      return trustCheckpoint(note, verifierKey, "stored checkpoint");
    } catch {
      return undefined; // A damaged state file only weakens the check to this run's checkpoints.
    }
  }

  async function consistency(from: number, to: number): Promise<Hash[]> {
    const where = `${api.server}/v1/proof/consistency`;
    const body = new Answer(
      where,
      await api.get("v1/proof/consistency", new URLSearchParams({ from: String(from), to: String(to) })),
    );
    if (body.index("from") !== from || body.index("to") !== to)
      throw body.junk("the proof is for other tree sizes");
    return body.hashes("consistencyProof");
  }

  const list = (raw: RawFilter, opts: PageOptions): Listing => {
    let pinned: TrustedCheckpoint | undefined;
    let more: string | undefined;
    return {
      checkpoint() {
        if (pinned === undefined) throw new Error("listing checkpoint asked before its first page");
        return pinned;
      },
      more: () => more,
      async *pages() {
        let cursor = raw.cursor?.[0];
        const filter: RawFilter = { ...raw };
        delete filter.cursor;
        delete filter.limit;
        for (let remaining = opts.total; remaining > 0;) {
          const extra: Record<string, string> = {
            limit: String(Math.min(PAGE_SIZE, remaining)),
            proofs: "true",
          };
          if (cursor !== undefined) extra["cursor"] = cursor;
          if (pinned !== undefined) extra["tree-size"] = String(pinned.size);
          const where = `${api.server}/v1/events`;
          const page = new Answer(where, await api.get("v1/events", params(filter, extra)));
          const treeSize = page.index("treeSize");
          if (pinned === undefined) {
            pinned = await trust(page.object("checkpoint").string("note"), where);
            if (treeSize !== pinned.size)
              throw page.junk(`proofs are for tree size ${treeSize}, not the checkpoint's ${pinned.size}`);
          } else if (treeSize !== pinned.size) {
            throw page.junk(`proofs are for tree size ${treeSize}, not the listing's ${pinned.size}`);
          }
          const items = page.list("items");
          if (items.length > remaining)
            throw page.junk(`${items.length} items where at most ${remaining} were asked`);
          const cp = pinned;
          const entries: (ProvenEntry | ResolvedEntry)[] = items.map((it, i) => {
            const item = new Answer(`${where} items[${i}]`, it);
            // Pruned or erased since: nothing left to prove, and nothing shown but that.
            const gone = item.gone();
            if (gone !== undefined) return goneEntry(item.index("index"), gone);
            return proveEntry(
              item.index("index"),
              Buffer.from(item.string("entry"), "utf8"),
              item.hashes("inclusionProof"),
              cp,
            );
          });
          yield { entries };
          remaining -= entries.length;
          cursor = page.object("metadata").optionalString("continue");
          if (cursor === undefined) return;
          if (entries.length === 0) throw page.junk("an empty page that says more follow");
          if (remaining === 0) more = cursor;
        }
      },
    };
  };

  return {
    where: api.server,
    list,
    async top(dimension: TopDimension, raw: RawFilter, n: number): Promise<TopCount[]> {
      const where = `${api.server}/v1/top/${dimension}`;
      const body = new Answer(
        where,
        await api.get(`v1/top/${dimension}`, params(raw, { top: String(Math.min(n, TOP_MAX)) })),
      );
      return body.list("items").map((it, i) => {
        const item = new Answer(`${where} items[${i}]`, it);
        const count = (it as { count?: unknown }).count;
        if (typeof count !== "number" || !Number.isSafeInteger(count) || count < 0)
          throw item.junk(`"count" is not a whole number`);
        return { key: item.string("key"), count };
      });
    },
    async entry(index: number) {
      const where = `${api.server}/v1/events/${index}`;
      const body = new Answer(where, await api.get(`v1/events/${index}`));
      if (body.index("index") !== index) throw body.junk(`the answer is for entry ${body.index("index")}`);
      const checkpoint = await trust(body.object("checkpoint").string("note"), where);
      const entry = proveEntry(
        index,
        Buffer.from(body.string("entry"), "utf8"),
        body.hashes("inclusionProof"),
        checkpoint,
      );
      return { entry, checkpoint };
    },
    async verifierKey() {
      const body = new Answer(`${api.server}/v1/keys`, await api.get("v1/keys"));
      return { origin: body.string("origin"), verifierKey: body.string("verifierKey") };
    },
    async close() {
      api.close();
    },
  };
}

/** A checkpoint already signed by the pinned key must also carry the policy's cosignatures. */
function requireQuorum(note: string, policy: WitnessPolicy, where: string): void {
  try {
    requireWitnesses(note, policy);
  } catch (err) {
    if (err instanceof WitnessPolicyError)
      throw new ClientError("witnesses", `${where}: ${err.message}`, { cause: err });
    throw err;
  }
}
