/** SCRAM (RFC 5802, RFC 7677) against the RFC's own test vector and a scripted broker that misbehaves. */
import { createHash, createHmac, pbkdf2Sync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { type SaslExchange, SaslFailure } from '../src/sasl/mechanism.ts';
import { parseServerFirst, scramClient, scramSaslName } from '../src/sasl/scram.ts';
import { Secret } from '../src/sasl/secret.ts';

const text = (bytes: Uint8Array) => Buffer.from(bytes).toString('utf8');

/** A scripted exchange: records what the client sent, answers with the next reply. */
function scripted(replies: Array<string | ((sent: string[]) => string)>): { exchange: SaslExchange; sent: string[] } {
  const sent: string[] = [];
  const exchange: SaslExchange = async (message) => {
    sent.push(text(message));
    const reply = replies.shift();
    if (reply === undefined) throw new Error('no more replies');
    return Buffer.from(typeof reply === 'function' ? reply(sent) : reply, 'utf8');
  };
  return { exchange, sent };
}

describe('SCRAM-SHA-256 (RFC 7677 section 3 test vector)', () => {
  it('sends the RFC client messages and verifies the RFC server signature', async () => {
    const { exchange, sent } = scripted([
      'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096',
      'v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=',
    ]);
    const client = scramClient({
      mechanism: 'SCRAM-SHA-256',
      username: 'user',
      password: new Secret('pencil'),
      clientNonce: 'rOprNGfwEbeRWgbNEkqO',
    });
    await expect(client.authenticate(exchange)).resolves.toEqual({ credentialLifetimeMs: null });
    expect(sent).toEqual([
      'n,,n=user,r=rOprNGfwEbeRWgbNEkqO',
      'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=',
    ]);
  });

  it('refuses a server signature that does not verify', async () => {
    const { exchange } = scripted([
      'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096',
      'v=7rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=',
    ]);
    const client = scramClient({
      mechanism: 'SCRAM-SHA-256',
      username: 'user',
      password: new Secret('pencil'),
      clientNonce: 'rOprNGfwEbeRWgbNEkqO',
    });
    await expect(client.authenticate(exchange)).rejects.toThrow(/signature does not verify/);
  });

  it("reports the server's e= error", async () => {
    const { exchange } = scripted([
      'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096',
      'e=invalid-proof',
    ]);
    const client = scramClient({
      mechanism: 'SCRAM-SHA-256',
      username: 'user',
      password: new Secret('pencil'),
      clientNonce: 'rOprNGfwEbeRWgbNEkqO',
    });
    await expect(client.authenticate(exchange)).rejects.toThrow(/SCRAM error "invalid-proof"/);
  });
});

describe('SCRAM-SHA-512', () => {
  it('completes against a server that computes the same proofs (random client nonce)', async () => {
    const password = 'correct horse battery staple';
    const salt = Buffer.from('0123456789abcdef');
    const iterations = 4096;
    const salted = pbkdf2Sync(password, salt, iterations, 64, 'sha512');
    const hmac = (key: Buffer, data: string) => createHmac('sha512', key).update(data).digest();
    let serverFirst = '';
    const { exchange, sent } = scripted([
      (messages) => {
        const clientNonce = /r=([^,]+)/.exec(messages[0]!)![1]!;
        serverFirst = `r=${clientNonce}server-part,s=${salt.toString('base64')},i=${iterations}`;
        return serverFirst;
      },
      (messages) => {
        const clientFinal = messages[1]!;
        const withoutProof = clientFinal.slice(0, clientFinal.indexOf(',p='));
        const authMessage = `${messages[0]!.slice(3)},${serverFirst},${withoutProof}`;
        const clientKey = hmac(salted, 'Client Key');
        const storedKey = createHash('sha512').update(clientKey).digest();
        const proof = Buffer.from(clientFinal.slice(clientFinal.indexOf(',p=') + 3), 'base64');
        const signature = hmac(storedKey, authMessage);
        const recovered = Buffer.from(proof.map((byte, index) => byte ^ signature[index]!));
        expect(createHash('sha512').update(recovered).digest().equals(storedKey)).toBe(true);
        return `v=${hmac(hmac(salted, 'Server Key'), authMessage).toString('base64')}`;
      },
    ]);
    const client = scramClient({ mechanism: 'SCRAM-SHA-512', username: 'a=b,c', password: new Secret(password) });
    await client.authenticate(exchange);
    expect(sent[0]).toMatch(/^n,,n=a=3Db=2Cc,r=[A-Za-z0-9+/]{32}$/);
    expect(sent.join('\n')).not.toContain(password);
  });
});

describe('SCRAM checks (RFC 5802 section 5.1)', () => {
  it('escapes "=" and "," in the saslname', () => {
    expect(scramSaslName('us=er,name')).toBe('us=3Der=2Cname');
  });

  const nonce = 'clientnonce';
  const refused = (message: string) => {
    expect(() => parseServerFirst(message, nonce)).toThrow(SaslFailure);
    try {
      parseServerFirst(message, nonce);
    } catch (error) {
      return (error as Error).message;
    }
    return '';
  };

  it('accepts a well-formed server-first message', () => {
    expect(parseServerFirst(`r=${nonce}xyz,s=c2FsdA==,i=4096`, nonce)).toMatchObject({
      nonce: `${nonce}xyz`,
      iterations: 4096,
    });
  });

  it('refuses a server nonce that does not extend ours, or merely repeats it', () => {
    expect(refused('r=othernonce,s=c2FsdA==,i=4096')).toMatch(/did not extend the client nonce/);
    expect(refused(`r=${nonce},s=c2FsdA==,i=4096`)).toMatch(/did not extend the client nonce/);
  });

  it('refuses fewer than 4096 iterations, and absurdly many', () => {
    expect(refused(`r=${nonce}x,s=c2FsdA==,i=4095`)).toMatch(/4095 iterations/);
    expect(refused(`r=${nonce}x,s=c2FsdA==,i=99999999`)).toMatch(/99999999 iterations/);
    expect(refused(`r=${nonce}x,s=c2FsdA==,i=abc`)).toMatch(/iterations/);
  });

  it('refuses a missing salt, a mandatory extension, an error and a malformed message', () => {
    expect(refused(`r=${nonce}x,i=4096`)).toMatch(/no valid salt/);
    expect(refused(`m=ext,r=${nonce}x,s=c2FsdA==,i=4096`)).toMatch(/extension/);
    expect(refused('e=unknown-user')).toMatch(/SCRAM error "unknown-user"/);
    expect(refused('garbage')).toMatch(/malformed/);
  });
});
