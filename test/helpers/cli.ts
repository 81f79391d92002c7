// Child processes of the CLI (or the server) in tests: their exit code and output, never a
// rejection for a non-zero exit, killed if they outlive `timeoutMs`.
import { spawn } from 'node:child_process';

export interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `node <args>` with `env`, `input` on standard input. */
export function runNode(
  args: string[],
  options: { env: NodeJS.ProcessEnv; input?: string | null; timeoutMs?: number },
): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { env: options.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 90_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
    child.stdin.end(options.input ?? '');
  });
}

/** The operator CLI, as `npx account-gateway` runs it. */
export const CLI = 'bin/account-gateway.mjs';
