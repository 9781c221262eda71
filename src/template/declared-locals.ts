import ejs from 'ejs';

type Render = (locals: object) => string;

/** Names EJS's generated code uses for itself, and globals it reads: a local of one of these names is left to `with`. */
const EJS_OWN = new Set([
  'locals',
  'escapeFn',
  'include',
  'rethrow',
  '__output',
  '__append',
  '__line',
  '__lines',
  '__filename',
  'undefined',
  'NaN',
  'Infinity',
]);
const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

/**
 * A compiled template that runs as fast as EJS can. EJS runs a template inside `with (locals)` by
 * default, where every name its code uses (the output, the escape function, the line it is on)
 * is looked up at run time: a render of 10,000 servers took 13 ms that way and 6 ms with the
 * locals declared (measured under watch's `--no-opt`). So each set of local names gets, once a
 * render with it was WORTH_CHARS long, a function whose code runs in a block that declares them with `let`, as the
 * `with` block holds them: a stray `}` leaves that block as it leaves `with`, and a `var` or
 * function of a local's name there does not compile (nor change what the names read), so the
 * `with` form runs. The `with` form also runs for code that could tell the two apart (see
 * `plainCode`), and for names that cannot be declared. The lines are the template's own (the
 * block opens on line 1), so errors name the same lines.
 */
export function declaredLocals(text: string, options: ejs.Options, withForm: Render, worthChars = WORTH_CHARS): Render {
  const forms = new Map<string, Render>();
  let tokens: string[][] | undefined;
  return (locals) => {
    const names = Object.keys(locals);
    const key = JSON.stringify(names);
    const form = forms.get(key);
    if (form) return form(locals);
    // Until a render is `worthChars` long the `with` form runs: compiling another costs about 1 MiB of resident memory (measured at 2 servers).
    const out = withForm(locals);
    if (out.length >= worthChars) {
      tokens ??= tokensOfTemplate(text, options);
      forms.set(key, (plainCode(tokens, new Set(names)) && declaredForm(text, options, names)) || withForm);
    }
    return out;
  };
}

/**
 * A render this long is worth a second compile: about 1,000 server lines (10,000 servers: 13 ms
 * a render). Its length, not its time: a collection during a small render makes it slow too.
 */
const WORTH_CHARS = 64 * 1024;

function declaredForm(text: string, options: ejs.Options, names: string[]): Render | undefined {
  if (names.length === 0 || !names.every((n) => IDENTIFIER.test(n) && !EJS_OWN.has(n))) return undefined;
  const declared = `<% { let ${names.map((n) => `${n} = locals.${n}`).join(', ')}; %>`;
  try {
    return new ejs.Template(`${declared}${text}<% } %>`, { ...options, _with: false }).compile() as Render;
  } catch {
    return undefined; // a `var` or function of a local's name at the top of the block, say: run as compiled at load
  }
}

/** Whether a template runs with these local names declared (for tests: the shipped templates do). */
export function runsDeclared(text: string, names: readonly string[]): boolean {
  return plainCode(tokensOfTemplate(text, {}), new Set(names)) && declaredForm(text, {}, [...names]) !== undefined;
}

/** The JavaScript of a template's tags (`<% %>`, `<%= %>`, `<%- %>`, `<%_ %>`), as EJS splits them, in tokens. */
function tokensOfTemplate(text: string, options: ejs.Options): string[][] {
  const parts = (new ejs.Template(text, options) as unknown as { parseTemplateText(): string[] }).parseTemplateText();
  return parts.filter((_, i) => ['<%', '<%=', '<%-', '<%_'].includes(parts[i - 1] ?? '')).map(tokensOf);
}

/**
 * A tag's code as tokens: names, the operators that may assign, one character else; strings as
 * `""`. One `"` left unmatched, or code this cannot read for sure (a `/`: a regular expression or
 * a comment; an HTML-like comment; a template literal; a `\\` escape in a name) gives `!`: not plain.
 */
function tokensOf(code: string): string[] {
  if (/[/`]|<!--|-->/.test(code)) return ['!'];
  const masked = code.replace(/'(?:\\.|[^'\\])*'|"(?:\\.|[^"\\])*"/g, '""');
  if (/[\\'"]/.test(masked.replace(/""/g, ''))) return ['!'];
  return masked.match(/""|[A-Za-z_$][\w$]*|\.\.\.|[-+*%&|^<>!=?]*=|\+\+|--|\?\?|\S/g) ?? [];
}

/**
 * Code that reads the locals (`names`) the same whether they are declared or looked up in
 * `with (locals)`. Not so, and so run with `with`: code that names `locals` (it may change the
 * object the names are looked up in), `delete`, `eval` or `with`, or a member of Object.prototype
 * bare (`with` finds it on the locals object); code that may assign a local: its name before `=`,
 * an assignment operator, `++`, `--`, `,`, `]`, `}`, `of` or `in`, or after `++`, `--` or `...`,
 * unless a call, `.`, `[` or `?` follows it; and code `tokensOf` cannot read.
 */
function plainCode(code: readonly string[][], names: ReadonlySet<string>): boolean {
  for (const tokens of code) {
    for (let i = 0; i < tokens.length; i++) {
      const [before, token, after] = [tokens[i - 1] ?? '', tokens[i]!, tokens[i + 1] ?? ''];
      if (token === '!') return false;
      if (!IDENTIFIER.test(token) || before === '.') continue;
      if (['locals', 'delete', 'eval', 'with'].includes(token) || token in Object.prototype) return false;
      if (!names.has(token) || READ_AFTER.has(after)) continue;
      if (['++', '--', '...'].includes(before) || ASSIGNING.test(after) || ['++', '--', ',', ']', '}', 'of', 'in'].includes(after)) return false;
    }
  }
  return true;
}

/** What follows a name that is read, not assigned: a call, a member, a conditional. */
const READ_AFTER = new Set(['(', '.', '[', '?', '??']);
/** What may follow a name it assigns: `=` and every compound assignment (not `==`, `===`, `<=`, `>=`, `!=`). */
const ASSIGNING = /^(?:=|[-+*%&|^]=|\*\*=|<<=|>>>?=|&&=|\|\|=|\?\?=)$/;
