// Drives `zavu-script sandbox` with the official TypeScript SDK (`@zavudev/sdk`).
//
// The SDK does not validate answers at run time, so this script does what its types
// promise: the TypeScript compiler reads the SDK's own declarations (the return type of
// each method it calls), and every answer is checked field by field against them —
// a required field present, an optional one absent or of its type, `null` only where the
// type says `| null`, no field the SDK does not declare. Errors must arrive as the SDK's
// own classes; retries and auto-pagination are the SDK's own.
//
// Run from a directory where `@zavudev/sdk` and `typescript` are installed (ts_sdk.sh does
// that). Prints one line per check; exits non-zero on the first failure.

import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';

const require = createRequire(path.join(process.cwd(), 'package.json'));
const ts = require('typescript');
const sdk = require('@zavudev/sdk');
const sdkVersion = JSON.parse(
  fs.readFileSync(path.join(process.cwd(), 'node_modules/@zavudev/sdk/package.json'), 'utf8'),
).version;
const Zavudev = sdk.Zavudev;

const BASE = process.env.ZAVUDEV_BASE_URL;
const KEY = process.env.ZAVUDEV_API_KEY;
let passed = 0;

function check(name, ok, detail = '') {
  if (!ok) {
    console.log(`FAIL ${name} ${detail}`);
    process.exit(1);
  }
  passed += 1;
  console.log(`ok   ${name}`);
}

// ---- the SDK's declared answer types, read by the compiler ----

const probe = path.join(process.cwd(), 'answers.ts');
const calls = {
  'invitations.create': "Ret<C['invitations']['create']>",
  'invitations.retrieve': "Ret<C['invitations']['retrieve']>",
  'invitations.cancel': "Ret<C['invitations']['cancel']>",
  'invitations.list': "Item<C['invitations']['list']>",
  'messages.send': "Ret<C['messages']['send']>",
  'messages.retrieve': "Ret<C['messages']['retrieve']>",
  'messages.list': "Item<C['messages']['list']>",
  'senders.retrieve': "Ret<C['senders']['retrieve']>",
  'senders.update': "Ret<C['senders']['update']>",
  'senders.list': "Item<C['senders']['list']>",
  'templates.create': "Ret<C['templates']['create']>",
  'templates.retrieve': "Ret<C['templates']['retrieve']>",
  'templates.submit': "Ret<C['templates']['submit']>",
  'templates.list': "Item<C['templates']['list']>",
  'phoneNumbers.retrieve': "Ret<C['phoneNumbers']['retrieve']>",
  'phoneNumbers.list': "Item<C['phoneNumbers']['list']>",
  'me.retrieve': "Ret<C['me']['retrieve']>",
  'balance.retrieve': "Ret<C['balance']['retrieve']>",
};
fs.writeFileSync(
  probe,
  `import type { Zavudev, PagePromise } from '@zavudev/sdk';
type C = Zavudev;
type Ret<F> = F extends (...args: any[]) => infer P ? Awaited<P> : never;
type Item<F> = F extends (...args: any[]) => PagePromise<any, infer T> ? T : never;
export interface Answers {
${Object.entries(calls).map(([k, t]) => `  '${k}': ${t};`).join('\n')}
}
`,
);
const program = ts.createProgram([probe], {
  strict: true,
  noEmit: true,
  skipLibCheck: true,
  target: ts.ScriptTarget.ES2022,
  module: ts.ModuleKind.CommonJS,
  moduleResolution: ts.ModuleResolutionKind.Node10,
  types: [],
});
const diagnostics = ts.getPreEmitDiagnostics(program);
check(
  'the SDK declarations compile',
  diagnostics.length === 0,
  diagnostics.map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n')).join('; '),
);
const checker = program.getTypeChecker();
const answers = program
  .getSourceFile(probe)
  .statements.find((s) => ts.isInterfaceDeclaration(s) && s.name.text === 'Answers');
