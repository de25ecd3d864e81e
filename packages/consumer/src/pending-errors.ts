/**
 * Errors met in the background (fetches, metadata, the buffer) that the application hears of at its next call, as
 * Kafka's consumer throws them from poll. One of each waits: a partition whose fetches fail again and again (every
 * retry.backoff.ms) while the application is busy has one error pending, not one per attempt, so the application
 * is not handed a backlog of stale errors once the cause is gone.
 */
export class PendingErrors {
  readonly #errors: Error[] = [];
  #met = 0;

  /** Every error met, the ones folded into a pending one included. */
  get met(): number {
    return this.#met;
  }

  add(error: Error): void {
    this.#met++;
    if (this.#errors.some((pending) => pending === error || sameError(pending, error))) return;
    this.#errors.push(error);
  }

  /** The errors waiting, oldest first; none wait afterwards. */
  take(): Error[] {
    return this.#errors.splice(0);
  }
}

function sameError(a: Error, b: Error): boolean {
  return a.name === b.name && a.message === b.message;
}
