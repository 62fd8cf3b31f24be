/**
 * What each client needs to talk to this server: environment variables and config
 * files, built as text (merged into what a file holds already). Pure: the CLI and the
 * admin API do the reading, writing, key and alias creation.
 */

import type { ClientName } from "../contract/connect.js";

export { CLIENTS, type ClientName } from "../contract/connect.js";

/** How large a client's first request is (measured from the real clients, late 2026). */
export const FIRST_PROMPT_TOKENS: Partial<Record<ClientName, number>> = {
  "claude-code": 41_000,
  codex: 23_000,
  opencode: 26_000,
  continue: 12_000,
};

/** The glob alias Claude Code's model names (`claude-opus-…`, `claude-sonnet-…`, `claude-haiku-…`) hit. */
export const CLAUDE_ALIAS = "claude-*";
/** Codex reads the key from this variable (`env_key`); opencode from `{env:…}`. */
export const KEY_ENV = "MAAS_BASE_API_KEY";
const PROVIDER = "maas-base";

export interface ConnectInput {
  client: ClientName;
  /** The server's base URL, without `/v1`. */
  url: string;
  key: string;
  /** The local model id the client uses. */
  model: string;
  /** The context the model gets at most (training context and cap; memory may give less). */
  contextSize: number;
  /** Current text of each config file this client reads (absent = the file does not exist). */
  current: Record<string, string | undefined>;
}

export interface ConnectFile {
  path: string;
  before: string | undefined;
  after: string;
}

export interface Connection {
  client: ClientName;
  model: string;
  /** Aliases the client needs (created by the caller). */
  aliases: string[];
  env: Record<string, string>;
  files: ConnectFile[];
  /** The command that runs one headless turn. */
  try: string;
  notes: string[];
}

/** Where each client reads its configuration, for a given home and environment. */
export function configPaths(client: ClientName, home: string, env: NodeJS.ProcessEnv): string[] {
  switch (client) {
    case "claude-code":
      return [`${env.CLAUDE_CONFIG_DIR ?? `${home}/.claude`}/settings.json`];
    case "codex":
      return [`${env.CODEX_HOME ?? `${home}/.codex`}/config.toml`];
    case "opencode":
      return [`${env.XDG_CONFIG_HOME ?? `${home}/.config`}/opencode/opencode.json`];
    case "continue":
      return [`${home}/.continue/config.yaml`];
    default:
      return [];
  }
}

function mergeJson(text: string | undefined, patch: (value: Record<string, unknown>) => void): string {
  let value: Record<string, unknown> = {};
  if (text?.trim()) {
    const parsed = JSON.parse(text) as unknown;
    if (parsed && typeof parsed === "object" && !Array.isArray(parsed)) value = parsed as Record<string, unknown>;
  }
  patch(value);
  return `${JSON.stringify(value, null, 2)}\n`;
}

const object = (value: unknown): Record<string, unknown> =>
  value && typeof value === "object" && !Array.isArray(value) ? (value as Record<string, unknown>) : {};

const tomlString = (s: string) => JSON.stringify(s);

/**
 * Codex's config.toml with our provider: top-level `model`, `model_provider` and
 * `model_context_window` replaced, the `[model_providers.maas-base]` table replaced,
 * everything else kept as it was.
 */
export function codexToml(current: string | undefined, input: { url: string; model: string; contextSize: number }): string {
  const lines = (current ?? "").split("\n");
  const out: string[] = [];
  let table: string | null = null;
  let skipping = false;
  const ours = new Set(["model", "model_provider", "model_context_window"]);
  for (const line of lines) {
    const header = /^\s*\[+([^\]]+)\]+\s*$/.exec(line);
    if (header) {
      table = (header[1] ?? "").trim();
      skipping = table === `model_providers.${PROVIDER}` || table === `model_providers."${PROVIDER}"`;
    }
    if (skipping) continue;
    const key = /^\s*([A-Za-z0-9_]+)\s*=/.exec(line)?.[1];
    if (table === null && key && ours.has(key)) continue;
    out.push(line);
  }
  while (out.length && out.at(-1)?.trim() === "") out.pop();
  const firstTable = out.findIndex((l) => /^\s*\[/.test(l));
  const top = [
    `model = ${tomlString(input.model)}`,
    `model_provider = ${tomlString(PROVIDER)}`,
    `model_context_window = ${input.contextSize}`,
  ];
  const trimEnd = (ls: string[]) => {
    const copy = [...ls];
    while (copy.length && copy.at(-1)?.trim() === "") copy.pop();
    return copy;
  };
  const head = trimEnd(firstTable === -1 ? out : out.slice(0, firstTable));
  while (head.length && head[0]?.trim() === "") head.shift();
  const rest = trimEnd(firstTable === -1 ? [] : out.slice(firstTable));
  const provider = [
    `[model_providers.${PROVIDER}]`,
    `name = "MaaS-Base"`,
    `base_url = ${tomlString(`${input.url}/v1`)}`,
    `env_key = ${tomlString(KEY_ENV)}`,
    `wire_api = "responses"`,
  ];
  const body = [...top, ...head, ...(rest.length ? ["", ...rest] : [])];
  return `${[...body, "", ...provider].join("\n")}\n`;
}

