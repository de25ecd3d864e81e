/**
 * Parses JSON that may hold `//` line comments, as Kafka's message schemas do (Kafka reads them with Jackson's
 * ALLOW_COMMENTS). Comments are blanked outside string literals only, so a `//` inside an "about" text survives.
 */
export function parseJsonWithComments(text: string): unknown {
  let output = '';
  let inString = false;
  for (let index = 0; index < text.length; index++) {
    const character = text[index]!;
    if (inString) {
      output += character;
      if (character === '\\') {
        output += text[index + 1] ?? '';
        index++;
      } else if (character === '"') {
        inString = false;
      }
    } else if (character === '"') {
      inString = true;
      output += character;
    } else if (character === '/' && text[index + 1] === '/') {
      while (index < text.length && text[index] !== '\n') index++;
      output += '\n';
    } else {
      output += character;
    }
  }
  return JSON.parse(output);
}
