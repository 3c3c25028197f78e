// The official TypeScript SDK (@anthropic-ai/sdk) in its default settings against the offline Claude: six
// scenarios, one JSON line each.
//
// Run by tests/test_third_party_clients.py from the client's npm prefix (where node_modules is):
// `node anthropic_sdk_client.mjs MODEL`, with ANTHROPIC_BASE_URL and ANTHROPIC_API_KEY set. `new Anthropic()`
// takes both from the environment and nothing else is changed; `max_tokens` is required by this SDK, so each
// call says 1024, as the SDK's README does. Each scenario prints {"scenario", "result"} or {"scenario", "error"}.
import Anthropic from '@anthropic-ai/sdk';
import { jsonSchemaOutputFormat } from '@anthropic-ai/sdk/helpers/json-schema';

const model = process.argv[2];
const client = new Anthropic();
const WEATHER = '18°C and sunny';
const weatherTool = {
  name: 'get_weather',
  description: 'Get the current weather for a city.',
  input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
};
const textOf = (message) => message.content.filter((b) => b.type === 'text').map((b) => b.text).join('');

const scenarios = {
  async plain() {
    const message = await client.messages.create({
      model, max_tokens: 1024, messages: [{ role: 'user', content: 'Hello' }],
    });
    return { text: textOf(message), stop_reason: message.stop_reason };
  },
  async multi_turn() {
    const messages = [{ role: 'user', content: 'My name is Ada.' }];
    const first = await client.messages.create({ model, max_tokens: 1024, messages });
    messages.push({ role: 'assistant', content: first.content });
    messages.push({ role: 'user', content: 'What is my name?' });
    const reply = await client.messages.create({ model, max_tokens: 1024, messages });
    return { first: textOf(first), text: textOf(reply), stop_reason: reply.stop_reason };
  },
  async streaming() {
    const deltas = [];
    const stream = client.messages.stream({
      model, max_tokens: 1024, messages: [{ role: 'user', content: 'Hello' }],
    });
    stream.on('text', (text) => deltas.push(text));
    const final = await stream.finalMessage();
    const plain = await client.messages.create({
      model, max_tokens: 1024, messages: [{ role: 'user', content: 'Hello' }],
    });
    return { text_chunks: deltas.length, text: deltas.join(''), stop_reason: final.stop_reason,
      final_text: textOf(final), same_as_plain: textOf(plain) };
  },
  async tool_round_trip() {
    const messages = [{ role: 'user', content: 'What is the weather in Paris?' }];
    const asked = await client.messages.create({ model, max_tokens: 1024, tools: [weatherTool], messages });
    const calls = asked.content.filter((b) => b.type === 'tool_use');
    messages.push({ role: 'assistant', content: asked.content });
    const outputs = calls.map((call) => `${WEATHER} in ${call.input.city}`);
    messages.push({ role: 'user', content: calls.map((call, i) => ({
      type: 'tool_result', tool_use_id: call.id, content: outputs[i] })) });
    const final = await client.messages.create({ model, max_tokens: 1024, tools: [weatherTool], messages });
    return { tool_calls: calls.map((c) => ({ name: c.name, args: c.input })), first_stop_reason: asked.stop_reason,
      tool_outputs: outputs, text: textOf(final), stop_reason: final.stop_reason };
  },
  async count_tokens() {
    const counted = await client.messages.countTokens({ model, messages: [{ role: 'user', content: 'Hello' }] });
    return { input_tokens: counted.input_tokens };
  },
  async structured_output() {
    const message = await client.messages.parse({
      model, max_tokens: 1024,
      messages: [{ role: 'user', content: 'The city is Paris. Give it as JSON.' }],
      output_config: { format: jsonSchemaOutputFormat({
        type: 'object', properties: { city: { type: 'string' } }, required: ['city'], additionalProperties: false,
      }) },
    });
    return { parsed: message.parsed_output, stop_reason: message.stop_reason };
  },
};

async function mark(scenario) {
  // Tells the recording proxy which scenario the next requests belong to; never reaches the offline Claude.
  const base = process.env.ANTHROPIC_BASE_URL.replace(/\/+$/, '');
  await fetch(`${base}/__scenario__/anthropic-sdk-typescript/${scenario}`, { method: 'POST' });
}

const wanted = process.argv.length > 3 ? process.argv.slice(3) : Object.keys(scenarios);
for (const name of wanted) {
  await mark(name);
  let line;
  try {
    line = { scenario: name, result: await scenarios[name]() };
  } catch (error) {
    line = { scenario: name, error: { type: error?.constructor?.name ?? typeof error, message: String(error?.message ?? error).slice(0, 2000),
      status: error?.status ?? null, where: String(error?.stack ?? '').slice(0, 600) } };
  }
  console.log(JSON.stringify(line));
}
