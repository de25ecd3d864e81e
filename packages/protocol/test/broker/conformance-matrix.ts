/**
 * What the broker conformance test exercised: API x version cells that passed, and cells skipped with a reason.
 * Also the documented exclusions: codec bugs found against the real broker (never fixed from a test) and requests
 * the broker legitimately refuses to answer.
 */
import type { ApiDescriptor } from '@sluice/protocol';

export interface Exclusion {
  readonly apiName: string;
  readonly version: number;
  /** What the broker did, what the bytes were, and where the fault is. */
  readonly reason: string;
}

/**
 * Codec bugs found by this test. Each entry excludes exactly one API x version until src/ is fixed; the fix
 * removes the entry. Empty: every cell the broker and the codec share passed against Kafka 4.4.0.
 */
export const KNOWN_CODEC_BUGS: readonly Exclusion[] = [];

export function knownCodecBug(api: ApiDescriptor<unknown, unknown>, version: number): Exclusion | undefined {
  return KNOWN_CODEC_BUGS.find((entry) => entry.apiName === api.name && entry.version === version);
}

export class ConformanceMatrix {
  readonly #registered = new Map<string, ApiDescriptor<unknown, unknown>>();
  readonly #passed = new Map<string, Set<number>>();
  readonly #skipped: Array<{ apiName: string; versions: string; reason: string }> = [];

  register(api: ApiDescriptor<unknown, unknown>): void {
    if (this.#registered.has(api.name)) throw new Error(`${api.name} has two conformance cases`);
    this.#registered.set(api.name, api);
  }

  isRegistered(api: ApiDescriptor<unknown, unknown>): boolean {
    return this.#registered.has(api.name);
  }

  pass(api: ApiDescriptor<unknown, unknown>, version: number): void {
    let versions = this.#passed.get(api.name);
    if (versions === undefined) {
      versions = new Set();
      this.#passed.set(api.name, versions);
    }
    versions.add(version);
  }

  passedVersions(api: ApiDescriptor<unknown, unknown>): number[] {
    return [...(this.#passed.get(api.name) ?? [])].sort((left, right) => left - right);
  }

  skip(api: ApiDescriptor<unknown, unknown>, versions: string, reason: string): void {
    this.#skipped.push({ apiName: api.name, versions, reason });
  }

  /**
   * A table for the test log: per API the versions that passed, the codec's and the broker's ranges (versions
   * outside their intersection are not testable here), then the skips.
   */
  summary(
    apis: readonly ApiDescriptor<unknown, unknown>[],
    brokerRanges: ReadonlyMap<number, { readonly min: number; readonly max: number }>,
  ): string {
    const lines: string[] = [];
    let cells = 0;
    for (const api of apis) {
      const passed = this.passedVersions(api);
      cells += passed.length;
      const shown = passed.length === 0 ? '-' : `v${passed[0]}-v${passed.at(-1)} (${passed.length})`;
      const broker = brokerRanges.get(api.apiKey);
      const ranges = `codec v${api.minVersion}-v${api.maxVersion}, broker ${broker ? `v${broker.min}-v${broker.max}` : 'not listed'}`;
      lines.push(`  ${String(api.apiKey).padStart(2)} ${api.name.padEnd(26)} ${shown.padEnd(13)} [${ranges}]`);
    }
    const covered = apis.filter((api) => this.passedVersions(api).length > 0).length;
    lines.unshift(`broker conformance: ${cells} API x version cells passed across ${covered} of ${apis.length} APIs`);
    for (const skip of this.#skipped) lines.push(`  skipped ${skip.apiName} ${skip.versions}: ${skip.reason}`);
    return lines.join('\n');
  }
}
