import {
  ActionIcon,
  Alert,
  Badge,
  Button,
  Card,
  Code,
  Group,
  Modal,
  MultiSelect,
  NumberInput,
  Paper,
  ScrollArea,
  Select,
  SimpleGrid,
  Slider,
  Stack,
  Table,
  Tabs,
  TagsInput,
  Text,
  Textarea,
  Title,
} from "@mantine/core";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useRef, useState } from "react";
import ReactMarkdown from "react-markdown";
import rehypeHighlight from "rehype-highlight";
import remarkGfm from "remark-gfm";
import { api, readSse, serverUrl } from "../api.js";
import { go } from "../nav.js";
import type { Model } from "../types.js";

interface Stats {
  ttftMs: number | null;
  tokens: number;
  tokensPerSecond: number | null;
}

interface Message {
  id: string;
  role: "user" | "assistant";
  content: string;
  stats?: Stats;
  error?: string;
}

interface Params {
  temperature: number;
  topP: number;
  maxTokens: number;
  stop: string[];
  jsonSchema: string;
}

const DEFAULT_PARAMS: Params = { temperature: 0.8, topP: 0.95, maxTokens: 512, stop: [], jsonSchema: "" };

function requestBody(model: string, system: string, history: Message[], params: Params) {
  let schema: unknown;
  if (params.jsonSchema.trim()) schema = JSON.parse(params.jsonSchema);
  return {
    model,
    messages: [
      ...(system.trim() ? [{ role: "system", content: system }] : []),
      ...history.map((m) => ({ role: m.role, content: m.content })),
    ],
    temperature: params.temperature,
    top_p: params.topP,
    max_tokens: params.maxTokens,
    ...(params.stop.length ? { stop: params.stop } : {}),
    ...(schema ? { response_format: { type: "json_schema", json_schema: { name: "answer", schema } } } : {}),
    stream: true,
    stream_options: { include_usage: true },
  };
}

/** Streams one chat answer, reporting text as it comes; resolves with its timing. */
async function streamChat(body: object, signal: AbortSignal, onText: (text: string) => void): Promise<Stats> {
  const started = performance.now();
  let first: number | null = null;
  let tokens = 0;
  let chunks = 0;
  await readSse("/v1/chat/completions", { method: "POST", json: body, signal }, (data) => {
    if (data === "[DONE]") return;
    const chunk = JSON.parse(data) as {
      choices?: Array<{ delta?: { content?: string; reasoning_content?: string } }>;
      usage?: { completion_tokens: number } | null;
      error?: { message: string };
    };
    if (chunk.error) throw new Error(chunk.error.message);
    const text = chunk.choices?.[0]?.delta?.content ?? "";
    if (text) {
      first ??= performance.now();
      chunks++;
      onText(text);
    }
    if (chunk.usage) tokens = chunk.usage.completion_tokens;
  });
  const end = performance.now();
  tokens ||= chunks;
  return {
    ttftMs: first === null ? null : Math.round(first - started),
    tokens,
    // Over a stretch too short to time (a fast model whose chunks arrive together) there is no honest figure.
    tokensPerSecond: first !== null && end - first >= 20 && tokens > 1 ? (tokens - 1) / ((end - first) / 1000) : null,
  };
}

function MessageView({ message, onEdit }: { message: Message; onEdit?: () => void }) {
  return (
    <Paper
      withBorder
      p="xs"
      bg={message.role === "user" ? "var(--mantine-color-default-hover)" : undefined}
      data-testid={`message-${message.role}`}
    >
      <Group justify="space-between" gap="xs">
        <Text size="xs" c="dimmed">
          {message.role}
        </Text>
        {onEdit && (
          <Button size="compact-xs" variant="subtle" onClick={onEdit}>
            Edit
          </Button>
        )}
      </Group>
      <div className="markdown">
        <ReactMarkdown remarkPlugins={[remarkGfm]} rehypePlugins={[rehypeHighlight]}>
          {message.content || " "}
        </ReactMarkdown>
      </div>
      {message.error && (
        <Text size="sm" c="red">
          {message.error}
        </Text>
      )}
      {message.stats && (
        <Group gap="xs">
          <Badge variant="light" data-testid="stat-tps">
            {message.stats.tokensPerSecond === null ? "–" : message.stats.tokensPerSecond.toFixed(1)} tok/s
          </Badge>
          <Badge variant="light">TTFT {message.stats.ttftMs ?? "–"} ms</Badge>
          <Badge variant="light">{message.stats.tokens} tokens</Badge>
        </Group>
      )}
    </Paper>
  );
}

