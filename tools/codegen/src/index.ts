export type { GeneratedFile, RunOptions, RunResult } from './generate.ts';
export { API_NAMES, GENERATE_COMMAND, generateFiles, KAFKA_VERSION, loadSchemas, runGenerator } from './generate.ts';
export { parseJsonWithComments } from './json-with-comments.ts';
export type { FieldDeclaration, FieldType, MessageDeclaration, StructDeclaration, VersionRange } from './schema.ts';
export { buildMessage } from './schema.ts';
export { readZipEntries } from './zip.ts';
