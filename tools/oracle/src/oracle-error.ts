/** A failure of the oracle: an `{ "error" }` answer from Java, a JVM that died, or one that could not start. */
export class OracleError extends Error {
  override name = 'OracleError';
}
