import { ActionIcon, Alert, Button, Group, Select, Stack, Table, Tabs, Text, Textarea, Title } from "@mantine/core";
import { useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { api } from "../api.js";
import { go } from "../nav.js";
import type { Model } from "../types.js";
import { Chat } from "./playground/Chat.js";

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
