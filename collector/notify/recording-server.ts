/**
 * For tests: an HTTP server on loopback that records what is posted to it and answers as the test
 * says — WeCom's success, a vendor error code, 429, 500, or not at all until released. Nothing in
 * the notification tests ever posts anywhere else.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Recorded {
  url: URL;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** An answer: status, headers, body; `hang` never answers until release() (or the client gives up). */
export type Answer = { status: number; headers?: Record<string, string>; body?: string } | 'hang';

export const WECOM_OK: Exclude<Answer, 'hang'> = { status: 200, headers: { 'content-type': 'application/json' }, body: '{"errcode":0,"errmsg":"ok"}' };

export interface RecordingServer {
  url: string;
  requests: Recorded[];
  /** answers for the next requests, in order; then `fallback` */
  answers: Answer[];
  fallback: Answer;
  /** answers every request left hanging */
  release(): void;
  close(): Promise<void>;
}

export async function startRecordingServer(fallback: Answer = WECOM_OK): Promise<RecordingServer> {
  const hanging = new Set<http.ServerResponse>();
  const s: RecordingServer = {
    url: '',
    requests: [],
    answers: [],
    fallback,
    release() {
      for (const res of hanging) reply(res, WECOM_OK);
      hanging.clear();
    },
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
  const reply = (res: http.ServerResponse, a: Exclude<Answer, 'hang'>) => {
    if (res.writableEnded || res.destroyed) return;
    res.writeHead(a.status, a.headers ?? {});
    res.end(a.body ?? '');
  };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      s.requests.push({ url: new URL(req.url ?? '/', s.url), headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      const a = s.answers.shift() ?? s.fallback;
      if (a === 'hang') hanging.add(res);
      else reply(res, a);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  s.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return s;
}
