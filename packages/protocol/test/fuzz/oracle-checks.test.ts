import { describe, expect, it } from 'vitest';
import type { MessageCodec } from '../../src/message-codec.ts';
import type { Reader } from '../../src/primitives/reader.ts';
import type { Seed } from './corpus-types.ts';
import { judgeCase, unmutatedCase } from './engine.ts';

// The oracle must catch what it is there to catch: planted faults in a fake decoder show up as findings.

function fakeSeed(read: (reader: Reader) => unknown): Seed {
  const codec: MessageCodec<unknown> = {
    name: 'FakeMessage',
    apiKey: -1,
    minVersion: 0,
    maxVersion: 0,
    firstFlexibleVersion: null,
    read: (reader) => read(reader),
    write: () => {},
    createDefault: () => ({}),
  };
  return {
    name: 'fake',
    target: { kind: 'message', codec, version: 0, frameApi: null },
    bytes: new Uint8Array(16),
    positions: [],
    inner: [],
    expectation: 'decodes',
  };
}

function consumeAll(reader: Reader): void {
  reader.rawBytes(reader.remaining, 'fake');
}

describe('the fuzz oracle', () => {
  it('passes a decoder that decodes or throws ProtocolError', async () => {
    const verdict = await judgeCase(unmutatedCase(fakeSeed((reader) => consumeAll(reader))));
    expect(verdict.problems).toEqual([]);
  });

  it('reports an exception other than ProtocolError', async () => {
    const verdict = await judgeCase(
      unmutatedCase(
        fakeSeed(() => {
          throw new RangeError('Invalid typed array length');
        }),
      ),
    );
    expect(verdict.problems.map((problem) => problem.kind)).toContain('exception');
  });

  it('reports output larger than the bound', async () => {
    const verdict = await judgeCase(
      unmutatedCase(
        fakeSeed((reader) => {
          consumeAll(reader);
          return { list: Array.from({ length: 1000 }, () => 0) };
        }),
      ),
    );
    expect(verdict.problems.map((problem) => problem.kind)).toContain('output-size');
  });

  it('reports an allocation larger than the bound', async () => {
    let kept: Uint8Array | undefined;
    const verdict = await judgeCase(
      unmutatedCase(
        fakeSeed((reader) => {
          consumeAll(reader);
          kept = new Uint8Array(8 << 20);
          return {};
        }),
      ),
    );
    expect(kept?.length).toBe(8 << 20);
    expect(verdict.problems.map((problem) => problem.kind)).toContain('allocation');
  });

  it('reports a slow case', async () => {
    const verdict = await judgeCase(
      unmutatedCase(
        fakeSeed((reader) => {
          consumeAll(reader);
          const until = performance.now() + 30;
          while (performance.now() < until) {}
          return {};
        }),
      ),
      10,
    );
    expect(verdict.problems.map((problem) => problem.kind)).toContain('slow');
  });
});
