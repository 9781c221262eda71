import { describe, expect, it } from 'vitest';
import { findJsonProblem } from '../../src/config/json-problem.js';

describe('findJsonProblem', () => {
  it.each([
    ['{"a":1,}', 6, /trailing comma after the last property \(JSON allows none before '}'\)/],
    ['{"a":[1,\n  ]}', 7, /trailing comma after the last element \(JSON allows none before '\]'\)/],
    ['{"a":}', 5, /unexpected "}" where a value should be/],
    ['[1,,2]', 3, /unexpected "," where a value should be/],
    ['{"a":tru}', 5, /where a value should be/],
    ['{"a" 1}', 5, /where ':' should follow the property name/],
    ['{"a":1 "b":2}', 7, /where ',' or '}' should follow a property/],
    ["{'a':1}", 1, /single quote \(JSON strings take double quotes\)/],
    ['{"a":1 // note\n}', 7, /a comment \(JSON has none\)/],
    ['{"a":"x', 5, /a string that is never closed/],
    ['{"a":"x\ny"}', 7, /a line break inside a string/],
    ['{"a":"\\q"}', 6, /a backslash that starts no escape/],
    ['{"a":-}', 5, /a number needs a digit/],
    ['{"a":1}}', 7, /unexpected "}" after the end of the JSON value/],
    ['{"a":1', 6, /the end of the file where ',' or '}' should follow a property/],
    ['  ', 2, /the file is empty/],
  ])('%j: offset %i', (text, offset, reason) => {
    const problem = findJsonProblem(text);
    expect(problem?.offset).toBe(offset);
    expect(problem?.reason).toMatch(reason);
    expect(() => JSON.parse(text) as unknown).toThrow();
  });

  it.each(['{}', '[]', '{"a":[1,2.5e-3,true,false,null,{"b":"\\u00e9\\n"}]}', '\uFEFF{"a":-0}', ' "x" '])('finds nothing wrong with %j', (text) => {
    expect(findJsonProblem(text)).toBeUndefined();
  });
});
