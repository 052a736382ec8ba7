/**
 * Library errors in the page's words: the library speaks to CLI and API users (options such as --config,
 * --max-pixels); the page names its own controls instead.
 */
import { PageError } from './session.js';

const REWORDINGS: [RegExp, (m: RegExpMatchArray) => string][] = [
  [/not an official SAM 2 variant: pass --config \(the checkpoint has (.*)\)/,
    (m) => `This checkpoint is not one of the official SAM 2 / 2.1 models (it has ${m[1]}), so its config cannot be detected: pick its .json config together with the .safetensors (select both files at once).`],
  [/\(raise it with --max-pixels[^)]*\)/, () => '(the page cannot take frames this large: scale the video down first)'],
  [/tree mode needs each object prompted on one frame/,
    () => 'SAM2Long tracks each object from the one frame it is prompted on: switch to SAM 2 (greedy memory) to re-track from corrections on other frames.'],
  [/backend '(\w+)' cannot start in this browser/, (m) => `The ${m[1]} backend cannot start in this browser: pick another backend.`],
];

/** The message to show for an error of `action` (e.g. "Loading the model"). */
export function pageMessage(action: string, err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  if (err instanceof PageError) return message;
  for (const [pattern, reword] of REWORDINGS) {
    const m = message.match(pattern);
    if (m) return pattern.source.startsWith('\\(') ? `${action} failed: ${message.replace(pattern, reword(m))}` : reword(m);
  }
  // Anything else still must not tell a page user to pass a command-line option.
  return `${action} failed: ${message.replace(/\s*\(?(?:pass|use|raise it with) --[\w-]+[^)]*\)?/g, '')}`;
}
