// How a command-line program ends: its output may be cut short by the reader (`| head`), and
// any failure is one line on stderr with the program's name and a non-zero exit, never a stack.
import { CommanderError, type Command } from "commander";
import { CliError } from "./errors.js";

export async function runProgram(program: Command, name: string): Promise<void> {
  // `… | head` closes stdout early: that is the reader's choice, not an error.
  process.stdout.on("error", (err: NodeJS.ErrnoException) => {
    if (err.code === "EPIPE") process.exit(process.exitCode ?? 0);
    throw err;
  });
  try {
    await program.parseAsync(process.argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      process.exitCode = err.exitCode;
      return;
    }
    process.stderr.write(`${name}: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = err instanceof CliError ? err.exitCode : 1;
  }
}
