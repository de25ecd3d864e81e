/** Follows a promise without awaiting it: `settled`, then `value` or `error` (for fake-clock manager tests). */
export function track<Value>(promise: Promise<Value>) {
  const state: { settled: boolean; value?: Value; error?: unknown } = { settled: false };
  promise.then(
    (value) => {
      state.settled = true;
      state.value = value;
    },
    (error: unknown) => {
      state.settled = true;
      state.error = error;
    },
  );
  return state;
}
