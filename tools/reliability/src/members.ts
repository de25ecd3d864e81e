/** Member processes of a scenario: started, killed (SIGKILL) or stopped (SIGTERM, a clean close), each with a log. */

import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { JsonLinesLog, type MemberEntry } from './log.ts';
import type { MemberOptions } from './member.ts';

const MEMBER_SCRIPT = fileURLToPath(new URL('./member.ts', import.meta.url));

export class MemberProcess {
  readonly name: string;
  readonly log: JsonLinesLog<MemberEntry>;
  readonly #child: ChildProcess;
  readonly #exited: Promise<number | null>;
  #killed = false;

  constructor(name: string, options: Omit<MemberOptions, 'logFile'> & { directory: string }) {
    this.name = name;
    const logFile = join(options.directory, `${name}.jsonl`);
    this.log = new JsonLinesLog(logFile);
    const memberOptions: MemberOptions = {
      bootstrap: options.bootstrap,
      topic: options.topic,
      groupId: options.groupId,
      processingMs: options.processingMs,
      logFile,
      ...(options.config ? { config: options.config } : {}),
      ...(options.otherTopics ? { otherTopics: options.otherTopics } : {}),
      ...(options.slow ? { slow: options.slow } : {}),
    };
    this.#child = spawn(
      process.execPath,
      ['--conditions=@sluice/source', MEMBER_SCRIPT, JSON.stringify(memberOptions)],
      // The IPC channel closes when this process dies, however it dies: the member then ends too (member.ts).
      { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] },
    );
    this.#exited = new Promise((resolve) => this.#child.once('exit', (code) => resolve(code)));
  }

  get killed(): boolean {
    return this.#killed;
  }

  /** Resolves once the member has logged that it started (its consumer exists). */
  async started(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.log.read().some((entry) => entry.t === 'start')) {
      if (Date.now() > deadline) throw new Error(`member ${this.name} did not start`);
      await sleep(50);
    }
  }

  /** Resolves once the member's listener has been told of an assignment (it is in the group). */
  async assigned(timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.log.read().some((entry) => entry.t === 'assigned')) {
      if (Date.now() > deadline) throw new Error(`member ${this.name} was never assigned partitions`);
      await sleep(100);
    }
  }

  /** A crash: SIGKILL, nothing runs afterwards. */
  async kill(): Promise<void> {
    this.#killed = true;
    this.#child.kill('SIGKILL');
    await this.#exited;
  }

  /** A clean shutdown: SIGTERM, the member closes its consumer (commit, LeaveGroup). Resolves with its exit code. */
  async stop(timeoutMs = 60_000): Promise<number | null> {
    this.#child.kill('SIGTERM');
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), timeoutMs);
    const code = await this.#exited;
    clearTimeout(timer);
    return code;
  }
}
