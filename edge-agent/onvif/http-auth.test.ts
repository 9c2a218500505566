/**
 * HTTP Digest computation against the published examples (RFC 7616 §3.9.1, RFC 2617 §3.5), and
 * the WWW-Authenticate parsing and choice rules: first supported Digest in the server's order,
 * Basic only when no Digest is offered, nothing answered that we cannot read.
 */
import { describe, expect, it } from 'vitest';
import { HttpAuthCache, authorizationFor, basicAuthorization, chooseHttpAuth, digestAuthorization, digestResponse, parseAuthChallenges, type DigestChallenge } from './http-auth.ts';

// RFC 7616 §3.9.1: the same request answered with SHA-256 and with MD5
const RFC7616 = {
  challenge: { realm: 'http-auth@example.org', nonce: '7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v', opaque: 'FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS', qop: 'auth', stale: false } as const,
  answer: { username: 'Mufasa', password: 'Circle of Life', method: 'GET', uri: '/dir/index.html', nc: 1, cnonce: 'f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ' },
  header:
    'Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=SHA-256, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS", ' +
    'Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=MD5, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"',
};

describe('HTTP Digest computation', () => {
  it('RFC 7616 §3.9.1: SHA-256 and MD5 responses', () => {
    expect(digestResponse({ ...RFC7616.challenge, algorithm: 'SHA-256' }, RFC7616.answer)).toBe('753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1');
    expect(digestResponse({ ...RFC7616.challenge, algorithm: 'MD5' }, RFC7616.answer)).toBe('8ca523f5e9506fed4657c9700eebdbec');
  });

  it('RFC 2617 §3.5: MD5 with qop=auth', () => {
    const ch: DigestChallenge = { realm: 'testrealm@host.com', nonce: 'dcd98b7102dd2f0e8b11d0f600bfb0c093', qop: 'auth', algorithm: 'MD5', stale: false };
    expect(digestResponse(ch, { username: 'Mufasa', password: 'Circle Of Life', method: 'GET', uri: '/dir/index.html', nc: 1, cnonce: '0a4f113b' })).toBe('6629fae49393a05397450978507c4ef1');
  });

  it('RFC 7616 §3.9.1: the parsed two-challenge header gives the SHA-256 challenge, and the Authorization header carries the example values', () => {
    const choice = chooseHttpAuth(parseAuthChallenges(RFC7616.header)!);
    expect(choice).toEqual({ scheme: 'digest', challenge: { ...RFC7616.challenge, algorithm: 'SHA-256' } });
    const header = digestAuthorization((choice as { challenge: DigestChallenge }).challenge, RFC7616.answer);
    expect(header).toBe(
      'Digest username="Mufasa", realm="http-auth@example.org", uri="/dir/index.html", algorithm=SHA-256, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", ' +
        'nc=00000001, cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ", qop=auth, response="753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1", ' +
        'opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"',
    );
  });

  it('a non-ASCII user name goes as username* (RFC 7616 §3.9.2), quotes in values are escaped', () => {
    const ch: DigestChallenge = { realm: 'say "hi"', nonce: 'n', qop: 'auth', algorithm: 'MD5', stale: false };
    const header = digestAuthorization(ch, { username: 'J\u00e4s\u00f8n Doe', password: 'p', method: 'POST', uri: '/onvif/device_service', nc: 2, cnonce: 'c' });
    expect(header).toContain(`username*=UTF-8''J%C3%A4s%C3%B8n%20Doe, realm="say \\"hi\\"",`);
    expect(header).toContain('nc=00000002');
  });

  it('without qop: the RFC 2069 form, no nc or cnonce', () => {
    const ch: DigestChallenge = { realm: 'r', nonce: 'n', algorithm: 'MD5', stale: false };
    const header = digestAuthorization(ch, { username: 'u', password: 'p', method: 'POST', uri: '/x', nc: 1, cnonce: 'c' });
    expect(header).not.toMatch(/nc=|cnonce=|qop=/);
  });
});

describe('WWW-Authenticate parsing', () => {
  it('reads several challenges, quoted commas and escapes, token68, case-insensitive names', () => {
    expect(parseAuthChallenges('Negotiate abc+/==, DIGEST Realm="a, \\"b\\"", NONCE=x1, stale=TRUE, Basic realm="cam"')).toEqual([
      { scheme: 'negotiate', params: {}, token68: 'abc+/==' },
      { scheme: 'digest', params: { realm: 'a, "b"', nonce: 'x1', stale: 'TRUE' } },
      { scheme: 'basic', params: { realm: 'cam' } },
    ]);
  });

  it('refuses what does not follow the grammar', () => {
    for (const bad of ['', '   ', 'Digest realm="unterminated', 'Digest realm="a" nonce="b"', 'Digest nonce=a/b', '=x', 'Digest realm="a", realm="b"', 'Digest realm="x"'.padEnd(9000, ' ')]) {
      expect(parseAuthChallenges(bad), bad.slice(0, 40)).toBeUndefined();
    }
  });
});

describe('choosing what to answer', () => {
  const choose = (h: string): ReturnType<typeof chooseHttpAuth> => chooseHttpAuth(parseAuthChallenges(h)!);

  it('the first Digest we support, in the server order; stale and a missing algorithm (MD5) read', () => {
    expect(choose('Digest realm="r", nonce="1", algorithm=SHA-512-256, qop="auth", Digest realm="r", nonce="2", qop="auth", stale=true')).toMatchObject({
      scheme: 'digest',
      challenge: { nonce: '2', algorithm: 'MD5', qop: 'auth', stale: true },
    });
  });

  it('Basic only when the camera offers no Digest at all', () => {
    expect(choose('Basic realm="cam"')).toEqual({ scheme: 'basic' });
    expect(choose('Digest realm="r", nonce="1", algorithm=MD5-sess, Basic realm="cam"')).toEqual({ scheme: 'unsupported', offered: 'Digest algorithm=MD5-SESS, basic' });
    expect(choose('Digest realm="r", nonce="1", qop="auth-int", Basic realm="cam"')).toMatchObject({ scheme: 'unsupported' });
    expect(choose('Digest realm="r", Basic realm="cam"')).toEqual({ scheme: 'unsupported', offered: 'Digest without nonce, basic' });
    expect(choose('Bearer realm="x"')).toEqual({ scheme: 'unsupported', offered: 'bearer' });
  });
});

describe('per-origin cache', () => {
  it('counts the nonce up on every use, and forgets the least recently used beyond its bound', () => {
    const cache = new HttpAuthCache(2);
    cache.set('http://a', { scheme: 'digest', challenge: { realm: 'r', nonce: 'n', qop: 'auth', algorithm: 'MD5', stale: false }, nc: 0 });
    const e = cache.get('http://a')!;
    expect(authorizationFor(e, 'u', 'p', 'POST', '/x')).toContain('nc=00000001');
    expect(authorizationFor(e, 'u', 'p', 'POST', '/x')).toContain('nc=00000002');
    cache.set('http://b', { scheme: 'basic' });
    cache.get('http://a');
    cache.set('http://c', { scheme: 'basic' });
    expect([cache.get('http://a') !== undefined, cache.get('http://b'), cache.size]).toEqual([true, undefined, 2]);
    expect(authorizationFor({ scheme: 'basic' }, 'Aladdin', 'open sesame', 'POST', '/')).toBe(basicAuthorization('Aladdin', 'open sesame'));
    expect(basicAuthorization('Aladdin', 'open sesame')).toBe('Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==');
  });
});
