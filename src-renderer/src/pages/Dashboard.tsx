import {
  Badge,
  Button,
  Card,
  Code,
  CopyButton,
  Group,
  RingProgress,
  SimpleGrid,
  Stack,
  Table,
  Tabs,
  Text,
  Title,
} from "@mantine/core";
import { useQuery } from "@tanstack/react-query";
import { api, formatBytes, serverUrl } from "../api.js";
import { go } from "../nav.js";
import type { Model, System, UsageRow } from "../types.js";

function snippets(url: string, model: string) {
  return {
    curl: `curl ${url}/v1/chat/completions \\\n  -H "Authorization: Bearer $MAAS_KEY" -H "Content-Type: application/json" \\\n  -d '{"model":"${model}","messages":[{"role":"user","content":"Hello"}]}'`,
    python: `import os\n\nfrom openai import OpenAI\n\nclient = OpenAI(base_url="${url}/v1", api_key=os.environ["MAAS_KEY"])\nprint(client.chat.completions.create(model="${model}", messages=[{"role": "user", "content": "Hello"}]).choices[0].message.content)`,
    javascript: `import OpenAI from "openai";\nconst client = new OpenAI({ baseURL: "${url}/v1", apiKey: process.env.MAAS_KEY });\nconst answer = await client.chat.completions.create({ model: "${model}", messages: [{ role: "user", content: "Hello" }] });`,
    anthropic: `import Anthropic from "@anthropic-ai/sdk";\nconst client = new Anthropic({ baseURL: "${url}", apiKey: process.env.MAAS_KEY });\nconst msg = await client.messages.create({ model: "${model}", max_tokens: 256, messages: [{ role: "user", content: "Hello" }] });`,
    "claude code": `export ANTHROPIC_BASE_URL=${url}\nexport ANTHROPIC_AUTH_TOKEN=$MAAS_KEY\nexport ANTHROPIC_MODEL=${model}\nexport ANTHROPIC_SMALL_FAST_MODEL=${model}\nclaude`,
  };
}

function Gauge({ label, used, total }: { label: string; used: number; total: number }) {
  const pct = total > 0 ? Math.round((used / total) * 100) : 0;
  return (
    <Stack align="center" gap={4}>
      <RingProgress
        size={110}
        thickness={10}
        sections={[{ value: pct, color: pct > 85 ? "red" : "blue" }]}
        label={<Text ta="center">{pct}%</Text>}
      />
      <Text size="sm">{label}</Text>
      <Text size="xs" c="dimmed">
        {formatBytes(used)} of {formatBytes(total)}
      </Text>
    </Stack>
  );
}

