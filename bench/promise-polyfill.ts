// Promise.withResolvers (ES2024, Node 22) for Node 20: PostGraphile 5.1's grafast calls it.
// Loaded by bench/postgraphile.ts before PostGraphile; the gateway's own code does not need it.
const P = Promise as unknown as { withResolvers?: () => unknown };
if (typeof P.withResolvers !== 'function') {
  P.withResolvers = function withResolvers<T>() {
    let resolve!: (value: T | PromiseLike<T>) => void;
    let reject!: (reason?: unknown) => void;
    const promise = new Promise<T>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    return { promise, resolve, reject };
  };
}
export {};