function Chat({ chatModels }: { chatModels: string[] }) {
  const queryClient = useQueryClient();
  const [models, setModels] = useState<string[]>(chatModels.slice(0, 1));
  const [threads, setThreads] = useState<Record<string, Message[]>>({});
  const [input, setInput] = useState("");
  const [system, setSystem] = useState("");
  const [params, setParams] = useState<Params>(DEFAULT_PARAMS);
  const [running, setRunning] = useState(false);
  const [conversationId, setConversationId] = useState<string | null>(null);
  const [showCode, setShowCode] = useState(false);
  const controllers = useRef<AbortController[]>([]);
  const conversations = useQuery({
    queryKey: ["conversations"],
    queryFn: () => api<{ data: Array<{ id: string; title: string; model: string | null }> }>("/api/admin/conversations"),
  });

  const save = async (next: Record<string, Message[]>) => {
    const firstUser = Object.values(next)[0]?.find((m) => m.role === "user")?.content ?? "Conversation";
    const saved = await api<{ id: string }>("/api/admin/conversations", {
      method: "POST",
      json: {
        ...(conversationId ? { id: conversationId } : {}),
        title: firstUser.slice(0, 60),
        model: models.join(", "),
        data: { threads: next, system, params, models },
      },
    });
    setConversationId(saved.id);
    void queryClient.invalidateQueries({ queryKey: ["conversations"] });
  };

  const send = async (text: string, base: Record<string, Message[]>) => {
    if (!text.trim() || models.length === 0) return;
    setInput("");
    setRunning(true);
    const next: Record<string, Message[]> = {};
    for (const model of models) {
      next[model] = [
        ...(base[model] ?? []),
        { id: crypto.randomUUID(), role: "user", content: text },
        { id: crypto.randomUUID(), role: "assistant", content: "" },
      ];
    }
    setThreads(next);
    controllers.current = models.map(() => new AbortController());
    await Promise.all(
      models.map(async (model, i) => {
        const history = (next[model] ?? []).slice(0, -1);
        const update = (patch: Partial<Message>, append = "") =>
          setThreads((all) => {
            const thread = [...(all[model] ?? [])];
            const last = thread[thread.length - 1] as Message;
            thread[thread.length - 1] = { ...last, ...patch, content: last.content + append };
            return { ...all, [model]: thread };
          });
        try {
          const body = requestBody(model, system, history, params);
          const stats = await streamChat(body, (controllers.current[i] as AbortController).signal, (t) => update({}, t));
          update({ stats });
        } catch (e) {
          const aborted = (controllers.current[i] as AbortController).signal.aborted;
          update({ ...(aborted ? {} : { error: e instanceof Error ? e.message : String(e) }) });
        }
      }),
    );
    setRunning(false);
    setThreads((all) => {
      void save(all).catch(() => {});
      return all;
    });
  };

  const stop = () => {
    for (const c of controllers.current) c.abort();
  };
  const regenerate = () => {
    const first = threads[models[0] ?? ""] ?? [];
    const lastUser = [...first].reverse().find((m) => m.role === "user");
    if (!lastUser) return;
    const base: Record<string, Message[]> = {};
    for (const model of models) {
      const thread = threads[model] ?? [];
      const cut = thread.map((m) => m.role).lastIndexOf("user");
      base[model] = thread.slice(0, cut);
    }
    void send(lastUser.content, base);
  };
  const edit = (index: number) => {
    const first = threads[models[0] ?? ""] ?? [];
    setInput(first[index]?.content ?? "");
    const base: Record<string, Message[]> = {};
    for (const model of models) base[model] = (threads[model] ?? []).slice(0, index);
    setThreads(base);
  };
  const load = async (id: string | null) => {
    if (!id) return;
    const conversation = await api<{
      id: string;
      data: { threads: Record<string, Message[]>; system: string; params: Params; models: string[] };
    }>(`/api/admin/conversations/${id}`);
    setConversationId(conversation.id);
    setThreads(conversation.data.threads ?? {});
    setSystem(conversation.data.system ?? "");
    setParams({ ...DEFAULT_PARAMS, ...conversation.data.params });
    setModels(conversation.data.models ?? models);
  };
  const newChat = () => {
    setConversationId(null);
    setThreads({});
  };
  const codeFor = () => {
    let body: object;
    try {
      body = requestBody(
        models[0] ?? "model",
        system,
        [...(threads[models[0] ?? ""] ?? []).filter((m) => m.content), { id: "draft", role: "user", content: input || "Hello" }],
        params,
      );
    } catch {
      body = { error: "the JSON schema is not valid JSON" };
    }
    return `curl ${serverUrl()}/v1/chat/completions \\\n  -H "Authorization: Bearer $MAAS_KEY" -H "Content-Type: application/json" \\\n  -d '${JSON.stringify(body, null, 2)}'`;
  };

  return (
    <SimpleGrid cols={{ base: 1, lg: 4 }}>
      <Stack style={{ gridColumn: "span 3" }}>
        <Group>
          <MultiSelect
            label="Models (pick 2–4 to compare)"
            data={chatModels}
            value={models}
            onChange={(v) => setModels(v.slice(0, 4))}
            maxValues={4}
            style={{ flex: 1 }}
            data-testid="model-select"
          />
          <Select
            label="Conversations"
            placeholder="Saved conversations"
            data={conversations.data?.data.map((c) => ({ value: c.id, label: c.title })) ?? []}
            value={conversationId}
            onChange={(v) => void load(v)}
            clearable
            style={{ width: 260 }}
          />
          <Button mt={24} variant="light" onClick={newChat}>
            New chat
          </Button>
        </Group>
        <SimpleGrid cols={Math.max(1, models.length)}>
          {models.map((model) => (
            <Card withBorder key={model} data-testid={`column-${model}`}>
              <Text fw={600} mb="xs">
                {model}
              </Text>
              <ScrollArea h={420}>
                <Stack gap="xs">
                  {(threads[model] ?? []).map((m, i) => (
                    <MessageView key={m.id} message={m} {...(m.role === "user" && !running ? { onEdit: () => edit(i) } : {})} />
                  ))}
                </Stack>
              </ScrollArea>
            </Card>
          ))}
        </SimpleGrid>
        <Textarea
          placeholder="Send a message (Ctrl+Enter)"
          autosize
          minRows={2}
          value={input}
          onChange={(e) => setInput(e.currentTarget.value)}
          onKeyDown={(e) => e.key === "Enter" && (e.ctrlKey || e.metaKey) && void send(input, threads)}
          data-testid="chat-input"
        />
        <Group>
          {running ? (
            <Button color="red" onClick={stop} data-testid="stop">
              Stop
            </Button>
          ) : (
            <Button onClick={() => void send(input, threads)} disabled={!input.trim() || models.length === 0} data-testid="send">
              Send
            </Button>
          )}
          <Button variant="light" onClick={regenerate} disabled={running || Object.keys(threads).length === 0}>
            Regenerate
          </Button>
          <Button variant="subtle" onClick={() => setShowCode(true)}>
            View code
          </Button>
        </Group>
      </Stack>
      <Stack>
        <Textarea label="System prompt" autosize minRows={3} value={system} onChange={(e) => setSystem(e.currentTarget.value)} />
        <Text size="sm">Temperature {params.temperature}</Text>
        <Slider
          min={0}
          max={2}
          step={0.05}
          value={params.temperature}
          onChange={(v) => setParams((p) => ({ ...p, temperature: v }))}
        />
        <Text size="sm">top_p {params.topP}</Text>
        <Slider min={0} max={1} step={0.01} value={params.topP} onChange={(v) => setParams((p) => ({ ...p, topP: v }))} />
        <NumberInput
          label="Max tokens"
          min={1}
          value={params.maxTokens}
          onChange={(v) => setParams((p) => ({ ...p, maxTokens: Number(v) || 1 }))}
          data-testid="max-tokens"
        />
        <TagsInput label="Stop sequences" value={params.stop} onChange={(v) => setParams((p) => ({ ...p, stop: v }))} />
        <Textarea
          label="JSON schema (optional)"
          autosize
          minRows={2}
          value={params.jsonSchema}
          onChange={(e) => setParams((p) => ({ ...p, jsonSchema: e.currentTarget.value }))}
        />
      </Stack>
      <Modal opened={showCode} onClose={() => setShowCode(false)} title="This request as code" size="lg">
        <Code block>{codeFor()}</Code>
      </Modal>
    </SimpleGrid>
  );
}

