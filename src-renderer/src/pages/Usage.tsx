import "@mantine/charts/styles.css";
import { BarChart } from "@mantine/charts";
import { Button, Card, Group, SegmentedControl, Select, Stack, Table, Text, TextInput, Title } from "@mantine/core";
import { useQuery } from "@tanstack/react-query";
import { useEffect, useMemo, useState } from "react";
import { api, download, readSse } from "../api.js";
import type { ApiKey, UsageRow, UsageSummaryRow } from "../types.js";

const day = (offsetDays: number) => new Date(Date.now() - offsetDays * 86_400_000).toISOString().slice(0, 10);

const PALETTE = ["blue.6", "teal.6", "grape.6", "orange.6", "red.6", "cyan.6", "lime.6", "pink.6"];

/** Tokens per day, stacked by model, key or operation. */
function OverTime({ from, to }: { from: string; to: string }) {
  const [by, setBy] = useState("model");
  const series = useQuery({
    queryKey: ["usage-series", by, from, to],
    queryFn: () =>
      api<{ data: Array<{ day: string; group: string; tokens: number; requests: number }> }>(
        `/api/admin/usage/series?group_by=${by}&from=${from}&to=${to}`,
      ),
    refetchInterval: 10_000,
  });
  const { rows, groups } = useMemo(() => {
    const data = series.data?.data ?? [];
    const groups = [...new Set(data.map((r) => r.group || "(none)"))];
    const byDay = new Map<string, Record<string, number | string>>();
    for (const r of data) {
      const row = byDay.get(r.day) ?? { day: r.day };
      row[r.group || "(none)"] = r.tokens;
      byDay.set(r.day, row);
    }
    return { rows: [...byDay.values()], groups };
  }, [series.data]);
  return (
    <Card withBorder>
      <Group justify="space-between">
        <Text fw={600}>Tokens per day by {by}</Text>
        <SegmentedControl size="xs" value={by} onChange={setBy} data={["model", "key", "operation"]} />
      </Group>
      <BarChart
        h={220}
        data={rows}
        dataKey="day"
        type="stacked"
        withLegend
        series={groups.map((g, i) => ({ name: g, color: PALETTE[i % PALETTE.length] as string }))}
      />
    </Card>
  );
}