const answersType = checker.getTypeAtLocation(answers);
const shapes = {};
for (const prop of checker.getPropertiesOfType(answersType)) {
  const t = checker.getTypeOfSymbolAtLocation(prop, answers);
  shapes[prop.name] = t;
  check(
    `the SDK declares the answer of ${prop.name}`,
    !(t.flags & (ts.TypeFlags.Any | ts.TypeFlags.Never)),
    checker.typeToString(t),
  );
}

const show = (t) => checker.typeToString(t);
const includes = (t, flag) => (t.isUnion() ? t.types.some((m) => m.flags & flag) : !!(t.flags & flag));

/** Problems of `value` against the TypeScript type `type`, at `at`. */
function problems(value, type, at, out = []) {
  if (type.flags & (ts.TypeFlags.Any | ts.TypeFlags.Unknown)) return out;
  if (type.isUnion()) {
    for (const member of type.types) {
      if (problems(value, member, at).length === 0) return out;
    }
    out.push(`${at}: ${JSON.stringify(value)} is not ${show(type)}`);
    return out;
  }
  const fail = () => out.push(`${at}: ${JSON.stringify(value)} is not ${show(type)}`);
  if (type.flags & ts.TypeFlags.Null) return value === null ? out : (fail(), out);
  if (type.flags & ts.TypeFlags.Undefined) return value === undefined ? out : (fail(), out);
  if (type.flags & ts.TypeFlags.StringLiteral) return value === type.value ? out : (fail(), out);
  if (type.flags & ts.TypeFlags.NumberLiteral) return value === type.value ? out : (fail(), out);
  if (type.flags & ts.TypeFlags.BooleanLiteral) {
    return value === (show(type) === 'true') ? out : (fail(), out);
  }
  if (type.flags & ts.TypeFlags.String) return typeof value === 'string' ? out : (fail(), out);
  if (type.flags & ts.TypeFlags.Number) {
    return typeof value === 'number' && Number.isFinite(value) ? out : (fail(), out);
  }
  if (type.flags & ts.TypeFlags.Boolean) return typeof value === 'boolean' ? out : (fail(), out);
  if (checker.isArrayType(type)) {
    if (!Array.isArray(value)) return fail(), out;
    const [element] = checker.getTypeArguments(type);
    value.forEach((v, i) => problems(v, element, `${at}[${i}]`, out));
    return out;
  }
  if (type.flags & ts.TypeFlags.Object) {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return fail(), out;
    const declared = new Set();
    for (const prop of checker.getPropertiesOfType(type)) {
      declared.add(prop.name);
      const decl = prop.valueDeclaration ?? prop.declarations?.[0];
      const propType = checker.getTypeOfSymbolAtLocation(prop, decl);
      const optional = (prop.flags & ts.SymbolFlags.Optional) !== 0;
      const where = `${at}.${prop.name}`;
      if (!Object.prototype.hasOwnProperty.call(value, prop.name)) {
        if (!optional) out.push(`${where}: required by the SDK, absent`);
        continue;
      }
      const v = value[prop.name];
      if (v === null && !includes(propType, ts.TypeFlags.Null)) {
        out.push(
          `${where}: null, but the SDK declares it ${optional ? 'optional (absent when unset)' : 'required'} and not nullable: ${show(propType)}`,
        );
        continue;
      }
      problems(v, propType, where, out);
    }
    const index = checker.getIndexInfoOfType(type, ts.IndexKind.String);
    for (const [k, v] of Object.entries(value)) {
      if (declared.has(k)) continue;
      if (index) problems(v, index.type, `${at}.${k}`, out);
      else out.push(`${at}.${k}: not declared by the SDK`);
    }
    return out;
  }
  out.push(`${at}: cannot check against ${show(type)}`);
  return out;
}

/** Checks an answer against the SDK's declared type for `call`. */
function conforms(call, value) {
  const found = problems(value, shapes[call], call);
  check(`${call} answers as the SDK declares`, found.length === 0, found.join('; '));
}

/**
 * Checks a raw list page: `items` against the SDK's item type; `nextCursor` a string, or
 * `null` on the last page (the contract's value, which the SDK reads as `|| ''`).
 */
