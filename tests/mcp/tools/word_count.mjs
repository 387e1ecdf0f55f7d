#!/usr/bin/env node
// SPDX-License-Identifier: Apache-2.0
// Exec tool for the MCP interop tests: reads {"text": "..."} on stdin and
// prints {"words": N} on stdout. Anything wrong goes to stderr with a
// non-zero exit, so the node reports a tool error instead of a result.

import { stdin, stdout, stderr, exit } from 'node:process';

async function readAll(stream) {
  const chunks = [];
  for await (const chunk of stream) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

let args;
try {
  args = JSON.parse(await readAll(stdin));
} catch (error) {
  stderr.write(`word_count: stdin is not JSON: ${error.message}\n`);
  exit(2);
}
if (typeof args?.text !== 'string') {
  stderr.write('word_count: expected {"text": string}\n');
  exit(2);
}

// Split on any run of whitespace; an empty or blank text has no words.
const trimmed = args.text.trim();
const words = trimmed === '' ? 0 : trimmed.split(/\s+/u).length;
stdout.write(`${JSON.stringify({ words })}\n`);
