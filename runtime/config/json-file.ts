/**
 * Reading JSON config files with errors that name the file and the line/column of a syntax error.
 * Node 20's JSON.parse often omits the position ("Unexpected token '}', ... is not valid JSON"), so on
 * failure a small scanner finds the offset of the first syntax error.
 */
import { readFile } from 'node:fs/promises';
import { EdgeError, type ErrorCode } from '../errors.js';

export interface JsonSyntaxPosition {
  /** 0-based offset in the text (UTF-16 code units). */
  position: number;
  /** 1-based. */
  line: number;
  /** 1-based. */
  column: number;
  message: string;
}

/**
 * Parses `text`; throws `code` naming `file`, line and column on a syntax error
 * (details: { file, line, column, position }).
 */
export function parseJsonText(text: string, file: string, code: ErrorCode): unknown {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  try {
    return JSON.parse(body) as unknown;
  } catch (e) {
    const at = findJsonSyntaxError(body) ?? { position: 0, line: 1, column: 1, message: e instanceof Error ? e.message : String(e) };
    throw new EdgeError(code, `${file}:${at.line}:${at.column}: not valid JSON: ${at.message}`, { details: { file, line: at.line, column: at.column, position: at.position }, cause: e });
  }
}

/** Reads and parses a JSON file. Throws `code` for unreadable files and syntax errors (details.file). */
export async function readJsonFile(file: string, code: ErrorCode): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    const reason = (e as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new EdgeError(code, `${file}: cannot read the file (${reason})`, { details: { file, reason }, cause: e });
  }
  return parseJsonText(text, file, code);
}

/** The first JSON syntax error in `text`, or undefined when it parses. */
export function findJsonSyntaxError(text: string): JsonSyntaxPosition | undefined {
  let i = 0;
  const fail = (message: string): never => {
    throw new ScanError(i, message);
  };
  const ws = (): void => {
    while (i < text.length && ' \t\n\r'.includes(text[i] as string)) i++;
  };
  const literal = (word: string): void => {
    for (const ch of word) {
      if (text[i] !== ch) fail(`expected "${word}"`);
      i++;
    }
  };
  const string = (): void => {
    i++; // opening quote
    for (;;) {
      if (i >= text.length) fail('unterminated string');
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        i++;
        return;
      }
      if (c < 0x20) fail('control character in string');
      if (c === 0x5c) {
        i++;
        const e = text[i];
        if (e === 'u') {
          for (let k = 1; k <= 4; k++)
            if (!/[0-9a-fA-F]/.test(text[i + k] ?? '')) {
              i += k;
              fail('bad \\u escape');
            }
          i += 5;
        } else if (e !== undefined && '"\\/bfnrt'.includes(e)) i++;
        else fail('bad escape');
      } else i++;
    }
  };
  const number = (): void => {
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i));
    if (m === null || m[0] === '' || m[0] === '-') fail('bad number');
    i += (m as RegExpExecArray)[0].length;
  };
  const value = (depth: number): void => {
    if (depth > 2_000) fail('nested too deeply');
    ws();
    const c = text[i];
    if (c === undefined) fail('unexpected end of input');
    else if (c === '{') {
      i++;
      ws();
      if (text[i] === '}') {
        i++;
        return;
      }
      for (;;) {
        ws();
        if (text[i] !== '"') fail('expected a "quoted" key');
        string();
        ws();
        if (text[i] !== ':') fail('expected ":"');
        i++;
        value(depth + 1);
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === '}') {
          i++;
          return;
        }
        fail('expected "," or "}"');
      }
    } else if (c === '[') {
      i++;
      ws();
      if (text[i] === ']') {
        i++;
        return;
      }
      for (;;) {
        value(depth + 1);
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === ']') {
          i++;
          return;
        }
        fail('expected "," or "]"');
      }
    } else if (c === '"') string();
    else if (c === 't') literal('true');
    else if (c === 'f') literal('false');
    else if (c === 'n') literal('null');
    else if (c === '-' || (c >= '0' && c <= '9')) number();
    else fail(`unexpected character ${JSON.stringify(c)}`);
  };
  try {
    value(0);
    ws();
    if (i < text.length) fail('unexpected text after the JSON value');
    return undefined;
  } catch (e) {
    if (!(e instanceof ScanError)) throw e;
    const before = text.slice(0, e.position);
    const line = before.split('\n').length;
    const column = e.position - (before.lastIndexOf('\n') + 1) + 1;
    return { position: e.position, line, column, message: e.message };
  }
}

class ScanError extends Error {
  constructor(
    readonly position: number,
    message: string,
  ) {
    super(message);
  }
}
