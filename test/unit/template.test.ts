import { describe, expect, it } from 'vitest';
import { compileTemplate, renderTemplate } from '../../src/template/engine.js';
import { createHelpers } from '../../src/template/helpers.js';
import { thrown } from '../support/failure.js';

const pairs = [
  { key: '/apps/a/containers/one', value: '10.0.0.1:80' },
  { key: '/apps/a/containers/two', value: '10.0.0.2:80' },
  { key: '/apps/a/meta/json', value: '{"weight": 7}' },
  { key: '/apps/a/meta/name', value: 'web' },
  { key: '/apps/b/deep/x', value: 'evil value' },
];

function render(text: string, data = pairs, prefix = 'apps/a/containers') {
  const { helpers, keysHolding, diagnostics } = createHelpers(data, prefix);
  const out = renderTemplate(compileTemplate(text, '/t/test.ejs'), { ...helpers, settings: { port: 80 } }, keysHolding);
  return { out, diagnostics: diagnostics() };
}

describe('helpers (confd names)', () => {
  it('gets/getv/getvs/ls/lsdir/exists/base/dir/json behave like confd', () => {
    const t = [
      '<%= gets("/apps/a/containers/*").map((p) => base(p.key) + "=" + p.value).join(",") %>',
      '<%= getv("apps/a/meta/name") %> <%= getv("/missing", "dflt") %> <%= exists("/apps/a/meta/name") %>',
      '<%= getvs("/apps/*/containers/*").join(",") %>',
      '<%= ls("/apps").join(",") %> <%= lsdir("/apps/a").join(",") %> <%= ls("/apps/a/meta").join(",") %>',
      '<%= dir("/apps/a/meta/name") %> <%= json(getv("/apps/a/meta/json")).weight %>',
    ].join('\n');
    expect(render(t).out.split('\n')).toEqual([
      'one=10.0.0.1:80,two=10.0.0.2:80',
      'web dflt true',
      '10.0.0.1:80,10.0.0.2:80',
      'a,b containers,meta json,name',
      '/apps/a/meta 7',
    ]);
  });

  it('getv of a missing key without a default is an error naming the key and the template line', () => {
    const error = thrown(() => render('line one\n<%= getv("/nope") %>\n'));
    expect(error.exitCode).toBe(4);
    expect(error.message).toContain('/t/test.ejs:2');
    expect(error.message).toContain('/nope');
  });

  it('servers() defaults to the first prefix and reports skipped entries once per key', () => {
    const data = [...pairs, { key: '/apps/a/containers/bad', value: '10.0.0.9:99999' }];
    const { out, diagnostics } = render('<% servers(); for (const s of servers()) { %><%= s.name %>;<% } %>', data);
    expect(out).toBe('one;two;');
    expect(diagnostics.skipped).toEqual([{ key: '/apps/a/containers/bad', reason: 'port 99999 is outside 1-65535' }]);
  });
});

describe('<%= %> prints one config word', () => {
  it('does not HTML-escape', () => {
    expect(render('<%= "a&b<c>" %>').out).toBe('a&b<c>');
  });

  it('refuses a key/value value that could add config, naming the key (exit 5)', () => {
    const error = thrown(() => render('x\nserver s <%= getv("/apps/b/deep/x") %>\n'));
    expect(error.exitCode).toBe(5);
    expect(error.message).toContain('/t/test.ejs:2');
    expect(error.message).toContain('/apps/b/deep/x');
    expect(error.message).toContain('whitespace');
  });

  it.each(['a\nb', 'a\rb', 'a#b', 'a;b', 'a$b', 'a"b', 'a\u0085b', 'a\u2028b', 'a\u001bb'])('refuses %j', (value) => {
    expect(thrown(() => render('<%= v %>'.replace('v', JSON.stringify(value)))).exitCode).toBe(5);
  });
});

describe('template errors name the file and line', () => {
  it('a JavaScript syntax error', () => {
    const error = thrown(() => compileTemplate('global\n  maxconn 10\n<% if (true) { %>\nx\n<% } } } %>\nend\n', '/t/broken.ejs'));
    expect(error.exitCode).toBe(4);
    expect(error.message).toMatch(/^template \/t\/broken\.ejs:5: /);
    expect(error.detail).toContain('>>    5 | <% } } } %>');
  });

  it('a tag that is never closed', () => {
    const error = thrown(() => compileTemplate('a\nb\n<%= settings.port\nc\n', '/t/open.ejs'));
    expect(error.message).toMatch(/^template \/t\/open\.ejs:3: Could not find matching close tag/);
  });

  it('a key pattern with a backwards range names the pattern, the range and the template line, not a regular expression', () => {
    const error = thrown(() => render('a\n<% for (const p of gets("apps/[z-a]*")) { %>x<% } %>\n'));
    expect(error.exitCode).toBe(4);
    expect(error.message).toContain('/t/test.ejs:2');
    expect(error.message).toContain('key pattern "/apps/[z-a]*": the range z-a in [z-a] runs backwards (write a-z)');
    expect(error.message).not.toMatch(/regular expression/i);
  });

  it('a runtime error', () => {
    const error = thrown(() => render('a\nb\n<%= undefinedThing.x %>\n'));
    expect(error.message).toMatch(/^template \/t\/test\.ejs:3: undefinedThing is not defined/);
  });
});

describe('a template runs with its locals declared as variables, as it would inside `with (locals)`', () => {
  const run = (text: string, locals: object) => renderTemplate(compileTemplate(text, '/t/locals.ejs'), locals, () => []);

  it("the template's own const, let and var may take a local's name", () => {
    const text = '<% const settings = { port: 1 } %><%= settings.port %>\n<% { let tls = 2 %><%= tls %><% } %>\n<% var prefixes = 3 %><%= prefixes %>\n';
    expect(run(text, { settings: { port: 80 }, tls: {}, prefixes: [] })).toBe('1\n2\n3\n');
  });

  it('a name no local has is an error naming the line, and each set of locals is its own (a name added later is seen)', () => {
    const template = compileTemplate('a\n<%= typeof stack === "undefined" ? "none" : stack.name %>\n<%= settings.port %>\n', '/t/locals.ejs');
    expect(renderTemplate(template, { settings: { port: 80 } }, () => [])).toBe('a\nnone\n80\n');
    expect(renderTemplate(template, { settings: { port: 81 }, stack: { name: 'web' } }, () => [])).toBe('a\nweb\n81\n');
    expect(renderTemplate(template, { settings: { port: 82 } }, () => [])).toBe('a\nnone\n82\n');
    const error = thrown(() => run('a\nb\n<%= stack.name %>\n', { settings: {} }));
    expect(error.message).toMatch(/^template \/t\/locals\.ejs:3: stack is not defined/);
  });

  it("locals whose names cannot be declared (not identifiers, or names of EJS's own) are read as before", () => {
    expect(run('<%= locals["a-b"] %> <%= x %>\n', { 'a-b': 1, x: 2 })).toBe('1 2\n');
    expect(run('<%= rethrow %> <%= x %>\n', { rethrow: 'r', x: 3 })).toBe('r 3\n');
  });

  it('a "}" that closes the block around the code, and a "{" that opens one, render as they do inside `with`', () => {
    expect(run('a\n<% } %>\nb <%= settings.port %>\n<% { %>\n', { settings: { port: 80 } })).toBe('a\n\nb 80\n\n');
  });
});
