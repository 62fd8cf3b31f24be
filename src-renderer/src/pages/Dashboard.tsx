import {
  Badge,
  Box,
  Button,
  Card,
  Code,
  CopyButton,
  Group,
  Progress,
  SimpleGrid,
  Stack,
  Table,
  Tabs,
  Text,
  Title,
} from "@mantine/core";
import { useQuery } from "@tanstack/react-query";
import type { ReactNode } from "react";
import { type EngineBuildPublic, type EnginePublic, engineBuildLabel } from "../../../src-main/core/contract/index.js";
import { api, formatBytes, serverUrl } from "../api.js";
import { EmptyState } from "../EmptyState.js";
import { Icon, type IconName } from "../icons.js";
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

/** One figure at a glance: a tinted tile (not another bordered card) with its icon. */
function StatTile({
  icon,
  color,
  label,
  value,
  children,
  testId,
}: {
  icon: IconName;
  color: "indigo" | "teal" | "grape" | "orange";
  label: string;
  value: string;
  children?: ReactNode;
  testId?: string;
}) {
  return (
    <Box className="stat-tile" data-color={color}>
      <Box className="stat-tile-icon">
        <Icon name={icon} size={20} />
      </Box>
      <Box miw={0} style={{ flex: 1 }}>
        <Text size="sm" c="dimmed" fw={500}>
          {label}
        </Text>
        <Text className="stat-value" data-testid={testId}>
          {value}
        </Text>
        {children}
      </Box>
    </Box>
  );
}

function Meter({ label, used, total }: { label: string; used: number; total: number }) {
  const pct = total > 0 ? Math.round((used / total) * 100) : 0;
  return (
    <Box mt={6}>
      <Progress value={pct} color={pct > 85 ? "red" : "grape.7"} size="sm" aria-label={`${label}: ${pct}% in use`} />
      <Text size="xs" c="dimmed" mt={4}>
        {formatBytes(used)} of {formatBytes(total)}
      </Text>
    </Box>
  );
}

/** Which engine serves, and the background build of the tuned one (`GET /api/admin/engine`'s `engineBuild`). */
function EngineBuildLine({ build }: { build: EngineBuildPublic | undefined }) {
  if (!build) return null;
  if (build.state === "building") {
    const pct = build.percent ?? 0;
    return (
      <Box mt={6} data-testid="engine-build">
        <Progress value={pct} size="sm" color="orange.7" aria-label={`Building a faster engine: ${pct}%`} />
        <Text size="xs" c="dimmed" mt={4}>
          Building a faster engine for this CPU: {build.percent === null ? "starting" : `${pct}%`}. The prebuilt one serves
          meanwhile.
        </Text>
      </Box>
    );
  }
  const text: Record<Exclude<EngineBuildPublic["state"], "building">, string> = {
    built: "Faster engine built: running models move to it once idle.",
    notNeeded: build.reason ? `No local build needed: ${build.reason}.` : "Built for this CPU.",
    off: "Background build of a faster engine: off.",
    unavailable: `No local build: ${build.reason ?? "cmake or a compiler is missing"}.`,
    failed: `The engine build failed: ${build.reason ?? "see the server log"}. The prebuilt engine serves.`,
  };
  return (
    <Text size="xs" c={build.state === "failed" ? "red.8" : "dimmed"} mt={4} data-testid="engine-build">
      {text[build.state]}
    </Text>
  );
}

function CopyValue({ label, value, testId }: { label: string; value: string; testId?: string }) {
  return (
    <Box>
      <Text size="sm" c="dimmed" fw={500}>
        {label}
      </Text>
      <Group gap="xs" wrap="nowrap" mt={2}>
        <Code data-testid={testId} style={{ overflowWrap: "anywhere", minWidth: 0 }}>
          {value}
        </Code>
        <CopyButton value={value}>
          {({ copied, copy }) => (
            <Button
              size="compact-xs"
              variant="light"
              onClick={copy}
              leftSection={<Icon name={copied ? "check" : "copy"} size={12} />}
              aria-label={`Copy the ${label}`}
            >
              {copied ? "Copied" : "Copy"}
            </Button>
          )}
        </CopyButton>
      </Group>
    </Box>
  );
}