function page(call, body) {
  check(`${call} page has items`, Array.isArray(body.items), JSON.stringify(body));
  const extra = Object.keys(body).filter((k) => k !== 'items' && k !== 'nextCursor');
  check(`${call} page has nothing else`, extra.length === 0, extra.join(', '));
  check(
    `${call} nextCursor is a string or null`,
    typeof body.nextCursor === 'string' || body.nextCursor === null,
    JSON.stringify(body.nextCursor),
  );
  const found = body.items.flatMap((item, i) => problems(item, shapes[call], `${call}.items[${i}]`));
  check(`${call} items answer as the SDK declares`, found.length === 0, found.join('; '));
}

async function control(p, body = {}) {
  const resp = await fetch(`${BASE}/_sandbox/${p}`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${KEY}`, 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  const json = await resp.json();
  if (!resp.ok) throw new Error(`control ${p}: ${resp.status} ${JSON.stringify(json)}`);
  return json;
}

async function stats() {
  const resp = await fetch(`${BASE}/_sandbox/stats`, { headers: { Authorization: `Bearer ${KEY}` } });
  return resp.json();
}

/** Runs `fn`, expecting it to throw an instance of `cls`; returns the error. */
async function throws(name, cls, fn) {
  try {
    await fn();
  } catch (e) {
    check(name, e instanceof cls, `${e?.constructor?.name}: ${e?.message}`);
    return e;
  }
  check(name, false, 'no error was thrown');
}

async function rawPage(p) {
  const resp = await fetch(`${BASE}${p}`, { headers: { Authorization: `Bearer ${KEY}` } });
  return resp.json();
}

console.log(`@zavudev/sdk ${sdkVersion}, typescript ${ts.version}, against ${BASE}`);
const client = new Zavudev({ apiKey: KEY, baseURL: BASE, maxRetries: 0 });

// ---- invitations ----
const bare = await client.invitations.create();
conforms('invitations.create', bare);
check('create without params', bare.invitation.status === 'pending' && bare.invitation.clientName === null);
const { data: full, response } = await client.invitations
  .create({
    clientName: 'Acme Corp',
    clientEmail: 'contact@acme.com',
    clientPhone: '+14155551234',
    expiresInDays: 14,
    allowedPhoneCountries: ['US', 'MX'],
    phoneNumberId: 'pn_abc123',
    connectionType: 'whatsapp_waba',
  })
  .withResponse();
conforms('invitations.create', full);
check('create answers 201', response.status === 201);
for (const h of ['x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset']) {
  check(`${h} on the answer`, /^\d+$/.test(response.headers.get(h) ?? ''), response.headers.get(h));
}
// The checker itself can fail: the same answer, broken the ways a sandbox could break it.
const broken = (mutate) => {
  const copy = structuredClone(full);
  mutate(copy.invitation);
  return problems(copy, shapes['invitations.create'], 'answer');
};
check('the checker refuses null for an optional, non-nullable field', broken((i) => (i.connectionType = null)).length === 1);
check('the checker refuses a missing required field', broken((i) => delete i.updatedAt).length === 1);
check('the checker refuses an undeclared field', broken((i) => (i.bogus = 1)).length === 1);
check('the checker refuses a value outside an enum', broken((i) => (i.status = 'paused')).length === 1);
check('the checker accepts null for a nullable field', broken((i) => (i.clientName = null)).length === 0);
const id = full.invitation.id;
conforms('invitations.retrieve', await client.invitations.retrieve(id));
const cancelled = await client.invitations.cancel(bare.invitation.id);
conforms('invitations.cancel', cancelled);
check('cancel', cancelled.invitation.status === 'cancelled');
page('invitations.list', await rawPage('/v1/invitations?limit=2'));

// Auto-pagination: every page, the filter carried to each, each invitation once.
for (let i = 0; i < 7; i++) await client.invitations.create({ clientEmail: `client${i}@example.com` });
const seen = [];
for await (const inv of client.invitations.list({ limit: 3, status: 'pending' })) seen.push(inv.id);
check('auto-pagination visits every page', seen.length === 8, `got ${seen.length}`);
check('auto-pagination yields each once', new Set(seen).size === seen.length);
const firstPage = await client.invitations.list({ limit: 3 });
check('a page knows there is a next one', firstPage.hasNextPage() && firstPage.nextCursor.length > 0);
const second = await firstPage.getNextPage();
check('getNextPage continues after the first', second.items.length === 3 && !second.items.some((i) => firstPage.items.some((j) => j.id === i.id)));

// Lifecycle through the control plane, then the sender the signup created.
await control(`invitations/${id}/complete`);
const done = await client.invitations.retrieve(id);
conforms('invitations.retrieve', done);
check('completed with a sender and an account', done.invitation.senderId && done.invitation.connectedAccount?.channel === 'whatsapp');

// ---- senders ----
const senderId = done.invitation.senderId;
const sender = await client.senders.retrieve(senderId);
conforms('senders.retrieve', sender);
check('the sender has the pre-assigned number', sender.phoneNumber === '+14155550123');
const withHook = await client.senders.update(senderId, {
  name: 'Acme (WhatsApp)',
  webhookUrl: 'https://acme.example/zavu',
  webhookEvents: ['message.inbound', 'invitation.status_changed'],
  webhookSignatureVersion: 'v1+v2',
});
conforms('senders.update', withHook);
check('the webhook secret is answered on creation', withHook.webhook.secret?.startsWith('whsec_'));
const again = await client.senders.retrieve(senderId);
conforms('senders.retrieve', again);
check('and never again', again.webhook && !('secret' in again.webhook));
const unhooked = await client.senders.update(senderId, { webhookUrl: null });
conforms('senders.update', unhooked);
check('webhookUrl null removes the webhook', !('webhook' in unhooked));
const senders = [];
for await (const s of client.senders.list({ limit: 1 })) senders.push(s);
check('senders auto-paginate', senders.length === 2, `got ${senders.length}`);
page('senders.list', await rawPage('/v1/senders'));

// ---- templates ----
const created = await client.templates.create({
  name: 'order_confirmation',
  language: 'en',
  body: 'Hi {{1}}, your order {{2}} has been confirmed and will ship within 24 hours.',
  variables: ['customer_name', 'order_id'],
  whatsappCategory: 'UTILITY',
  buttons: [{ type: 'url', text: 'Track', url: 'https://acme.example/track/{{1}}', example: 'A-1' }],
});
conforms('templates.create', created);
check('a new template is a draft', created.status === 'draft');
const submitted = await client.templates.submit(created.id, { senderId, category: 'UTILITY' });
conforms('templates.submit', submitted);
check('submitted is pending', submitted.status === 'pending');
await control(`templates/${created.id}/approve`);
const approved = await client.templates.retrieve(created.id);
conforms('templates.retrieve', approved);
check('review approved it', approved.status === 'approved');
page('templates.list', await rawPage('/v1/templates'));
const templates = [];
for await (const t of client.templates.list({ limit: 1 })) templates.push(t);
check('templates auto-paginate', templates.length === 3, `got ${templates.length}`);

// ---- messages ----
const sent = await client.messages.send({
  to: '+14155551234',
  channel: 'whatsapp',
  messageType: 'template',
  content: {
    templateId: created.id,
    templateVariables: { 1: 'John', 2: 'ORD-12345' },
    templateButtonVariables: { 0: 'ORD-12345' },
  },
  'Zavu-Sender': senderId,
});
conforms('messages.send', sent);
check('sent through the Zavu-Sender header', sent.message.senderId === senderId);
const text = await client.messages.send({ to: '+14155551234', text: 'Your code is 1234' });
conforms('messages.send', text);
check('a text with no channel goes by SMS', text.message.channel === 'sms' && !('content' in text.message));
conforms('messages.retrieve', await client.messages.retrieve(sent.message.id));
page('messages.list', await rawPage('/v1/messages'));
const messages = [];
for await (const m of client.messages.list({ limit: 1 })) messages.push(m);
check('messages auto-paginate', messages.length === 2);

// ---- phone numbers, me, balance ----
const number = await client.phoneNumbers.retrieve('pn_abc123');
conforms('phoneNumbers.retrieve', number);
check('the pre-assigned number now belongs to the sender', number.phoneNumber.senderId === senderId);
page('phoneNumbers.list', await rawPage('/v1/phone-numbers'));
const numbers = [];
for await (const n of client.phoneNumbers.list({ status: 'active', limit: 1 })) numbers.push(n);
check('phone numbers auto-paginate', numbers.length === 2);
const me = await client.me.retrieve();
conforms('me.retrieve', me);
check('a test key is in test mode', me.isTestMode === true && !JSON.stringify(me).includes(KEY));
conforms('balance.retrieve', await client.balance.retrieve());

// ---- error classes ----
const bad = await throws('an invalid create is a BadRequestError', sdk.BadRequestError, () =>
  client.invitations.create({ expiresInDays: 99 }),
);
check('with details.errors', bad.error.details.errors[0].path[0] === 'expiresInDays');
check('and the message the SDK builds', bad.message.startsWith('400 Invalid request'), bad.message);
const wrongVars = await throws('a template send with a missing variable is a BadRequestError', sdk.BadRequestError, () =>
  client.messages.send({ to: '+14155551234', messageType: 'template', content: { templateId: 'tmpl_xyz789', templateVariables: {} } }),
);
check('naming the variable', JSON.stringify(wrongVars.error.details.errors[0].path) === '["content","templateVariables","1"]');
await throws('an unknown cursor is a BadRequestError', sdk.BadRequestError, () =>
  client.invitations.list({ cursor: 'cursor' }),
);
await throws('a wrong key is an AuthenticationError', sdk.AuthenticationError, () =>
  new Zavudev({ apiKey: 'zv_test_wrong', baseURL: BASE, maxRetries: 0 }).me.retrieve(),
);
await throws('an unknown id is a NotFoundError', sdk.NotFoundError, () => client.invitations.retrieve('missing'));
await throws('a second template of one name is a ConflictError', sdk.ConflictError, () =>
  client.templates.create({ name: 'order_confirmation', language: 'en', body: 'x' }),
);
await throws('deleting the default sender is a BadRequestError', sdk.BadRequestError, () =>
  client.senders.delete('snd_default'),
);
await client.senders.delete(senderId);
await throws('a deleted sender is gone', sdk.NotFoundError, () => client.senders.retrieve(senderId));

// ---- retries, the SDK's own ----
const retrying = new Zavudev({ apiKey: KEY, baseURL: BASE, maxRetries: 2 });
let before = await stats();
await control('faults', { failNext: 2, errorStatus: 503 });
conforms('me.retrieve', await retrying.me.retrieve());
let after = await stats();
const delta = (s) => (after.byStatus[s] ?? 0) - (before.byStatus[s] ?? 0);
check('two injected 503s were retried, the third attempt answered', delta('503') === 2 && delta('200') === 1);
await control('faults', { failNext: 3, errorStatus: 500 });
await throws('three 500s in a row are an InternalServerError', sdk.InternalServerError, () => retrying.balance.retrieve());
before = await stats();
await control('faults', { failNext: 1, errorStatus: 429 });
const started = Date.now();
conforms('balance.retrieve', await retrying.balance.retrieve());
after = await stats();
check('a 429 is retried after its Retry-After', delta('429') === 1 && Date.now() - started >= 900, `${Date.now() - started} ms`);
await control('faults', { failNext: 1, errorStatus: 429 });
await throws('without retries a 429 is a RateLimitError', sdk.RateLimitError, () => client.balance.retrieve());
before = await stats();
// One request per 1-second window: of three in a row, at least two share a window, so at
// least one meets a 429 — and waits it out.
await control('faults', { rateLimitPerMinute: 1, rateLimitWindowSeconds: 1 });
for (let i = 0; i < 3; i++) await retrying.me.retrieve();
after = await stats();
await control('faults', { rateLimitPerMinute: null, rateLimitWindowSeconds: null });
check('the rate limit window is waited out', delta('429') >= 1 && delta('200') === 3, JSON.stringify(after.byStatus));

console.log(`${passed} checks passed`);
