import http from 'node:http';
import https from 'node:https';

export interface HttpResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

export interface HttpClientOptions {
  /** Extra certificate authorities (PEM) trusted for https. */
  ca?: Array<string | Buffer>;
  /** Verify the server's certificate (default true). */
  verify: boolean;
}

export class HttpTimeoutError extends Error {
  constructor(readonly timeoutMs: number) {
    super(`no answer within ${timeoutMs}ms`);
    this.name = 'HttpTimeoutError';
  }
}

const MAX_BODY_BYTES = 256 * 1024 * 1024;

/**
 * A small keep-alive HTTP(S) client on node:http, because native fetch cannot take a CA file or
 * an opt-out of verification without an extra dependency. One client per store.
 */
export class HttpClient {
  private readonly httpAgent = new http.Agent({ keepAlive: true });
  private readonly httpsAgent: https.Agent;

  constructor(options: HttpClientOptions) {
    this.httpsAgent = new https.Agent({ keepAlive: true, ca: options.ca, rejectUnauthorized: options.verify });
  }

  request(
    url: URL,
    options: { method?: string; headers?: Record<string, string>; body?: string; timeoutMs: number; signal?: AbortSignal },
  ): Promise<HttpResponse> {
    const isHttps = url.protocol === 'https:';
    const transport = isHttps ? https : http;
    return new Promise((resolve, reject) => {
      const req = transport.request(url, {
        method: options.method ?? 'GET',
        headers: options.headers,
        agent: isHttps ? this.httpsAgent : this.httpAgent,
        signal: options.signal,
      });
      const timer = setTimeout(() => req.destroy(new HttpTimeoutError(options.timeoutMs)), options.timeoutMs);
      req.on('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_BODY_BYTES) req.destroy(new Error(`answer larger than ${MAX_BODY_BYTES} bytes`));
          else chunks.push(chunk);
        });
        res.on('end', () => {
          clearTimeout(timer);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) });
        });
        res.on('error', (error) => {
          clearTimeout(timer);
          reject(error);
        });
      });
      req.end(options.body);
    });
  }

  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }
}
