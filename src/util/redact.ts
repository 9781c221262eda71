/**
 * Removes secrets (the API token, the stats password) from text bound for a terminal or a log.
 * Secrets are registered once when settings are resolved; every line written to stderr passes here.
 */
export class Redactor {
  private readonly secrets = new Set<string>();

  add(secret: string | undefined): void {
    if (secret) this.secrets.add(secret);
  }

  apply(text: string): string {
    let out = text;
    for (const secret of this.secrets) {
      if (out.includes(secret)) out = out.split(secret).join('***');
    }
    return out;
  }
}