function Embeddings({ models }: { models: string[] }) {
  const [model, setModel] = useState<string | null>(models[0] ?? null);
  const [text, setText] = useState("the cat sat on the mat\na dog slept on the rug\nparis is the capital of france");
  const [matrix, setMatrix] = useState<{ inputs: string[]; sims: number[][] } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const run = async () => {
    setError(null);
    const inputs = text
      .split("\n")
      .map((s) => s.trim())
      .filter(Boolean);
    try {
      const res = await api<{ data: Array<{ embedding: number[] }> }>("/v1/embeddings", {
        method: "POST",
        json: { model, input: inputs, encoding_format: "float" },
      });
      const vectors = res.data.map((d) => d.embedding);
      const dot = (a: number[], b: number[]) => a.reduce((n, v, i) => n + v * (b[i] ?? 0), 0);
      setMatrix({ inputs, sims: vectors.map((a) => vectors.map((b) => dot(a, b))) });
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
  };
  return (
    <Stack>
      <Select label="Embedding model" data={models} value={model} onChange={setModel} />
      <Textarea label="Texts, one per line" autosize minRows={3} value={text} onChange={(e) => setText(e.currentTarget.value)} />
      <Button onClick={() => void run()} disabled={!model}>
        Compare
      </Button>
      {error && <Alert color="red">{error}</Alert>}
      {matrix && (
        <Table data-testid="similarity">
          <Table.Thead>
            <Table.Tr>
              <Table.Th />
              {matrix.inputs.map((input, i) => (
                <Table.Th key={`h-${input}`}>#{i + 1}</Table.Th>
              ))}
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {matrix.sims.map((row, i) => (
              <Table.Tr key={`r-${matrix.inputs[i]}`}>
                <Table.Td>
                  #{i + 1} {matrix.inputs[i]}
                </Table.Td>
                {row.map((v, j) => (
                  <Table.Td key={`c-${matrix.inputs[j]}`} style={{ background: `rgba(34, 139, 230, ${Math.max(0, v) * 0.5})` }}>
                    {v.toFixed(3)}
                  </Table.Td>
                ))}
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      )}
    </Stack>
  );
}

function Rerank({ models }: { models: string[] }) {
  const [model, setModel] = useState<string | null>(models[0] ?? null);
  const [query, setQuery] = useState("what colour is the sky");
  const [docs, setDocs] = useState("the sky is blue\nthe sea is green\ncats and dogs");
  const [results, setResults] = useState<Array<{ index: number; relevance_score: number; document: { text: string } }> | null>(
    null,
  );
  const [error, setError] = useState<string | null>(null);
  const run = async () => {
    setError(null);
    try {
      const documents = docs
        .split("\n")
        .map((s) => s.trim())
        .filter(Boolean);
      const res = await api<{ results: typeof results }>("/v1/rerank", { method: "POST", json: { model, query, documents } });
      setResults(res.results);
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
  };
  return (
    <Stack>
      <Select label="Reranker" data={models} value={model} onChange={setModel} data-testid="rerank-model" />
      <Textarea label="Query" value={query} onChange={(e) => setQuery(e.currentTarget.value)} />
      <Textarea
        label="Documents, one per line"
        autosize
        minRows={3}
        value={docs}
        onChange={(e) => setDocs(e.currentTarget.value)}
      />
      <Button onClick={() => void run()} disabled={!model} data-testid="rerank-run">
        Rank
      </Button>
      {error && <Alert color="red">{error}</Alert>}
      {results && (
        <Table data-testid="rerank-results">
          <Table.Tbody>
            {results.map((r, rank) => (
              <Table.Tr key={r.index}>
                <Table.Td>{rank + 1}</Table.Td>
                <Table.Td>{r.document.text}</Table.Td>
                <Table.Td>{r.relevance_score.toFixed(4)}</Table.Td>
                <Table.Td>
                  <Text size="xs" c="dimmed">
                    input #{r.index + 1}
                  </Text>
                </Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      )}
    </Stack>
  );
}

export function Playground() {
  const library = useQuery({ queryKey: ["library"], queryFn: () => api<{ data: Model[] }>("/api/admin/library") });
  const models = library.data?.data ?? [];
  const of = (c: "chat" | "embedding" | "rerank") => models.filter((m) => m.capabilities.includes(c)).map((m) => m.id);
  if (library.data && models.length === 0) {
    return (
      <Stack>
        <Title order={1}>Playground</Title>
        <Alert title="No models yet">
          <Group>
            <Text>Download or import a model first.</Text>
            <ActionIcon variant="light" w="auto" px="sm" onClick={() => go("models")}>
              Go to Models
            </ActionIcon>
          </Group>
        </Alert>
      </Stack>
    );
  }
  return (
    <Stack>
      <Title order={1}>Playground</Title>
      <Tabs defaultValue="chat" keepMounted={false}>
        <Tabs.List>
          <Tabs.Tab value="chat">Chat</Tabs.Tab>
          <Tabs.Tab value="embeddings">Embeddings</Tabs.Tab>
          <Tabs.Tab value="rerank" data-testid="tab-rerank">
            Rerank
          </Tabs.Tab>
        </Tabs.List>
        <Tabs.Panel value="chat" pt="md">
          {library.data && <Chat chatModels={of("chat")} />}
        </Tabs.Panel>
        <Tabs.Panel value="embeddings" pt="md">
          <Embeddings models={of("embedding")} />
        </Tabs.Panel>
        <Tabs.Panel value="rerank" pt="md">
          <Rerank models={of("rerank")} />
        </Tabs.Panel>
      </Tabs>
    </Stack>
  );
}
