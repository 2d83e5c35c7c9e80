// A configuration file the operator may edit while the process runs: it is read again when it
// changes (checked every interval; editors that replace the file are seen too) and on SIGHUP.
// A version that does not load is reported and the last good one stays in force.
import { watchFile, unwatchFile } from "node:fs";

export interface ReloadingFile<T> {
  current(): T;
  /** Reads the file now (what SIGHUP does). */
  reload(): Promise<void>;
  close(): void;
}

export interface ReloadOptions {
  intervalMs?: number;
  onReload?: (message: string) => void;
  onError?: (err: unknown) => void;
}

/** Loads `file` (throws if the first load fails) and keeps it current. */
export async function reloadingFile<T>(
  file: string,
  load: (file: string) => Promise<T>,
  opts: ReloadOptions = {},
): Promise<ReloadingFile<T>> {
  let value: T = await load(file);
  let running: Promise<void> | null = null;
  const reload = (): Promise<void> =>
    (running ??= load(file)
      .then((v: T) => {
        value = v;
        opts.onReload?.(`${file}: reloaded`);
      })
      .catch((err: unknown) => opts.onError?.(err))
      .finally(() => (running = null)));
  const onChange = (): void => void reload();
  watchFile(file, { interval: opts.intervalMs ?? 1000, persistent: false }, onChange);
  const onHup = (): void => void reload();
  process.on("SIGHUP", onHup);
  return {
    current: () => value,
    reload,
    close: () => {
      unwatchFile(file, onChange);
      process.off("SIGHUP", onHup);
    },
  };
}
