import { IngestError } from "../errors.js";

/** Code of the error that says a store's files are not what it wrote: it is rebuilt from the log. */
export const STORE_CORRUPT = "store_corrupt";

export class StoreCorruptError extends IngestError {
  constructor(where: string, what: string) {
    super(STORE_CORRUPT, `dedupe store ${where}: ${what}`);
  }
}