/** Continue's config.yaml: one model block for this server (the file is ours if it was not there). */
export function continueYaml(input: { url: string; key: string; model: string; contextSize: number }): string {
  return [
    "name: MaaS-Base",
    "version: 1.0.0",
    "schema: v1",
    "models:",
    `  - name: ${input.model}`,
    "    provider: openai",
    `    model: ${input.model}`,
    `    apiBase: ${input.url}/v1`,
    `    apiKey: ${input.key}`,
    "    roles: [chat, edit, apply]",
    "    defaultCompletionOptions:",
    `      contextLength: ${input.contextSize}`,
    "",
  ].join("\n");
}

export function buildConnection(input: ConnectInput): Connection {
  const { client, url, key, model, contextSize } = input;
  const file = (path: string | undefined, after: (before: string | undefined) => string): ConnectFile[] =>
    path ? [{ path, before: input.current[path], after: after(input.current[path]) }] : [];
  const [path] = Object.keys(input.current);
  const notes: string[] = [];
  const first = FIRST_PROMPT_TOKENS[client];
  if (first && contextSize < first) {
    notes.push(
      `${client}'s first request is about ${first} tokens, more than the ${contextSize} tokens '${model}' can get: ` +
        "its turns will fail with context_length_exceeded. Raise `serve --context-size` or pick a model with a longer context.",
    );
  } else if (first) {
    notes.push(
      `'${model}' gets up to ${contextSize} tokens of context (${client} opens with about ${first}); free memory may allow less when it loads.`,
    );
  }
  switch (client) {
    case "claude-code": {
      const env = { ANTHROPIC_BASE_URL: url, ANTHROPIC_AUTH_TOKEN: key, CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1" };
      notes.push(`The alias '${CLAUDE_ALIAS}' sends every Claude model name Claude Code asks for to '${model}'.`);
      return {
        client,
        model,
        aliases: [CLAUDE_ALIAS],
        env,
        files: file(path, (before) =>
          mergeJson(before, (value) => {
            value.env = { ...object(value.env), ...env };
          }),
        ),
        try: 'claude -p "Say hi" --output-format json',
        notes,
      };
    }
    case "codex":
      return {
        client,
        model,
        aliases: [],
        env: { [KEY_ENV]: key },
        files: file(path, (before) => codexToml(before, { url, model, contextSize })),
        try: 'codex exec --skip-git-repo-check "Say hi"',
        notes,
      };
    case "opencode":
      return {
        client,
        model,
        aliases: [],
        env: { [KEY_ENV]: key },
        files: file(path, (before) =>
          mergeJson(before, (value) => {
            value.$schema ??= "https://opencode.ai/config.json";
            const providers = object(value.provider);
            providers[PROVIDER] = {
              npm: "@ai-sdk/openai-compatible",
              name: "MaaS-Base",
              options: { baseURL: `${url}/v1`, apiKey: `{env:${KEY_ENV}}` },
              models: { [model]: { name: model, limit: { context: contextSize, output: 4096 } } },
            };
            value.provider = providers;
            value.model = `${PROVIDER}/${model}`;
          }),
        ),
        try: 'opencode run "Say hi"',
        notes,
      };
    case "continue":
      return {
        client,
        model,
        aliases: [],
        env: {},
        files: file(path, () => continueYaml({ url, key, model, contextSize })),
        try: `cn -p "Say hi" --config ${path ?? "~/.continue/config.yaml"}`,
        notes,
      };
    case "openai-sdk":
      return {
        client,
        model,
        aliases: [],
        env: { OPENAI_BASE_URL: `${url}/v1`, OPENAI_API_KEY: key },
        files: [],
        try: `node -e 'const OpenAI=require("openai");new OpenAI().chat.completions.create({model:"${model}",messages:[{role:"user",content:"Say hi"}]}).then(r=>console.log(r.choices[0].message.content))'`,
        notes,
      };
    case "anthropic-sdk":
      return {
        client,
        model,
        aliases: [],
        env: { ANTHROPIC_BASE_URL: url, ANTHROPIC_API_KEY: key },
        files: [],
        try: `node -e 'const A=require("@anthropic-ai/sdk");new A().messages.create({model:"${model}",max_tokens:256,messages:[{role:"user",content:"Say hi"}]}).then(r=>console.log(r.content[0].text))'`,
        notes,
      };
  }
}

/** A unified-style line diff of two small texts (longest common subsequence). */
export function lineDiff(before: string, after: string): string {
  const a = before === "" ? [] : before.replace(/\n$/, "").split("\n");
  const b = after.replace(/\n$/, "").split("\n");
  const lcs: number[][] = Array.from({ length: a.length + 1 }, () => new Array<number>(b.length + 1).fill(0));
  for (let i = a.length - 1; i >= 0; i--) {
    for (let j = b.length - 1; j >= 0; j--) {
      const row = lcs[i] as number[];
      row[j] =
        a[i] === b[j] ? ((lcs[i + 1] as number[])[j + 1] ?? 0) + 1 : Math.max((lcs[i + 1] as number[])[j] ?? 0, row[j + 1] ?? 0);
    }
  }
  const out: string[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j]) {
      out.push(`  ${a[i]}`);
      i++;
      j++;
    } else if (j < b.length && (i >= a.length || ((lcs[i] as number[])[j + 1] ?? 0) >= ((lcs[i + 1] as number[])[j] ?? 0))) {
      out.push(`+ ${b[j]}`);
      j++;
    } else {
      out.push(`- ${a[i]}`);
      i++;
    }
  }
  return out.join("\n");
}
