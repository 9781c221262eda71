import net from 'node:net';

/** What a server did with raw bytes: the status lines it answered, and whether it closed. */
export interface RawOutcome {
  statuses: number[];
  closed: boolean;
  text: string;
}

/**
 * Sends `bytes` on a new connection to 127.0.0.1:`port` and collects what comes back until the
 * server closes the connection, `expectAnswers` status lines have arrived, or `timeoutMs`.
 */
export function rawRequest(port: number, bytes: string | Buffer, options: { expectAnswers?: number; timeoutMs?: number } = {}): Promise<RawOutcome> {
  const { expectAnswers = 1, timeoutMs = 5000 } = options;
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    let text = '';
    let closed = false;
    const finish = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ statuses: complete(text), closed, text });
    };
    const timer = setTimeout(finish, timeoutMs);
    socket.on('connect', () => socket.write(bytes));
    socket.on('data', (chunk) => {
      text += chunk.toString('latin1');
      if (complete(text).length >= expectAnswers) finish();
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      closed = true;
      finish();
    });
  });
}

/** A connection that sends part of a request and then nothing, to see when the server cuts it. */
export function slowClient(port: number, partial: string, localAddress?: string): { answer(): string | undefined; destroy(): void } {
  const socket = net.connect({ port, host: '127.0.0.1', localAddress });
  let text = '';
  let closed = false;
  socket.on('connect', () => socket.write(partial));
  socket.on('data', (chunk) => (text += chunk.toString('latin1')));
  socket.on('error', () => {});
  socket.on('close', () => (closed = true));
  return { answer: () => (closed ? text : undefined), destroy: () => socket.destroy() };
}

/** The statuses of the complete answers (headers, and a body of content-length bytes) in `text`. */
function complete(text: string): number[] {
  const statuses: number[] = [];
  let rest = text;
  for (;;) {
    const head = /^HTTP\/1\.[01] (\d{3})[^\r\n]*\r\n([\s\S]*?)\r\n\r\n/.exec(rest);
    if (!head) return statuses;
    let end: number;
    if (/^transfer-encoding:\s*chunked/im.test(head[2]!)) {
      const last = rest.indexOf('\r\n0\r\n\r\n', head[0].length - 2);
      if (last < 0) return statuses;
      end = last + 7;
    } else end = head[0].length + Number(/^content-length:\s*(\d+)/im.exec(head[2]!)?.[1] ?? 0);
    if (rest.length < end) return statuses;
    statuses.push(Number(head[1]));
    rest = rest.slice(end);
  }
}
