// An embedded data directory belongs to one process: two PGlite instances writing the
// same files would corrupt it. A pid file refuses the second one with a clear message.
import fs from 'node:fs/promises';
import path from 'node:path';

export class DataDirInUseError extends Error {}

export async function acquireDataDirLock(dataDir: string): Promise<() => Promise<void>> {
  await fs.mkdir(dataDir, { recursive: true });
  const lockFile = path.join(dataDir, '.account-gateway.pid');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await fs.writeFile(lockFile, String(process.pid), { flag: 'wx' });
      return async () => {
        await fs.rm(lockFile, { force: true });
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const owner = Number(await fs.readFile(lockFile, 'utf8').catch(() => ''));
      if (owner && owner !== process.pid && isAlive(owner)) {
        throw new DataDirInUseError(
          `DATA_DIR ${dataDir} is in use by process ${owner}. Stop it, ` +
            'or use another DATA_DIR, or set DATABASE_URL to share a PostgreSQL server.',
        );
      }
      // The previous owner died (crash, kill -9): its lock is stale.
      await fs.rm(lockFile, { force: true });
    }
  }
  throw new DataDirInUseError(`could not lock DATA_DIR ${dataDir}`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
