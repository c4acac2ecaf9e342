// gst-prima tests: the official OpenAI client (the `openai` npm package) against `prima serve`.
// Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later
// node openai-client.mjs MODULE_DIR PORT: makes the requests of test-serve-openai.py and prints
// what came back as one JSON object; the Python side compares it with `prima run`.
import { createRequire } from 'module';
import path from 'path';

const [moduleDir, port] = process.argv.slice(2);
const require = createRequire(path.join(moduleDir, 'package.json'));
const OpenAI = require('openai');
const client = new OpenAI({ baseURL: `http://127.0.0.1:${port}/v1`, apiKey: 'test-key', maxRetries: 0 });

const out = {};
const hi = [{ role: 'user', content: 'Hi' }];

out.models = (await client.models.list()).data.map((m) => m.id);

let r = await client.chat.completions.create({ model: 'any', messages: hi, max_tokens: 16, temperature: 0 });
out.chat = { text: r.choices[0].message.content, role: r.choices[0].message.role,
  finish: r.choices[0].finish_reason, usage: r.usage, id: r.id, object: r.object };

let stream = await client.chat.completions.create({ model: 'any', messages: hi, max_tokens: 16, temperature: 0,
  stream: true, stream_options: { include_usage: true } });
let text = '', finish = null, usage = null, roles = [], ids = new Set();
for await (const chunk of stream) {
  ids.add(chunk.id);
  if (chunk.usage) usage = chunk.usage;
  for (const c of chunk.choices) {
    if (c.delta.role) roles.push(c.delta.role);
    text += c.delta.content ?? '';
    if (c.finish_reason) finish = c.finish_reason;
  }
}
out.chat_stream = { text, finish, usage, roles, ids: [...ids] };

r = await client.completions.create({ model: 'any', prompt: 'Once upon a time', max_tokens: 24, temperature: 0 });
out.completion = { text: r.choices[0].text, finish: r.choices[0].finish_reason, usage: r.usage, id: r.id };

stream = await client.completions.create({ model: 'any', prompt: 'Once upon a time', max_tokens: 24, temperature: 0,
  stream: true });
text = ''; finish = null;
for await (const chunk of stream) {
  for (const c of chunk.choices) {
    text += c.text ?? '';
    if (c.finish_reason) finish = c.finish_reason;
  }
}
out.completion_stream = { text, finish };

// a stop string: the answer ends before it, finish_reason "stop"
r = await client.completions.create({ model: 'any', prompt: 'Once upon a time', max_tokens: 40, temperature: 0 });
out.long = r.choices[0].text;
r = await client.completions.create({ model: 'any', prompt: 'Once upon a time', max_tokens: 40, temperature: 0,
  stop: [' Lily'] });
out.stopped = { text: r.choices[0].text, finish: r.choices[0].finish_reason };
stream = await client.chat.completions.create({ model: 'any', messages: hi, max_tokens: 40, temperature: 0,
  stop: 'big', stream: true });
text = ''; finish = null;
for await (const chunk of stream) {
  for (const c of chunk.choices) {
    text += c.delta.content ?? '';
    if (c.finish_reason) finish = c.finish_reason;
  }
}
out.chat_stopped = { text, finish };
r = await client.chat.completions.create({ model: 'any', messages: hi, max_tokens: 40, temperature: 0 });
out.chat_long = r.choices[0].message.content;

// a seed: the same seed at temperature 0.8 gives the same answer
out.seeded = [];
for (const seed of [1234, 1234, 99]) {
  r = await client.chat.completions.create({ model: 'any', messages: [{ role: 'user', content: 'Tell me a story' }],
    max_tokens: 32, temperature: 0.8, seed });
  out.seeded.push(r.choices[0].message.content);
}

// errors come as the client's typed errors
try {
  await client.chat.completions.create({ model: 'any', messages: hi, temperature: 5 });
  out.bad = null;
} catch (e) {
  out.bad = { status: e.status, param: e.param, message: e.message, type: e.type };
}
process.stdout.write(JSON.stringify(out) + '\n');