export function Dashboard() {
  const url = serverUrl();
  const system = useQuery({ queryKey: ["system"], queryFn: () => api<System>("/api/admin/system"), refetchInterval: 5000 });
  const engine = useQuery({
    queryKey: ["engine"],
    queryFn: () => api<EnginePublic>("/api/admin/engine"),
    refetchInterval: 2000,
  });
  const library = useQuery({ queryKey: ["library"], queryFn: () => api<{ data: Model[] }>("/api/admin/library") });
  const recent = useQuery({
    queryKey: ["recent-requests"],
    queryFn: () => api<{ data: UsageRow[] }>(`/api/admin/usage/requests?limit=500&from=${Date.now() - 60_000}`),
    refetchInterval: 2000,
  });
  const latest = useQuery({
    queryKey: ["latest-requests"],
    queryFn: () => api<{ data: UsageRow[] }>("/api/admin/usage/requests?limit=6"),
    refetchInterval: 5000,
  });
  const lastMinute = recent.data?.data ?? [];
  const tokens = lastMinute.reduce((n, r) => n + r.completionTokens, 0);
  const chatModel = library.data?.data.find((m) => m.capabilities.includes("chat"))?.id ?? "my-model";
  const code = snippets(url, chatModel);
  const sys = system.data;

  const ramUsed = sys ? sys.ram.total - sys.ram.free : 0;
  const loaded = engine.data?.models ?? [];

  return (
    <Stack>
      <Title order={1}>Dashboard</Title>
      {library.data && library.data.data.length === 0 && (
        <Card withBorder>
          <EmptyState
            icon="models"
            title="No models yet"
            actions={<Button onClick={() => go("models")}>Get a model</Button>}
            testId="dashboard-no-models"
          >
            Download a small recommended model (each says whether it fits this machine), or import a .gguf file you have.
          </EmptyState>
        </Card>
      )}
      <SimpleGrid cols={{ base: 2, lg: 4 }} spacing={{ base: "xs", sm: "md" }}>
        <StatTile
          icon="bolt"
          color="indigo"
          label="Requests · last minute"
          value={`${(lastMinute.length / 60).toFixed(2)} req/s`}
          testId="rate-requests"
        >
          <Text size="xs" c="dimmed">
            {lastMinute.length} in the last 60 s
          </Text>
        </StatTile>
        <StatTile icon="playground" color="teal" label="Generated · last minute" value={`${(tokens / 60).toFixed(1)} tok/s`}>
          <Text size="xs" c="dimmed">
            {tokens} tokens in the last 60 s
          </Text>
        </StatTile>
        <StatTile
          icon="memory"
          color="grape"
          label="Memory in use"
          value={sys ? `${Math.round((ramUsed / Math.max(1, sys.ram.total)) * 100)}% RAM` : "…"}
        >
          {sys && <Meter label="RAM" used={ramUsed} total={sys.ram.total} />}
          {sys?.devices.map((d) => (
            <Meter key={d.name} label={`VRAM · ${d.name}`} used={d.vramTotal - d.vramFree} total={d.vramTotal} />
          ))}
        </StatTile>
        <StatTile icon="cpu" color="orange" label="Engine" value={sys ? sys.backend.toUpperCase() : "…"}>
          <Text size="xs" c="dimmed">
            {sys ? `${engineBuildLabel(sys)}${sys.cpuVariant ? ` (${sys.cpuVariant})` : ""} · ${sys.cpuMathCores} cores` : ""}
          </Text>
          <EngineBuildLine build={engine.data?.engineBuild} />
          {sys?.devices.map((d) => (
            <Text key={d.name} size="xs" c="dimmed">
              {d.name}
            </Text>
          ))}
        </StatTile>
      </SimpleGrid>
      <Box className="dashboard-grid">
        <Stack gap="md">
          <Card withBorder data-testid="loaded-models">
            <Box className="section-head">
              <Title order={2}>Loaded models</Title>
              {loaded.length > 0 && (
                <Button size="xs" variant="default" onClick={() => go("models")} leftSection={<Icon name="models" size={14} />}>
                  Manage models
                </Button>
              )}
            </Box>
            {loaded.length === 0 ? (
              <EmptyState
                icon="models"
                title="No model is loaded"
                actions={
                  <>
                    <Button size="xs" variant="light" onClick={() => go("models")}>
                      Load one on the Models page
                    </Button>
                    <Button size="xs" variant="default" onClick={() => go("playground")}>
                      Chat in the Playground
                    </Button>
                  </>
                }
              >
                A model loads on the first request that names it, or when you press Load; loaded models and their queues show
                here.
              </EmptyState>
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
                  {loaded.map((m) => (
                    <Table.Tr key={m.id}>
                      <Table.Td fw={600}>{m.id}</Table.Td>
                      <Table.Td>
                        <Badge
                          variant="light"
                          color={
                            m.state === "ready" ? "green" : ["error", "crashed", "failed"].includes(m.state) ? "red" : "gray"
                          }
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
            <Box className="section-head">
              <Title order={2}>Latest requests</Title>
              {(latest.data?.data.length ?? 0) > 0 && (
                <Button size="xs" variant="default" onClick={() => go("logs")} leftSection={<Icon name="logs" size={14} />}>
                  All in Logs
                </Button>
              )}
            </Box>
            {latest.data && latest.data.data.length === 0 ? (
              <EmptyState icon="logs" title="No requests yet" testId="dashboard-no-requests">
                Point an app at the base URL (under Connect an app) with an API key, or chat in the Playground; each request shows
                here and in Logs.
              </EmptyState>
            ) : (
              <Table data-testid="latest-requests">
                <Table.Thead>
                  <Table.Tr>
                    <Table.Th>Time</Table.Th>
                    <Table.Th>Operation</Table.Th>
                    <Table.Th>Model</Table.Th>
                    <Table.Th>Status</Table.Th>
                    <Table.Th>Latency</Table.Th>
                  </Table.Tr>
                </Table.Thead>
                <Table.Tbody>
                  {latest.data?.data.map((r) => (
                    <Table.Tr key={r.id}>
                      <Table.Td style={{ whiteSpace: "nowrap" }}>{new Date(r.createdAt).toLocaleTimeString()}</Table.Td>
                      <Table.Td>{r.operation}</Table.Td>
                      <Table.Td style={{ overflowWrap: "anywhere" }}>{r.model ?? "–"}</Table.Td>
                      <Table.Td>
                        <Badge variant="light" color={r.status >= 500 ? "red" : r.status >= 400 ? "orange" : "green"}>
                          {r.status}
                        </Badge>
                      </Table.Td>
                      <Table.Td style={{ whiteSpace: "nowrap" }}>{r.durationMs} ms</Table.Td>
                    </Table.Tr>
                  ))}
                </Table.Tbody>
              </Table>
            )}
          </Card>
        </Stack>
        <Card withBorder>
          <Box className="section-head">
            <Title order={2}>Connect an app</Title>
            <Button size="xs" variant="default" onClick={() => go("connect")} leftSection={<Icon name="connect" size={14} />}>
              Set up an app
            </Button>
          </Box>
          <Stack gap="sm" mb="md">
            <CopyValue label="OpenAI base URL" value={`${url}/v1`} testId="base-url" />
            <CopyValue label="Anthropic base URL" value={url} />
          </Stack>
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
                <Code block tabIndex={0} className="snippet">
                  {text}
                </Code>
                <CopyButton value={text}>
                  {({ copied, copy }) => (
                    <Button
                      mt="xs"
                      size="xs"
                      variant="light"
                      onClick={copy}
                      leftSection={<Icon name={copied ? "check" : "copy"} size={14} />}
                    >
                      {copied ? "Copied" : "Copy"}
                    </Button>
                  )}
                </CopyButton>
              </Tabs.Panel>
            ))}
          </Tabs>
        </Card>
      </Box>
    </Stack>
  );
}
