// The small test harness the browser scripts share: named checks, one line each, and the closing
// "N passed, N failed" line.
let passed = 0;
let failed = 0;

export async function check(name, fn) {
  try {
    await fn();
    passed++;
    console.log(`ok - ${name}`);
  } catch (e) {
    failed++;
    console.log(`not ok - ${name}: ${e.stack ?? e}`);
  }
}

export function expect(cond, what) {
  if (!cond) throw new Error(what);
}

/** Prints the summary and ends the process with its verdict. */
export function finish() {
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed === 0 ? 0 : 1);
}
