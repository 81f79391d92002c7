// What a run of the command line reads and writes: its environment and three streams. The
// entry (index.ts) hands it the process's own; the tests hand it strings and buffers.

export interface CliStreams {
  env: NodeJS.ProcessEnv;
  /** The credential, or an import's lines, when no file is named. */
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  stdout: NodeJS.WritableStream;
  /** Messages and progress: bars when it is a terminal, lines otherwise. */
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
}

export interface CliIo extends CliStreams {
  /** A line of output, and a line of messages. */
  out(line: string): void;
  err(line: string): void;
}

export function cliIo(streams: CliStreams): CliIo {
  return {
    ...streams,
    out: (line) => void streams.stdout.write(`${line}\n`),
    err: (line) => void streams.stderr.write(`${line}\n`),
  };
}
