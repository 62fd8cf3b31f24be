import {
  Alert,
  Badge,
  Box,
  Button,
  Group,
  Loader,
  Modal,
  MultiSelect,
  NumberInput,
  Paper,
  Progress,
  Slider,
  Stack,
  Tabs,
  TagsInput,
  Text,
  Textarea,
  TextInput,
  Title,
  UnstyledButton,
} from "@mantine/core";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useLayoutEffect, useRef, useState } from "react";
import type { ConversationPublic, ConversationSummary } from "../../../../src-main/core/contract/index.js";
import { api, readSse, serverUrl } from "../../api.js";
import { EmptyState } from "../../EmptyState.js";
import { Icon } from "../../icons.js";
import type { Model } from "../../types.js";
import {
  DEFAULT_PARAMS,
  getChat,
  loaded,
  type Message,
  type Params,
  patchLast,
  type Stats,
  setChat,
  useChat,
} from "./chatStore.js";
import { CopyButton, Markdown } from "./Markdown.js";
import { curlSnippet, javascriptSnippet, pythonSnippet } from "./snippets.js";

interface SavedData {
  threads: Record<string, Message[]>;
  system: string;
  params: Params;
  models: string[];
}

/** Why a JSON schema text cannot be used, or null (empty means none). */
function schemaProblem(text: string): string | null {
  if (!text.trim()) return null;
  try {
    const value = JSON.parse(text) as unknown;
    if (typeof value !== "object" || value === null || Array.isArray(value)) return "A JSON schema must be a JSON object.";
    return null;
  } catch (e) {
    return `Not valid JSON: ${e instanceof Error ? e.message : String(e)}`;
  }
}

