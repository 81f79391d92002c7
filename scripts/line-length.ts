// Lists every line longer than 120 characters in the tracked TypeScript files (issue #13),
// generated folders (src/generated, src/connectors/generated) left out: their generators own
// them. Biome's lineWidth is 120 too, but its formatter does not break strings or comments.
// Prints `file:line: length` for each and exits 1 if there is any (`npm run lint:lines`).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';

const MAX = 120;

const root = new URL('../', import.meta.url);
const files = execFileSync('git', ['ls-files', '-z', '--', '*.ts'], { cwd: root, encoding: 'utf8' })
  .split('\0')
  .filter((file) => file !== '' && !file.split('/').includes('generated'));

let long = 0;
for (const file of files) {
  const path = new URL(file, root);
  if (!fs.existsSync(path)) continue; // deleted in the work tree, not yet in the index
  const lines = fs.readFileSync(path, 'utf8').split('\n');
  for (const [i, line] of lines.entries()) {
    // Characters as an editor counts them: code points, not UTF-16 units or bytes.
    const length = [...line.replace(/\r$/, '')].length;
    if (length > MAX) {
      console.log(`${file}:${i + 1}: ${length}`);
      long++;
    }
  }
}
if (long) {
  console.error(`${long} line${long === 1 ? '' : 's'} longer than ${MAX} characters`);
  process.exit(1);
}
console.log(`${files.length} files, no line longer than ${MAX} characters`);
