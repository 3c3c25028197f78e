// The Vercel AI SDK (ai + @ai-sdk/anthropic) in its default settings against the offline Claude: five scenarios
// (it has no token-counting call), one JSON line each.
//
// Run by tests/test_third_party_clients.py from the client's npm prefix (where node_modules is):
// `node ai_sdk_client.mjs MODEL`, with ANTHROPIC_BASE_URL (this provider's convention includes /v1) and
// ANTHROPIC_API_KEY set; the default `anthropic` provider takes both from the environment. Structured output is
// `generateText` with `Output.object`, the SDK's own API; the provider picks how to ask for it. Stop reasons are
// the API's own (`rawFinishReason`). Each scenario prints {"scenario", "result"} or {"scenario", "error"}.
import { anthropic } from '@ai-sdk/anthropic';
import { generateText, Output, stepCountIs, streamText, tool } from 'ai';
import { z } from 'zod';

const model = anthropic(process.argv[2]);
const WEATHER = '18°C and sunny';

const scenarios = {
  async plain() {
    const result = await generateText({ model, prompt: 'Hello' });
    return { text: result.text, stop_reason: result.rawFinishReason, finish_reason: result.finishReason };
  },
  async multi_turn() {
    const messages = [{ role: 'user', content: 'My name is Ada.' }];
    const first = await generateText({ model, messages });
    messages.push(...first.response.messages, { role: 'user', content: 'What is my name?' });
    const reply = await generateText({ model, messages });
    return { first: first.text, text: reply.text, stop_reason: reply.rawFinishReason };
  },
  async streaming() {
    const deltas = [];
    const stream = streamText({ model, prompt: 'Hello' });
    for await (const part of stream.fullStream) {
      if (part.type === 'text-delta') deltas.push(part.text);
      if (part.type === 'error') throw part.error;  // streamText reports errors as parts, not by throwing
    }
    const plain = await generateText({ model, prompt: 'Hello' });
    return { text_chunks: deltas.length, text: deltas.join(''), stop_reason: await stream.rawFinishReason,
      same_as_plain: plain.text };
  },
  async tool_round_trip() {
    const outputs = [];
    const result = await generateText({
      model,
      prompt: 'What is the weather in Paris?',
      tools: {
        get_weather: tool({
          description: 'Get the current weather for a city.',
          inputSchema: z.object({ city: z.string() }),
          execute: async ({ city }) => { outputs.push(`${WEATHER} in ${city}`); return outputs.at(-1); },
        }),
      },
      stopWhen: stepCountIs(2),
    });
    const calls = result.steps.flatMap((step) => step.toolCalls);
    return { tool_calls: calls.map((c) => ({ name: c.toolName, args: c.input })),
      first_stop_reason: result.steps[0].rawFinishReason, tool_outputs: outputs, text: result.text,
      stop_reason: result.rawFinishReason };
  },
  async structured_output() {
    const result = await generateText({
      model,
      prompt: 'The city is Paris. Give it as JSON.',
      output: Output.object({ schema: z.object({ city: z.string() }) }),
    });
    return { parsed: result.output, stop_reason: result.rawFinishReason };
  },
};

async function mark(scenario) {
  // Tells the recording proxy which scenario the next requests belong to; never reaches the offline Claude.
  const base = process.env.ANTHROPIC_BASE_URL.replace(/\/+$/, '').replace(/\/v1$/, '');
  await fetch(`${base}/__scenario__/ai-sdk-anthropic/${scenario}`, { method: 'POST' });
}

const wanted = process.argv.length > 3 ? process.argv.slice(3) : Object.keys(scenarios);
for (const name of wanted) {
  await mark(name);
  let line;
  try {
    line = { scenario: name, result: await scenarios[name]() };
  } catch (error) {
    line = { scenario: name, error: { type: error?.constructor?.name ?? typeof error,
      message: `${String(error?.message ?? error)}${error?.responseBody ? ` | response body: ${error.responseBody}` : ''}`
        .slice(0, 2000),
      status: error?.statusCode ?? error?.lastError?.statusCode ?? null, where: String(error?.stack ?? '').slice(0, 600) } };
  }
  console.log(JSON.stringify(line));
}
