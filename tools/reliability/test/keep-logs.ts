import { onTestFailed } from 'vitest';

/** A failed scenario keeps its logs (and prints where), so that the checker's findings can be read again. */
export function keepLogsOnFailure(directory: string, directories: string[]): void {
  onTestFailed(() => {
    directories.splice(directories.indexOf(directory), 1);
    console.log(`the scenario's logs are kept in ${directory}`);
  });
}
