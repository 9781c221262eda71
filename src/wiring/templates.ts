import type { Resource } from '../config/settings.js';
import { loadTemplate, type CompiledTemplate } from '../template/engine.js';

/** Compiles each distinct template once; template errors surface before the store is touched. */
export async function compileTemplates(resources: readonly Resource[]): Promise<Map<string, CompiledTemplate>> {
  const paths = [...new Set(resources.map((r) => r.template))];
  const compiled = await Promise.all(paths.map((path) => loadTemplate(path)));
  return new Map(compiled.map((t) => [t.path, t]));
}
