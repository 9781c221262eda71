/** Where a JSON text first goes wrong, and why, in words about the text (not about the parser). */
export interface JsonProblem {
  /** Offset in the text (UTF-16 code units) of the character at fault. */
  offset: number;
  reason: string;
}

class Found extends Error {
  constructor(readonly problem: JsonProblem) {
    super(problem.reason);
  }
}

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const ESCAPE = /\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4})/y;

/**
 * The first problem of a JSON text, found by reading it ourselves: V8 gives no position for some
 * mistakes (`[1,]`, `{"a":}`) and words the others differently from one Node version to the next.
 * Undefined when the text is valid JSON.
 */
export function findJsonProblem(text: string): JsonProblem | undefined {
  const scan = new Scanner(text);
  try {
    scan.value('the file is empty');
    scan.space();
    if (scan.at < text.length) scan.fail(scan.at, `${scan.what()} after the end of the JSON value`);
    return undefined;
  } catch (error) {
    if (error instanceof Found) return error.problem;
    throw error;
  }
}

class Scanner {
  at = 0;
  constructor(private readonly text: string) {}

  fail(offset: number, reason: string): never {
    throw new Found({ offset, reason });
  }

  space(): void {
    while (/[ \t\n\r\uFEFF]/.test(this.text[this.at] ?? '')) this.at++;
  }

  /** The character at the cursor, as a reason names it. */
  what(): string {
    const c = this.text[this.at];
    if (c === undefined) return 'the end of the file';
    if (c === '/' && /[/*]/.test(this.text[this.at + 1] ?? '')) return 'a comment (JSON has none)';
    if (c === "'") return 'a single quote (JSON strings take double quotes)';
    return `unexpected ${JSON.stringify(c)}`;
  }

  value(empty = 'the file ends where a value should be'): void {
    this.space();
    const c = this.text[this.at];
    if (c === undefined) this.fail(this.at, empty);
    if (c === '{') return this.container('}', true);
    if (c === '[') return this.container(']', false);
    if (c === '"') return this.string();
    if (c === '-' || (c >= '0' && c <= '9')) return this.number();
    for (const word of ['true', 'false', 'null']) {
      if (this.text.startsWith(word, this.at)) {
        this.at += word.length;
        return;
      }
    }
    this.fail(this.at, `${this.what()} where a value should be`);
  }

  /** An object (`{"k": v, …}`) or an array (`[v, …]`), from its opening bracket. */
  private container(close: '}' | ']', keyed: boolean): void {
    const item = keyed ? 'a property' : 'an element';
    this.at++;
    this.space();
    if (this.text[this.at] === close) {
      this.at++;
      return;
    }
    for (;;) {
      if (keyed) this.key();
      else this.value();
      this.space();
      if (this.text[this.at] === close) {
        this.at++;
        return;
      }
      if (this.text[this.at] !== ',') this.fail(this.at, `${this.what()} where ',' or '${close}' should follow ${item}`);
      const comma = this.at++;
      this.space();
      if (this.text[this.at] === close)
        this.fail(comma, `a trailing comma after the last ${keyed ? 'property' : 'element'} (JSON allows none before '${close}')`);
    }
  }

  private key(): void {
    this.space();
    if (this.text[this.at] !== '"') this.fail(this.at, `${this.what()} where a property name in double quotes should be`);
    this.string();
    this.space();
    if (this.text[this.at] !== ':') this.fail(this.at, `${this.what()} where ':' should follow the property name`);
    this.at++;
    this.value();
  }

  private string(): void {
    const start = this.at++;
    for (;;) {
      const c = this.text[this.at];
      if (c === undefined) this.fail(start, 'a string that is never closed (no " before the end of the file)');
      if (c === '"') {
        this.at++;
        return;
      }
      if (c === '\\') {
        ESCAPE.lastIndex = this.at;
        if (!ESCAPE.test(this.text)) this.fail(this.at, 'a backslash that starts no escape JSON knows (write \\\\ for a backslash)');
        this.at = ESCAPE.lastIndex;
        continue;
      }
      if (c < ' ') this.fail(this.at, c === '\n' ? 'a line break inside a string (write \\n, or close the string)' : 'a control character inside a string');
      this.at++;
    }
  }

  private number(): void {
    NUMBER.lastIndex = this.at;
    if (!NUMBER.test(this.text)) this.fail(this.at, `${this.what()} where a value should be (a number needs a digit after '-')`);
    this.at = NUMBER.lastIndex;
  }
}