function requestBody(model: string, system: string, history: Message[], params: Params) {
  const schema = params.jsonSchema.trim() ? (JSON.parse(params.jsonSchema) as unknown) : undefined;
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
      choices?: Array<{ delta?: { content?: string } }>;
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

let controllers: AbortController[] = [];

async function saveConversation(): Promise<string | null> {
  const s = getChat();
  const firstUser = Object.values(s.threads)[0]?.find((m) => m.role === "user")?.content ?? "Conversation";
  const data: SavedData = { threads: s.threads, system: s.system, params: s.params, models: s.models };
  const saved = await api<ConversationPublic>("/api/admin/conversations", {
    method: "POST",
    json: {
      ...(s.conversationId ? { id: s.conversationId } : {}),
      title: firstUser.replace(/\s+/g, " ").trim().slice(0, 60) || "Conversation",
      model: s.models.join(", "),
      data,
    },
  });
  loaded.id = saved.id;
  setChat({ conversationId: saved.id });
  return saved.id;
}

/** Sends `text` after `base` (each model's thread so far), streaming every model's answer at once. */
async function send(text: string, base: Record<string, Message[]>, onSaved: () => void): Promise<void> {
  const { models, system, params } = getChat();
  if (!text.trim() || models.length === 0) return;
  const threads: Record<string, Message[]> = {};
  for (const model of models) {
    threads[model] = [
      ...(base[model] ?? []),
      { id: crypto.randomUUID(), role: "user", content: text },
      { id: crypto.randomUUID(), role: "assistant", content: "" },
    ];
  }
  setChat({ threads, input: "", running: true, waiting: [...models] });
  controllers = models.map(() => new AbortController());
  const outcomes = await Promise.all(
    models.map(async (model, i) => {
      const controller = controllers[i] as AbortController;
      const firstToken = () => setChat((s) => ({ waiting: s.waiting.filter((m) => m !== model) }));
      try {
        const body = requestBody(model, system, (threads[model] ?? []).slice(0, -1), params);
        let seen = false;
        const stats = await streamChat(body, controller.signal, (t) => {
          if (!seen) {
            seen = true;
            firstToken();
          }
          patchLast(model, {}, t);
        });
        patchLast(model, { stats });
        return true;
      } catch (e) {
        firstToken();
        if (controller.signal.aborted) {
          patchLast(model, { stopped: true });
          return true;
        }
        patchLast(model, { error: e instanceof Error ? e.message : String(e) });
        return false;
      }
    }),
  );
  setChat({ running: false, waiting: [] });
  // A first turn that failed everywhere is not worth a conversation in the list.
  if (outcomes.some(Boolean) || getChat().conversationId) {
    await saveConversation().catch(() => {});
    onSaved();
  }
}

function ModelWaiting({ model }: { model: string }) {
  const library = useQuery({
    queryKey: ["library"],
    queryFn: () => api<{ data: Model[] }>("/api/admin/library"),
    refetchInterval: 700,
  });
  const entry = library.data?.data.find((m) => m.id === model);
  if (entry?.state === "loading") {
    const pct = Math.round((entry.load?.progress ?? 0) * 100);
    return (
      <Stack gap={4} data-testid="model-loading">
        <Text size="sm">
          Loading {model} into memory… {pct}%
        </Text>
        <Progress value={pct} animated aria-label={`Loading ${model}`} />
      </Stack>
    );
  }
  return (
    <Group gap="xs" data-testid="waiting-first-token">
      <Loader size="xs" type="dots" aria-label="Waiting for the first token" />
      <Text size="sm" c="dimmed">
        Waiting for the first token…
      </Text>
    </Group>
  );
}

function MessageView({
  message,
  waitingFor,
  onEdit,
}: {
  message: Message;
  waitingFor: string | null;
  onEdit?: ((text: string) => void) | undefined;
}) {
  const [editing, setEditing] = useState<string | null>(null);
  const user = message.role === "user";
  if (editing !== null && onEdit) {
    return (
      <Paper withBorder p="sm" data-testid="message-editing">
        <Textarea
          aria-label="Edit the message"
          autosize
          minRows={2}
          value={editing}
          onChange={(e) => setEditing(e.currentTarget.value)}
          autoFocus
          data-testid="edit-input"
        />
        <Group mt="xs" gap="xs" justify="flex-end">
          <Button size="compact-sm" variant="default" onClick={() => setEditing(null)} data-testid="edit-cancel">
            Cancel
          </Button>
          <Button size="compact-sm" onClick={() => onEdit(editing)} disabled={!editing.trim()} data-testid="edit-send">
            Save and send
          </Button>
        </Group>
      </Paper>
    );
  }
  return (
    <Paper
      withBorder={!user}
      p="sm"
      radius="md"
      bg={user ? "var(--mantine-color-default-hover)" : undefined}
      ml={user ? "auto" : undefined}
      maw={user ? "85%" : "100%"}
      data-testid={`message-${message.role}`}
    >
      <Group justify="space-between" gap="xs" mb={4} wrap="wrap">
        <Text size="xs" fw={600} c="dimmed">
          {user ? "You" : "Assistant"}
        </Text>
        <Group gap={4} wrap="wrap">
          {message.content && <CopyButton value={message.content} testId="copy-message" />}
          {onEdit && (
            <Button
              size="compact-xs"
              variant="default"
              leftSection={<Icon name="pencil" size={14} />}
              onClick={() => setEditing(message.content)}
              data-testid="edit"
            >
              Edit
            </Button>
          )}
        </Group>
      </Group>
      {message.content ? <Markdown text={message.content} /> : waitingFor ? <ModelWaiting model={waitingFor} /> : null}
      {message.stopped && (
        <Badge color="orange" variant="light" mt={6} data-testid="stopped">
          Stopped{message.content ? "" : " before the first token"}
        </Badge>
      )}
      {message.error && (
        <Alert color="red" mt={6} p="xs" data-testid="message-error">
          {message.error}
        </Alert>
      )}
      {message.stats && (
        <Group gap="xs" mt={6}>
          <Badge variant="light" data-testid="stat-tps">
            {message.stats.tokensPerSecond === null ? "–" : message.stats.tokensPerSecond.toFixed(1)} tok/s
          </Badge>
          <Badge variant="light" color="gray">
            TTFT {message.stats.ttftMs ?? "–"} ms
          </Badge>
          <Badge variant="light" color="gray">
            {message.stats.tokens} tokens
          </Badge>
        </Group>
      )}
    </Paper>
  );
}

/** One model's thread: scrolls with the stream unless the user has scrolled up to read. */
function Column({ model, showTitle, onSaved }: { model: string; showTitle: boolean; onSaved: () => void }) {
  const chat = useChat();
  const thread = chat.threads[model] ?? [];
  const box = useRef<HTMLDivElement>(null);
  const follow = useRef(true);
  const lastLength = thread.reduce((n, m) => n + m.content.length + (m.stats ? 1 : 0) + (m.error ? 1 : 0), thread.length);
  // biome-ignore lint/correctness/useExhaustiveDependencies: scroll whenever the thread grows
  useLayoutEffect(() => {
    const el = box.current;
    if (el && follow.current) el.scrollTop = el.scrollHeight;
  }, [lastLength]);
  const edit = (index: number) => (text: string) => {
    const base: Record<string, Message[]> = {};
    for (const m of getChat().models) base[m] = (getChat().threads[m] ?? []).slice(0, index);
    follow.current = true;
    void send(text, base, onSaved);
  };
  return (
    <Paper withBorder className="chat-column" data-testid={`column-${model}`} radius="md">
      {showTitle && (
        <Text fw={600} size="sm" px="sm" pt="xs">
          {model}
        </Text>
      )}
      <div
        ref={box}
        className="chat-scroll"
        data-testid="chat-scroll"
        onScroll={(e) => {
          const el = e.currentTarget;
          follow.current = el.scrollHeight - el.scrollTop - el.clientHeight < 48;
        }}
      >
        {thread.length === 0 && (
          <Box mt="xl">
            <EmptyState icon="playground" title={`Chat with ${model}`}>
              Type a message below: Enter sends, Shift+Enter starts a new line. Under Parameters, pick two to four models to
              compare their answers side by side.
            </EmptyState>
          </Box>
        )}
        <Stack gap="sm">
          {thread.map((m, i) => (
            <MessageView
              key={m.id}
              message={m}
              waitingFor={i === thread.length - 1 && chat.waiting.includes(model) ? model : null}
              onEdit={m.role === "user" && !chat.running ? edit(i) : undefined}
            />
          ))}
        </Stack>
      </div>
    </Paper>
  );
}

function ConversationList({ onPick }: { onPick: (id: string | null) => void }) {
  const queryClient = useQueryClient();
  const chat = useChat();
  const [renaming, setRenaming] = useState<{ id: string; title: string } | null>(null);
  const [deleting, setDeleting] = useState<string | null>(null);
  const conversations = useQuery({
    queryKey: ["conversations"],
    queryFn: () => api<{ data: ConversationSummary[] }>("/api/admin/conversations"),
  });
  const refresh = () => void queryClient.invalidateQueries({ queryKey: ["conversations"] });
  const rename = async (id: string, title: string) => {
    const full = await api<ConversationSummary & { data: unknown }>(`/api/admin/conversations/${id}`);
    await api("/api/admin/conversations", { method: "POST", json: { id, title, model: full.model, data: full.data } });
    setRenaming(null);
    refresh();
  };
  const remove = async (id: string) => {
    await api(`/api/admin/conversations/${id}`, { method: "DELETE" });
    setDeleting(null);
    if (chat.conversationId === id) onPick(null);
    refresh();
  };
  const list = conversations.data?.data ?? [];
  return (
    <Paper withBorder radius="md" p="xs" className="chat-list" component="section" aria-label="Conversations">
      <Button
        fullWidth
        variant="light"
        leftSection={<Icon name="plus" size={16} />}
        onClick={() => onPick(null)}
        disabled={chat.running}
        data-testid="new-chat"
      >
        New chat
      </Button>
      <Title order={2} mt="sm" mb={4} px={4}>
        Conversations
      </Title>
      {list.length === 0 && (
        <Text size="sm" c="dimmed" px={4}>
          Your chats are saved here after the first answer.
        </Text>
      )}
      <Stack gap={2} data-testid="conversation-list">
        {list.map((c) => {
          const active = c.id === chat.conversationId;
          if (renaming?.id === c.id) {
            return (
              <form
                key={c.id}
                onSubmit={(e) => {
                  e.preventDefault();
                  void rename(c.id, renaming.title.trim() || c.title);
                }}
              >
                <TextInput
                  size="xs"
                  aria-label="New title"
                  value={renaming.title}
                  onChange={(e) => setRenaming({ id: c.id, title: e.currentTarget.value })}
                  onKeyDown={(e) => e.key === "Escape" && setRenaming(null)}
                  autoFocus
                  data-testid="rename-input"
                />
              </form>
            );
          }
          return (
            <div key={c.id} className="conversation-item" data-active={active || undefined} data-testid="conversation">
              <UnstyledButton
                onClick={() => onPick(c.id)}
                disabled={chat.running}
                className="conversation-open"
                aria-current={active ? "true" : undefined}
              >
                <Text size="sm" fw={active ? 600 : 400} truncate="end">
                  {c.title}
                </Text>
                <Text size="xs" c="dimmed">
                  {new Date(c.updatedAt).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" })}
                </Text>
              </UnstyledButton>
              {deleting === c.id ? (
                <Group gap={4} wrap="nowrap">
                  <Button size="compact-xs" color="red" onClick={() => void remove(c.id)} data-testid="confirm-delete">
                    Delete
                  </Button>
                  <Button size="compact-xs" variant="default" onClick={() => setDeleting(null)}>
                    Keep
                  </Button>
                </Group>
              ) : (
                <Group gap={2} wrap="nowrap" className="conversation-actions">
                  <Button
                    size="compact-xs"
                    variant="subtle"
                    px={4}
                    aria-label={`Rename “${c.title}”`}
                    onClick={() => setRenaming({ id: c.id, title: c.title })}
                    data-testid="rename"
                  >
                    <Icon name="pencil" size={14} />
                  </Button>
                  <Button
                    size="compact-xs"
                    variant="subtle"
                    color="red"
                    px={4}
                    aria-label={`Delete “${c.title}”`}
                    onClick={() => setDeleting(c.id)}
                    data-testid="delete"
                  >
                    <Icon name="trash" size={14} />
                  </Button>
                </Group>
              )}
            </div>
          );
        })}
      </Stack>
    </Paper>
  );
}

function CodeModal({ opened, onClose }: { opened: boolean; onClose: () => void }) {
  const chat = useChat();
  const model = chat.models[0] ?? "model";
  const history = (chat.threads[model] ?? []).filter((m) => m.content);
  const messages: Message[] = chat.input.trim()
    ? [...history, { id: "draft", role: "user", content: chat.input }]
    : history.length
      ? history
      : [{ id: "example", role: "user", content: "Say hello." }];
  let body: Record<string, unknown>;
  try {
    body = requestBody(model, chat.system, messages, chat.params);
  } catch {
    body = requestBody(model, chat.system, messages, { ...chat.params, jsonSchema: "" });
  }
  const request = { url: serverUrl(), body };
  const snippets = { curl: curlSnippet(request), python: pythonSnippet(request), javascript: javascriptSnippet(request) };
  return (
    <Modal opened={opened} onClose={onClose} title="This request as code" size="xl">
      <Text size="sm" mb="xs">
        Set <code>MAAS_KEY</code> to an API key from the API keys page.
      </Text>
      <Tabs defaultValue="curl">
        <Tabs.List>
          <Tabs.Tab value="curl">curl</Tabs.Tab>
          <Tabs.Tab value="python">Python</Tabs.Tab>
          <Tabs.Tab value="javascript">JavaScript</Tabs.Tab>
        </Tabs.List>
        {(Object.keys(snippets) as Array<keyof typeof snippets>).map((k) => (
          <Tabs.Panel key={k} value={k} pt="sm">
            <div className="code-block">
              {/* biome-ignore lint/a11y/noNoninteractiveTabindex: a scrollable code block must be reachable by keyboard (axe: scrollable-region-focusable) */}
              <pre data-testid={`snippet-${k}`} tabIndex={0}>
                {snippets[k]}
              </pre>
              <span className="copy-code">
                <CopyButton value={snippets[k]} testId={`copy-${k}`} />
              </span>
            </div>
          </Tabs.Panel>
        ))}
      </Tabs>
    </Modal>
  );
}

export function Chat({ chatModels }: { chatModels: string[] }) {
  const queryClient = useQueryClient();
  const chat = useChat();
  const [showCode, setShowCode] = useState(false);
  const schemaError = schemaProblem(chat.params.jsonSchema);
  const onSaved = () => void queryClient.invalidateQueries({ queryKey: ["conversations"] });
  const setParams = (patch: Partial<Params>) => setChat((s) => ({ params: { ...s.params, ...patch } }));

  const open = async (id: string | null) => {
    if (!id) {
      loaded.id = null;
      setChat({ conversationId: null, threads: {}, input: "" });
      return;
    }
    const conversation = await api<{ id: string; data: SavedData }>(`/api/admin/conversations/${id}`);
    loaded.id = conversation.id;
    const models = (conversation.data.models ?? []).filter((m) => chatModels.includes(m));
    setChat({
      conversationId: conversation.id,
      threads: conversation.data.threads ?? {},
      system: conversation.data.system ?? "",
      params: { ...DEFAULT_PARAMS, ...conversation.data.params },
      models: models.length ? models : getChat().models,
    });
  };

  // First visit: pick a chat model; after a reload, reopen the conversation that was open.
  // biome-ignore lint/correctness/useExhaustiveDependencies: once per mount
  useEffect(() => {
    const s = getChat();
    if (s.models.length === 0 && chatModels[0]) setChat({ models: [chatModels[0]] });
    if (s.conversationId && loaded.id !== s.conversationId && !s.running) {
      void open(s.conversationId).catch(() => setChat({ conversationId: null }));
    }
  }, []);

  const submit = () => {
    if (schemaError || chat.running) return;
    void send(chat.input, getChat().threads, onSaved);
  };
  const regenerate = () => {
    const first = chat.threads[chat.models[0] ?? ""] ?? [];
    const lastUser = [...first].reverse().find((m) => m.role === "user");
    if (!lastUser) return;
    const base: Record<string, Message[]> = {};
    for (const model of chat.models) {
      const thread = chat.threads[model] ?? [];
      base[model] = thread.slice(0, thread.map((m) => m.role).lastIndexOf("user"));
    }
    void send(lastUser.content, base, onSaved);
  };

  return (
    <div className="chat-layout">
      <ConversationList onPick={(id) => void open(id)} />
      <div className="chat-main">
        <div
          className="chat-columns"
          style={{ gridTemplateColumns: `repeat(${Math.max(1, chat.models.length)}, minmax(0, 1fr))` }}
        >
          {chat.models.map((model) => (
            <Column key={model} model={model} showTitle={chat.models.length > 1} onSaved={onSaved} />
          ))}
          {chat.models.length === 0 && <Alert title="No chat model picked">Pick a model on the right to start a chat.</Alert>}
        </div>
        <Paper withBorder radius="md" p="xs">
          <Textarea
            aria-label="Message"
            placeholder="Send a message (Enter sends, Shift+Enter for a new line)"
            autosize
            minRows={1}
            maxRows={8}
            variant="unstyled"
            px="xs"
            value={chat.input}
            onChange={(e) => setChat({ input: e.currentTarget.value })}
            onKeyDown={(e) => {
              if (e.key === "Enter" && !e.shiftKey && !e.nativeEvent.isComposing) {
                e.preventDefault();
                submit();
              }
            }}
            data-testid="chat-input"
          />
          <Group justify="space-between" mt={4}>
            <Group gap="xs">
              <Button
                variant="default"
                size="compact-sm"
                onClick={regenerate}
                disabled={chat.running || Object.keys(chat.threads).length === 0}
              >
                Regenerate
              </Button>
              <Button variant="default" size="compact-sm" onClick={() => setShowCode(true)} data-testid="view-code">
                View code
              </Button>
            </Group>
            {chat.running ? (
              <Button
                color="red"
                size="sm"
                onClick={() => {
                  for (const c of controllers) c.abort();
                }}
                data-testid="stop"
              >
                Stop
              </Button>
            ) : (
              <Button
                size="sm"
                onClick={submit}
                disabled={!chat.input.trim() || chat.models.length === 0 || Boolean(schemaError)}
                data-testid="send"
              >
                Send
              </Button>
            )}
          </Group>
        </Paper>
      </div>
      <Paper withBorder radius="md" p="sm" className="chat-params" component="section" aria-label="Parameters">
        <Stack gap="sm">
          <MultiSelect
            label="Models (pick 2–4 to compare)"
            data={chatModels}
            value={chat.models}
            onChange={(v) => setChat({ models: v.slice(0, 4) })}
            maxValues={4}
            disabled={chat.running}
            data-testid="model-select"
          />
          <Textarea
            label="System prompt"
            autosize
            minRows={2}
            maxRows={6}
            value={chat.system}
            onChange={(e) => setChat({ system: e.currentTarget.value })}
          />
          <div>
            <Text size="sm" id="temperature-label">
              Temperature {chat.params.temperature}
            </Text>
            <Slider
              min={0}
              max={2}
              step={0.05}
              value={chat.params.temperature}
              onChange={(v) => setParams({ temperature: v })}
              thumbLabel="Temperature"
              label={null}
            />
          </div>
          <div>
            <Text size="sm">top_p {chat.params.topP}</Text>
            <Slider
              min={0}
              max={1}
              step={0.01}
              value={chat.params.topP}
              onChange={(v) => setParams({ topP: v })}
              thumbLabel="top_p"
              label={null}
            />
          </div>
          <NumberInput
            label="Max tokens"
            min={1}
            value={chat.params.maxTokens}
            onChange={(v) => setParams({ maxTokens: Number(v) || 1 })}
            data-testid="max-tokens"
          />
          <TagsInput label="Stop sequences" value={chat.params.stop} onChange={(v) => setParams({ stop: v })} />
          <Textarea
            label="JSON schema (optional)"
            description="The answer is constrained to JSON of this shape."
            autosize
            minRows={2}
            maxRows={8}
            value={chat.params.jsonSchema}
            onChange={(e) => setParams({ jsonSchema: e.currentTarget.value })}
            error={schemaError}
            data-testid="json-schema"
          />
        </Stack>
      </Paper>
      <CodeModal opened={showCode} onClose={() => setShowCode(false)} />
    </div>
  );
}
