// An agency system written with an independent JOSE stack: panva's jose and RFC 8785 canonicalize.
// Reads one JSON task on standard input, prints one JSON result on standard output; any check that
// does not hold throws, so the process exits non-zero (the Python test reads the message on stderr).
//   {"mode": "write", "base", "client_id", "private_jwk", "document"}
//     private_key_jwt token (aud: the token endpoint), a signed form, its receipt and the signed read
//   {"mode": "webhook", "jwks", "kid", "public_key", "headers", "body_b64"}
//     a Standard Webhooks v1a delivery checked with the JWKS key
import { createHash, randomUUID, webcrypto } from 'node:crypto';
import * as jose from 'jose';
import canonicalize from 'canonicalize';

const encoder = new TextEncoder();
const b64u = (bytes) => Buffer.from(bytes).toString('base64url');

function check(condition, message) {
  if (!condition) throw new Error(message);
}

async function call(url, options = {}) {
  const response = await fetch(url, { ...options, signal: AbortSignal.timeout(30000) });
  const text = await response.text();
  return { status: response.status, headers: response.headers, text };
}

async function token(task, metadata) {
  const key = await jose.importJWK(task.private_jwk, 'Ed25519');
  const now = Math.floor(Date.now() / 1000);
  // what many OAuth libraries send: the token endpoint's URL as the audience
  const assertion = await new jose.SignJWT({ jti: randomUUID() })
    .setProtectedHeader({ alg: 'Ed25519', typ: 'client-authentication+jwt', kid: task.private_jwk.kid })
    .setIssuer(task.client_id).setSubject(task.client_id).setAudience(metadata.token_endpoint)
    .setIssuedAt(now).setExpirationTime(now + 120).sign(key);
  const answer = await call(metadata.token_endpoint, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'client_credentials', client_id: task.client_id, client_assertion: assertion,
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
    }),
  });
  check(answer.status === 200, `token endpoint answered ${answer.status}: ${answer.text}`);
  const issued = JSON.parse(answer.text);
  return { access: issued.access_token, header: jose.decodeProtectedHeader(issued.access_token) };
}

async function detachedSign(payload, privateJwk, method, path) {
  const key = await jose.importJWK(privateJwk, 'Ed25519');
  const compact = await new jose.CompactSign(payload).setProtectedHeader({
    alg: 'Ed25519', kid: privateJwk.kid, typ: 'nrm+jws', iat: Math.floor(Date.now() / 1000),
    htm: method, htu: path, jti: randomUUID(),
  }).sign(key);
  const [head, , signature] = compact.split('.');
  return `${head}..${signature}`;
}

async function verifyDetached(value, payload, keys) {
  const [head, middle, signature] = String(value).split('.');
  check(middle === '', 'the answer signature is not detached');
  const { protectedHeader } = await jose.compactVerify(`${head}.${b64u(payload)}.${signature}`, keys,
    { algorithms: ['Ed25519'] });
  return protectedHeader;
}

async function rejects(promise) {
  try {
    await promise;
    return false;
  } catch {
    return true;
  }
}

async function write(task) {
  const base = task.base.replace(/\/$/, '');
  const metadata = JSON.parse((await call(`${base}/.well-known/oauth-authorization-server`)).text);
  const jwks = JSON.parse((await call(`${base}/.well-known/jwks.json`)).text);
  const keys = jose.createLocalJWKSet(jwks);
  const { access, header: tokenHeader } = await token(task, metadata);

  const body = canonicalize(task.document);
  const signature = await detachedSign(encoder.encode(body), task.private_jwk, 'POST', '/api/v1/forms');
  const written = await call(`${base}/api/v1/forms`, {
    method: 'POST', body,
    headers: { Authorization: `Bearer ${access}`, 'Content-Type': 'application/json',
      'Idempotency-Key': randomUUID(), 'X-JWS-Signature': signature },
  });
  check(written.status === 201, `POST /forms answered ${written.status}: ${written.text}`);
  const answer = JSON.parse(written.text);
  const { payload: claims, protectedHeader: receiptHeader } = await jose.jwtVerify(answer.receipt, keys,
    { algorithms: ['Ed25519'], typ: 'nrm-receipt+jwt' });
  const digest = createHash('sha256').update(body, 'utf8').digest('hex');
  check(claims.sha256 === digest, `the receipt's sha256 ${claims.sha256} is not the canonical body's ${digest}`);
  check(claims.record === answer.id, 'the receipt names another record');

  const read = await call(`${base}/api/v1/forms/${answer.id}`, { headers: { Authorization: `Bearer ${access}` } });
  check(read.status === 200, `GET /forms/{id} answered ${read.status}`);
  const served = JSON.parse(read.text);
  const canonicalAnswer = encoder.encode(canonicalize(served));
  const responseHeader = await verifyDetached(read.headers.get('x-jws-signature'), canonicalAnswer, keys);
  check(responseHeader.typ === 'nrm-response+jws', `the answer signature's typ is ${responseHeader.typ}`);
  const tampered = encoder.encode(canonicalize({ ...served, version: served.version + 1 }));
  return {
    form_id: answer.id, token_header: tokenHeader, receipt_header: receiptHeader, receipt_claims: claims,
    body_sha256: digest, response_header: responseHeader, document: served.document,
    tampered_answer_refused: await rejects(verifyDetached(read.headers.get('x-jws-signature'), tampered, keys)),
  };
}

async function webhook(task) {
  const jwk = task.jwks.keys.find((key) => key.kid === task.kid);
  check(jwk, `no key ${task.kid} in the JWKS`);
  check(`whpk_${Buffer.from(jwk.x, 'base64url').toString('base64')}` === task.public_key,
    'the whpk_ key is not the JWKS key');
  const key = await jose.importJWK({ ...jwk, alg: 'Ed25519' }, 'Ed25519');
  const body = Buffer.from(task.body_b64, 'base64');
  const id = task.headers['webhook-id'];
  const timestamp = task.headers['webhook-timestamp'];
  const verifies = async (bytes) => {
    for (const part of task.headers['webhook-signature'].split(' ')) {
      const [version, value] = part.split(',');
      if (version !== 'v1a') continue;
      const signed = Buffer.concat([Buffer.from(`${id}.${timestamp}.`), bytes]);
      if (await webcrypto.subtle.verify('Ed25519', key, Buffer.from(value, 'base64'), signed)) return true;
    }
    return false;
  };
  const tampered = Buffer.concat([body, Buffer.from(' ')]);
  return { valid: await verifies(body), tampered_valid: await verifies(tampered), event: JSON.parse(body) };
}

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const task = JSON.parse(Buffer.concat(chunks).toString('utf8'));
const result = task.mode === 'write' ? await write(task) : await webhook(task);
process.stdout.write(JSON.stringify(result));