export function Dashboard() {
  const url = serverUrl();
  const system = useQuery({ queryKey: ["system"], queryFn: () => api<System>("/api/admin/system"), refetchInterval: 5000 });
  const engine = useQuery({
    queryKey: ["engine"],
    queryFn: () =>
      api<{
        models: Array<{ id: string; state: string; activeSequences: number; queued: number; estimatedRam?: number | null }>;
      }>("/api/admin/engine"),
    refetchInterval: 2000,
  });
  const library = useQuery({ queryKey: ["library"], queryFn: () => api<{ data: Model[] }>("/api/admin/library") });
  const recent = useQuery({
    queryKey: ["recent-requests"],
    queryFn: () => api<{ data: UsageRow[] }>(`/api/admin/usage/requests?limit=500&from=${Date.now() - 60_000}`),
    refetchInterval: 2000,
  });
  const lastMinute = recent.data?.data ?? [];
  const tokens = lastMinute.reduce((n, r) => n + r.completionTokens, 0);
  const chatModel = library.data?.data.find((m) => m.capabilities.includes("chat"))?.id ?? "my-model";
  const code = snippets(url, chatModel);
  const sys = system.data;

  return (
    <Stack>
      <Title order={1}>Dashboard</Title>
      {library.data && library.data.data.length === 0 && (
        <Card withBorder>
          <Group justify="space-between">
            <Text>No models yet. Download a small recommended model to get started.</Text>
            <Button onClick={() => go("models")}>Get a model</Button>
          </Group>
        </Card>
      )}
      <SimpleGrid cols={{ base: 1, md: 3 }}>
        <Card withBorder>
          <Text size="sm" c="dimmed">
            API base URL
          </Text>
          <Group gap="xs">
            <Code data-testid="base-url">{url}/v1</Code>
            <CopyButton value={`${url}/v1`}>
              {({ copied, copy }) => (
                <Button size="compact-xs" variant="light" onClick={copy}>
                  {copied ? "Copied" : "Copy"}
                </Button>
              )}
            </CopyButton>
          </Group>
          <Text size="sm" c="dimmed" mt="sm">
            Anthropic base URL
          </Text>
          <Group gap="xs">
            <Code>{url}</Code>
            <CopyButton value={url}>
              {({ copied, copy }) => (
                <Button size="compact-xs" variant="light" onClick={copy}>
                  {copied ? "Copied" : "Copy"}
                </Button>
              )}
            </CopyButton>
          </Group>
        </Card>
        <Card withBorder>
          <Text size="sm" c="dimmed">
            Last minute
          </Text>
          <Title order={3} data-testid="rate-requests">
            {(lastMinute.length / 60).toFixed(2)} req/s
          </Title>
          <Title order={3}>{(tokens / 60).toFixed(1)} tok/s</Title>
        </Card>
        <Card withBorder>
          <Text size="sm" c="dimmed">
            Engine
          </Text>
          <Text>
            {sys
              ? `${sys.backend.toUpperCase()} · ${sys.build === "localBuild" ? "built on this machine" : "prebuilt"} · ${sys.cpuMathCores} cores`
              : "…"}
          </Text>
          {sys?.devices.map((d) => (
            <Text key={d.name} size="sm">
              {d.name}
            </Text>
          ))}
        </Card>
      </SimpleGrid>
      <Card withBorder>
        <Group justify="space-around">
          {sys && <Gauge label="RAM" used={sys.ram.total - sys.ram.free} total={sys.ram.total} />}
          {sys?.devices.map((d) => (
            <Gauge key={d.name} label={`VRAM · ${d.name}`} used={d.vramTotal - d.vramFree} total={d.vramTotal} />
          ))}
        </Group>
      </Card>
      <Card withBorder>
        <Title order={4}>Loaded models</Title>
        {(engine.data?.models.length ?? 0) === 0 ? (
          <Text c="dimmed" size="sm">
            None loaded. Models load on the first request, or from the Models page.
          </Text>
        ) : (
          <Table>
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Model</Table.Th>
                <Table.Th>State</Table.Th>
                <Table.Th>Active</Table.Th>
                <Table.Th>Queued</Table.Th>
                <Table.Th>Memory (est.)</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {engine.data?.models.map((m) => (
                <Table.Tr key={m.id}>
                  <Table.Td>{m.id}</Table.Td>
                  <Table.Td>
                    <Badge
                      variant="light"
                      color={m.state === "ready" ? "green" : ["error", "crashed", "failed"].includes(m.state) ? "red" : "gray"}
                    >
                      {m.state}
                    </Badge>
                  </Table.Td>
                  <Table.Td>{m.activeSequences}</Table.Td>
                  <Table.Td>{m.queued}</Table.Td>
                  <Table.Td>{formatBytes(m.estimatedRam)}</Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        )}
      </Card>
      <Card withBorder>
        <Title order={4}>Connect an app</Title>
        <Tabs defaultValue="curl">
          <Tabs.List>
            {Object.keys(code).map((k) => (
              <Tabs.Tab key={k} value={k}>
                {k}
              </Tabs.Tab>
            ))}
          </Tabs.List>
          {Object.entries(code).map(([k, text]) => (
            <Tabs.Panel key={k} value={k} pt="sm">
              <Code block tabIndex={0}>
                {text}
              </Code>
              <CopyButton value={text}>
                {({ copied, copy }) => (
                  <Button mt="xs" size="xs" variant="light" onClick={copy}>
                    {copied ? "Copied" : "Copy"}
                  </Button>
                )}
              </CopyButton>
            </Tabs.Panel>
          ))}
        </Tabs>
      </Card>
    </Stack>
  );
}
