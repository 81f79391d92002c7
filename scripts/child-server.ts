// The server as a child process on a free loopback port, as `npm start` runs it: for the
// crash, load and shutdown tests, which must kill it, load it from outside or signal it.
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';

export interface ChildServer {
  child: ChildProcess;
  port: number;
  url: string;
  /** The exit code, once the process has exited. */
  exited: Promise<number | null>;
}

export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/**
 * Node's arguments for the server: src/server.ts through tsx, as `npm start` runs it, or the
 * bundle of it that a test run builds once (ACCOUNT_GATEWAY_SERVER_BUNDLE,
 * test/helpers/server-bundle.ts), which starts in about half the time.
 */
export function serverArgs(): string[] {
  const bundle = process.env.ACCOUNT_GATEWAY_SERVER_BUNDLE;
  return bundle ? [bundle] : ['--import', 'tsx', 'src/server.ts'];
}

/** Starts the server (serverArgs) with `env` over this process's and waits until /readyz answers. */
export async function startServer(env: NodeJS.ProcessEnv): Promise<ChildServer> {
  const port = await freePort();
  const child = spawn(process.execPath, serverArgs(), {
    env: { ...process.env, SEED_DEMO: 'false', LOG_LEVEL: 'warn', ...env, PORT: String(port) },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = `http://127.0.0.1:${port}`;
  // Asked every 50 ms for a minute: a start takes 2 to 4 s here, longer on a busy machine.
  for (const until = Date.now() + 60_000; Date.now() < until; ) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}`);
    if (
      await fetch(`${url}/readyz`).then(
        (r) => r.ok,
        () => false,
      )
    )
      return { child, port, url, exited };
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill('SIGKILL');
  throw new Error('server did not become ready');
}

/** A GraphQL request to the child server with a bearer token; the answer's JSON body. */
export async function childGql(
  server: ChildServer,
  query: string,
  variables: Record<string, unknown>,
  token: string,
): Promise<{ data: any; errors?: unknown }> {
  const response = await fetch(`${server.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  });
  return (await response.json()) as { data: any; errors?: unknown };
}
