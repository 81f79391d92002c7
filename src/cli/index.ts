// account-gateway: the command line for operators (its commands are in program.ts), on this
// process's arguments, environment and streams.
import { runCli } from './program.js';

const code = await runCli(process.argv.slice(2), {
  env: process.env,
  stdin: process.stdin,
  stdout: process.stdout,
  stderr: process.stderr,
});
// A failed command ends the process at once, as before, whatever handle is still open.
if (code !== 0) process.exit(code);
