/** Code of the error that says a store's files are not what it wrote: it is rebuilt from the log. */
export const STORE_CORRUPT = "DEDUPE_STORE_CORRUPT";

export class StoreCorruptError extends Error {
  readonly code = STORE_CORRUPT;
  constructor(where: string, what: string) {
    super(`dedupe store ${where}: ${what}`);
    this.name = "StoreCorruptError";
  }
}
