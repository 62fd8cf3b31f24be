/** The playground's current request as code a user can paste: curl, Python (openai) and JavaScript (openai). */

export interface SnippetRequest {
  url: string;
  body: Record<string, unknown>;
}

const indent = (text: string, by: string) => text.replace(/\n/g, `\n${by}`);

/** A JSON value written as Python (True/False/None instead of true/false/null). */
function python(value: unknown): string {
  return JSON.stringify(value, null, 4).replace(/: (true|false|null)([,\n])/g, (_, v: string, end: string) => {
    const word = v === "true" ? "True" : v === "false" ? "False" : "None";
    return `: ${word}${end}`;
  });
}

export function curlSnippet({ url, body }: SnippetRequest): string {
  const json = JSON.stringify({ ...body, stream: false }, null, 2).replace(/'/g, "'\\''");
  return `curl ${url}/v1/chat/completions \\
  -H "Authorization: Bearer $MAAS_KEY" \\
  -H "Content-Type: application/json" \\
  -d '${json}'`;
}

export function pythonSnippet({ url, body }: SnippetRequest): string {
  const { model, messages, ...rest } = body;
  const extra = Object.entries(rest).filter(([k]) => !["stream", "stream_options"].includes(k));
  return `import os

from openai import OpenAI

client = OpenAI(base_url="${url}/v1", api_key=os.environ["MAAS_KEY"])

completion = client.chat.completions.create(
    model=${JSON.stringify(model)},
    messages=${indent(python(messages), "    ")},
${extra.map(([k, v]) => `    ${k}=${indent(python(v), "    ")},`).join("\n")}
)
print(completion.choices[0].message.content)
`;
}

export function javascriptSnippet({ url, body }: SnippetRequest): string {
  const { stream: _stream, stream_options: _options, ...rest } = body;
  return `import OpenAI from "openai";

const client = new OpenAI({ baseURL: "${url}/v1", apiKey: process.env.MAAS_KEY });

const completion = await client.chat.completions.create(${indent(JSON.stringify(rest, null, 2), "")});
console.log(completion.choices[0].message.content);
`;
}
