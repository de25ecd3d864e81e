import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Files of a certificate authority made for one cluster, with a broker and a client certificate it signed. */
export interface TlsMaterial {
  /** PEM certificate of the cluster's CA: what a client trusts. */
  readonly caFile: string;
  /** PKCS12 keystore holding the broker's key and its chain (SAN: localhost, 127.0.0.1). */
  readonly brokerKeystore: string;
  readonly brokerKeystorePassword: string;
  /** PEM client certificate and unencrypted key, for mutual TLS. */
  readonly clientCertFile: string;
  readonly clientKeyFile: string;
}

async function openssl(args: string[], cwd: string): Promise<void> {
  try {
    await run('openssl', args, { cwd });
  } catch (error) {
    const failure = error as { stderr?: string; message: string };
    throw new Error(`openssl ${args[0]} failed: ${failure.stderr?.trim() || failure.message}`);
  }
}

/**
 * Makes a fresh CA (valid 7 days) and signs a broker and a client certificate with it, using the openssl CLI.
 * Every cluster gets its own CA, so a client that trusts one cluster trusts no other.
 */
export async function createTlsMaterial(dir: string): Promise<TlsMaterial> {
  await mkdir(dir, { recursive: true });
  const password = randomBytes(12).toString('hex');
  await writeFile(
    join(dir, 'broker.ext'),
    'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n',
  );
  await writeFile(
    join(dir, 'client.ext'),
    'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n',
  );
  await openssl(
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-sha256',
      '-days',
      '7',
      '-keyout',
      'ca.key',
      '-out',
      'ca.pem',
      '-subj',
      '/CN=Sluice test CA',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ],
    dir,
  );
  for (const name of ['broker', 'client']) {
    const subject = name === 'broker' ? '/CN=localhost' : '/CN=sluice-client';
    await openssl(
      [
        'req',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-sha256',
        '-keyout',
        `${name}.key`,
        '-out',
        `${name}.csr`,
        '-subj',
        subject,
      ],
      dir,
    );
    await openssl(
      [
        'x509',
        '-req',
        '-sha256',
        '-days',
        '7',
        '-in',
        `${name}.csr`,
        '-CA',
        'ca.pem',
        '-CAkey',
        'ca.key',
        '-CAcreateserial',
        '-out',
        `${name}.pem`,
        '-extfile',
        `${name}.ext`,
      ],
      dir,
    );
  }
  await openssl(
    [
      'pkcs12',
      '-export',
      '-in',
      'broker.pem',
      '-inkey',
      'broker.key',
      '-certfile',
      'ca.pem',
      '-name',
      'broker',
      '-out',
      'broker.p12',
      '-passout',
      `pass:${password}`,
    ],
    dir,
  );
  return {
    caFile: join(dir, 'ca.pem'),
    brokerKeystore: join(dir, 'broker.p12'),
    brokerKeystorePassword: password,
    clientCertFile: join(dir, 'client.pem'),
    clientKeyFile: join(dir, 'client.key'),
  };
}