export function Usage() {
  const [range, setRange] = useState("30");
  const [groupBy, setGroupBy] = useState("model");
  const from = day(Number(range) - 1);
  const to = day(0);
  const byDay = useQuery({
    queryKey: ["usage", "day", from, to],
    queryFn: () => api<{ data: UsageSummaryRow[] }>(`/api/admin/usage?group_by=day&from=${from}&to=${to}`),
    refetchInterval: 10_000,
  });
  const grouped = useQuery({
    queryKey: ["usage", groupBy, from, to],
    queryFn: () => api<{ data: UsageSummaryRow[] }>(`/api/admin/usage?group_by=${groupBy}&from=${from}&to=${to}`),
    refetchInterval: 10_000,
  });
  return (
    <Stack>
      <Group justify="space-between">
        <Title order={1}>Usage</Title>
        <SegmentedControl
          value={range}
          onChange={setRange}
          data={[
            { value: "1", label: "Today" },
            { value: "7", label: "7 days" },
            { value: "30", label: "30 days" },
          ]}
        />
      </Group>
      <Card withBorder>
        <Text fw={600}>Tokens per day</Text>
        <BarChart
          h={220}
          data={byDay.data?.data ?? []}
          dataKey="group"
          type="stacked"
          series={[
            { name: "promptTokens", label: "prompt", color: "blue.6" },
            { name: "completionTokens", label: "completion", color: "teal.6" },
          ]}
        />
        <Text fw={600} mt="md">
          Requests per day
        </Text>
        <BarChart h={160} data={byDay.data?.data ?? []} dataKey="group" series={[{ name: "requests", color: "grape.6" }]} />
      </Card>
      <OverTime from={from} to={to} />
      <Card withBorder tabIndex={0} aria-label="Usage by group">
        <Group justify="space-between">
          <SegmentedControl value={groupBy} onChange={setGroupBy} data={["model", "key", "operation", "day"]} />
          <Button
            variant="light"
            onClick={() =>
              void download(`/api/admin/usage?group_by=${groupBy}&from=${from}&to=${to}&format=csv`, `usage-${groupBy}.csv`)
            }
          >
            Export CSV
          </Button>
        </Group>
        <Table mt="sm" data-testid="usage-table">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>{groupBy}</Table.Th>
              <Table.Th>Requests</Table.Th>
              <Table.Th>Errors</Table.Th>
              <Table.Th>Prompt tokens</Table.Th>
              <Table.Th>Completion tokens</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {grouped.data?.data.map((r) => (
              <Table.Tr key={r.group}>
                <Table.Td>{r.group}</Table.Td>
                <Table.Td>{r.requests}</Table.Td>
                <Table.Td>{r.errors}</Table.Td>
                <Table.Td>{r.promptTokens}</Table.Td>
                <Table.Td>{r.completionTokens}</Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      </Card>
    </Stack>
  );
}

export function Logs() {
  const [model, setModel] = useState("");
  const [operation, setOperation] = useState<string | null>(null);
  const [status, setStatus] = useState<string | null>(null);
  const params = new URLSearchParams({ limit: "200" });
  if (model) params.set("model", model);
  if (operation) params.set("operation", operation);
  if (status) params.set("status", status);
  const rows = useQuery({
    queryKey: ["logs", params.toString()],
    queryFn: () => api<{ data: UsageRow[]; total: number }>(`/api/admin/usage/requests?${params}`),
  });
  // Keys by name, not by their numeric ids.
  const keys = useQuery({ queryKey: ["keys"], queryFn: () => api<{ data: ApiKey[] }>("/api/admin/keys") });
  const keyName = (id: number | null) => (id === null ? "–" : (keys.data?.data.find((k) => k.id === id)?.name ?? `key #${id}`));
  // New requests arrive over the core's event stream as they finish.
  const [live, setLive] = useState<UsageRow[]>([]);
  useEffect(() => {
    setLive([]);
    const controller = new AbortController();
    let counter = 0;
    void readSse("/api/admin/events", { signal: controller.signal }, (data, event) => {
      if (event !== "request") return;
      const row = (JSON.parse(data) as { data: UsageRow }).data;
      if (
        (model && row.model !== model) ||
        (operation && row.operation !== operation) ||
        (status && String(row.status) !== status)
      )
        return;
      setLive((list) => [{ ...row, id: -++counter }, ...list].slice(0, 200));
    }).catch(() => {});
    return () => controller.abort();
  }, [model, operation, status]);
  const shown = [...live, ...(rows.data?.data ?? [])].slice(0, 200);
  return (
    <Stack>
      <Group justify="space-between">
        <Title order={1}>Logs</Title>
        <Button variant="light" onClick={() => void download(`/api/admin/usage/requests?${params}&format=csv`, "requests.csv")}>
          Export CSV
        </Button>
      </Group>
      <Group>
        <TextInput placeholder="model" value={model} onChange={(e) => setModel(e.currentTarget.value)} />
        <Select
          placeholder="operation"
          clearable
          data={["chat", "completion", "embedding", "messages", "responses", "rerank", "proxy"]}
          value={operation}
          onChange={setOperation}
        />
        <Select
          placeholder="status"
          clearable
          data={["200", "400", "401", "403", "404", "429", "499", "500", "502", "503", "504"]}
          value={status}
          onChange={setStatus}
        />
        <Text size="sm" c="dimmed">
          {(rows.data?.total ?? 0) + live.length} requests, live
        </Text>
      </Group>
      <Card withBorder tabIndex={0} aria-label="Request log">
        <Table striped data-testid="log-table">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Time</Table.Th>
              <Table.Th>Operation</Table.Th>
              <Table.Th>Route</Table.Th>
              <Table.Th>Model</Table.Th>
              <Table.Th>Key</Table.Th>
              <Table.Th>Status</Table.Th>
              <Table.Th>Tokens</Table.Th>
              <Table.Th>TTFT</Table.Th>
              <Table.Th>Latency</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {shown.map((r) => (
              <Table.Tr key={r.id}>
                <Table.Td>{new Date(r.createdAt).toLocaleTimeString()}</Table.Td>
                <Table.Td>{r.operation}</Table.Td>
                <Table.Td>{r.route}</Table.Td>
                <Table.Td>{r.model}</Table.Td>
                <Table.Td>{keyName(r.apiKeyId)}</Table.Td>
                <Table.Td>{r.status}</Table.Td>
                <Table.Td>
                  {r.promptTokens} + {r.completionTokens}
                </Table.Td>
                <Table.Td>{r.ttftMs === null ? "–" : `${r.ttftMs} ms`}</Table.Td>
                <Table.Td>{r.durationMs} ms</Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      </Card>
    </Stack>
  );
}
