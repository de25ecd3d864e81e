/** A promise with its settle functions, for results that a manager hands back later (the loop's "results out"). */
export interface Deferred<Value> {
  readonly promise: Promise<Value>;
  readonly settled: boolean;
  resolve(value: Value): void;
  reject(error: Error): void;
}

export function deferred<Value>(): Deferred<Value> {
  let resolve!: (value: Value) => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<Value>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // A result nobody waits for (an async commit without a callback) must not become an unhandled rejection.
  promise.catch(() => {});
  let settled = false;
  return {
    promise,
    get settled() {
      return settled;
    },
    resolve(value) {
      if (settled) return;
      settled = true;
      resolve(value);
    },
    reject(error) {
      if (settled) return;
      settled = true;
      reject(error);
    },
  };
}
