import "@mantine/charts/styles.css";
import { BarChart } from "@mantine/charts";
import {
  Alert,
  Autocomplete,
  Badge,
  Box,
  Button,
  Card,
  Code,
  Drawer,
  Group,
  SegmentedControl,
  Select,
  SimpleGrid,
  Stack,
  Table,
  Text,
  TextInput,
  Title,
} from "@mantine/core";
import { useDebouncedValue } from "@mantine/hooks";
import { useQuery } from "@tanstack/react-query";
import { type ReactNode, useEffect, useMemo, useState } from "react";
import type { UsageRequestListPublic, UsageSeriesPublic } from "../../../src-main/core/contract/index.js";
import { api, download, readSse } from "../api.js";
import { EmptyState } from "../EmptyState.js";
import { go } from "../nav.js";
import type { ApiKey, UsageRow, UsageSummaryRow } from "../types.js";

const day = (offsetDays: number) => new Date(Date.now() - offsetDays * 86_400_000).toISOString().slice(0, 10);

const PALETTE = ["blue.6", "teal.6", "grape.6", "orange.6", "red.6", "cyan.6", "lime.6", "pink.6"];

/** Tokens per day, stacked by model, key or operation. */
function OverTime({ from, to, keyLabel }: { from: string; to: string; keyLabel: (group: string) => string }) {
  const [by, setBy] = useState("model");
  const label = (group: string) => (by === "key" ? keyLabel(group) : group);
  const series = useQuery({
    queryKey: ["usage-series", by, from, to],
    queryFn: () => api<UsageSeriesPublic>(`/api/admin/usage/series?groupBy=${by}&from=${from}&to=${to}`),
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
      <Box className="section-head">
        <Title order={2}>Tokens per day by {by}</Title>
        <SegmentedControl size="xs" value={by} onChange={setBy} data={["model", "key", "operation"]} />
      </Box>
      <BarChart
        h={220}
        data={rows}
        dataKey="day"
        type="stacked"
        withLegend
        maxBarWidth={56}
        legendProps={{ verticalAlign: "bottom" }}
        series={groups.map((g, i) => ({ name: g, label: label(g), color: PALETTE[i % PALETTE.length] as string }))}
      />
    </Card>
  );
}

/** Keys by name: usage rolls up by key id (0 = no key, e.g. a refused request). */
function useKeyNames() {
  const keys = useQuery({ queryKey: ["keys"], queryFn: () => api<{ data: ApiKey[] }>("/api/admin/keys") });
  return (id: number | string | null): string => {
    const n = id === null ? 0 : Number(id);
    if (!n) return "no key";
    return keys.data?.data.find((k) => k.id === n)?.name ?? `key #${n}`;
  };
}

export function Usage() {
  const keyLabel = useKeyNames();
  const [range, setRange] = useState("30");
  const [groupBy, setGroupBy] = useState("model");
  const from = day(Number(range) - 1);
  const to = day(0);
  const byDay = useQuery({
    queryKey: ["usage", "day", from, to],
    queryFn: () => api<{ data: UsageSummaryRow[] }>(`/api/admin/usage?groupBy=day&from=${from}&to=${to}`),
    refetchInterval: 10_000,
  });
  const grouped = useQuery({
    queryKey: ["usage", groupBy, from, to],
    queryFn: () => api<{ data: UsageSummaryRow[] }>(`/api/admin/usage?groupBy=${groupBy}&from=${from}&to=${to}`),
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
      {byDay.data && byDay.data.data.length === 0 ? (
        <Card withBorder>
          <EmptyState
            icon="usage"
            title={range === "1" ? "No requests today" : `No requests in the last ${range} days`}
            testId="usage-empty"
            actions={
              <>
                <Button size="xs" variant="light" onClick={() => go("playground")}>
                  Chat in the Playground
                </Button>
                <Button size="xs" variant="default" onClick={() => go("connect")}>
                  Connect an app
                </Button>
              </>
            }
          >
            Tokens and requests per day, by model, key and operation, show here once the API has been called. A longer range may
            have some.
          </EmptyState>
        </Card>
      ) : (
        <>
          <SimpleGrid cols={{ base: 1, lg: 2 }} spacing="md">
            <Card withBorder>
              <Title order={2}>Tokens per day</Title>
              <BarChart
                h={220}
                mt="sm"
                data={byDay.data?.data ?? []}
                dataKey="group"
                type="stacked"
                withLegend
                maxBarWidth={56}
                legendProps={{ verticalAlign: "bottom" }}
                data-testid="chart-tokens"
                series={[
                  { name: "promptTokens", label: "prompt", color: "blue.6" },
                  { name: "completionTokens", label: "completion", color: "teal.6" },
                ]}
              />
            </Card>
            <Card withBorder>
              <Title order={2}>Requests per day</Title>
              <BarChart
                h={220}
                mt="sm"
                data={byDay.data?.data ?? []}
                dataKey="group"
                withLegend
                maxBarWidth={56}
                legendProps={{ verticalAlign: "bottom" }}
                series={[{ name: "requests", label: "requests", color: "grape.6" }]}
              />
            </Card>
          </SimpleGrid>
          <OverTime from={from} to={to} keyLabel={keyLabel} />
        </>
      )}
      <Card withBorder tabIndex={0} aria-label="Usage by group">
        <Group justify="space-between">
          <SegmentedControl
            value={groupBy}
            onChange={setGroupBy}
            data={["model", "key", "operation", "day"]}
            data-testid="usage-group"
          />
          <Button
            variant="light"
            onClick={() =>
              void download(`/api/admin/usage?groupBy=${groupBy}&from=${from}&to=${to}&format=csv`, `usage-${groupBy}.csv`)
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
            {grouped.data?.data.length === 0 && (
              <Table.Tr>
                <Table.Td colSpan={5}>
                  <Text size="sm" c="dimmed" ta="center" py="sm">
                    Nothing to total in this range yet.
                  </Text>
                </Table.Td>
              </Table.Tr>
            )}
            {grouped.data?.data.map((r) => (
              <Table.Tr key={r.group}>
                <Table.Td>{groupBy === "key" ? keyLabel(r.group) : r.group || `(no ${groupBy})`}</Table.Td>
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

const OPERATIONS = ["chat", "completion", "embedding", "messages", "count_tokens", "responses", "rerank", "models", "proxy"];

/** One request in full: what the table row cannot hold, the error text first. */
function RequestDetail({
  row,
  keyName,
  onClose,
}: {
  row: UsageRow | null;
  keyName: (id: number | null) => string;
  onClose: () => void;
}) {
  const fields: Array<[string, ReactNode]> = row
    ? [
        ["Time", new Date(row.createdAt).toLocaleString()],
        ["Request id", <Code key="id">{row.requestId}</Code>],
        ["Operation", row.operation],
        ["Route asked for", row.route ?? "–"],
        ["Model", row.model ?? "–"],
        ["Key", keyName(row.apiKeyId)],
        ["Status", row.status],
        ["Prompt tokens", `${row.promptTokens}${row.cachedTokens ? ` (${row.cachedTokens} from cache)` : ""}`],
        ["Completion tokens", row.completionTokens],
        ["Time to first token", row.ttftMs === null ? "–" : `${row.ttftMs} ms`],
        ["Duration", `${row.durationMs} ms`],
      ]
    : [];
  return (
    <Drawer opened={row !== null} onClose={onClose} position="right" title="Request" size="md">
      {row?.error && (
        <Alert color="red" title={`Failed with ${row.status}`} mb="md" data-testid="log-detail-error">
          {row.error}
        </Alert>
      )}
      <Table data-testid="log-detail">
        <Table.Tbody>
          {fields.map(([k, v]) => (
            <Table.Tr key={k}>
              <Table.Th w={170}>{k}</Table.Th>
              <Table.Td style={{ overflowWrap: "anywhere" }}>{v}</Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </Drawer>
  );
}

const contains = (value: string | null | undefined, part: string) =>
  !part || (value ?? "").toLowerCase().includes(part.toLowerCase());

export function Logs() {
  const [model, setModel] = useState("");
  const [key, setKey] = useState("");
  const [operation, setOperation] = useState("");
  const [status, setStatus] = useState<string | null>(null);
  const [error, setError] = useState("");
  const [open, setOpen] = useState<UsageRow | null>(null);
  // Typing settles before a query goes out.
  const [settled] = useDebouncedValue(JSON.stringify({ model, key, operation, error }), 250);
  const debounced = JSON.parse(settled) as { model: string; key: string; operation: string; error: string };
  const params = new URLSearchParams({ limit: "200" });
  if (debounced.model) params.set("model", debounced.model);
  if (debounced.key) params.set("key", debounced.key);
  if (debounced.operation) params.set("operation", debounced.operation);
  if (debounced.error) params.set("error", debounced.error);
  if (status) params.set("status", status);
  const rows = useQuery({
    queryKey: ["logs", params.toString()],
    queryFn: () => api<UsageRequestListPublic>(`/api/admin/usage/requests?${params}`),
  });
  // Keys by name, not by their numeric ids.
  const keys = useQuery({ queryKey: ["keys"], queryFn: () => api<{ data: ApiKey[] }>("/api/admin/keys") });
  const keyName = (id: number | null) =>
    id === null ? "no key" : (keys.data?.data.find((k) => k.id === id)?.name ?? `key #${id}`);
  // New requests arrive over the core's event stream as they finish (filtered here the way the server filters).
  const [live, setLive] = useState<UsageRow[]>([]);
  const filterKey = params.toString();
  useEffect(() => {
    setLive([]);
    const controller = new AbortController();
    let counter = 0;
    const f = new URLSearchParams(filterKey);
    void readSse("/api/admin/events", { signal: controller.signal }, (data, event) => {
      if (event !== "request") return;
      const row = (JSON.parse(data) as { data: UsageRow }).data;
      const name = row.apiKeyId === null ? "" : (keys.data?.data.find((k) => k.id === row.apiKeyId)?.name ?? "");
      if (
        !(contains(row.model, f.get("model") ?? "") || contains(row.route, f.get("model") ?? "")) ||
        !contains(name, f.get("key") ?? "") ||
        !contains(row.operation, f.get("operation") ?? "") ||
        !contains(row.error, f.get("error") ?? "") ||
        (f.get("status") && String(row.status) !== f.get("status"))
      )
        return;
      setLive((list) => [{ ...row, id: -++counter }, ...list].slice(0, 200));
    }).catch(() => {});
    return () => controller.abort();
  }, [filterKey, keys.data]);
  const shown = [...live, ...(rows.data?.data ?? [])].slice(0, 200);
  return (
    <Stack>
      <Group justify="space-between">
        <Title order={1}>Logs</Title>
        <Button variant="light" onClick={() => void download(`/api/admin/usage/requests?${params}&format=csv`, "requests.csv")}>
          Export CSV
        </Button>
      </Group>
      <Group align="flex-end" wrap="wrap">
        <TextInput
          label="Model or route contains"
          value={model}
          onChange={(e) => setModel(e.currentTarget.value)}
          data-testid="filter-model"
          className="log-filter"
        />
        <TextInput
          label="Key name contains"
          value={key}
          onChange={(e) => setKey(e.currentTarget.value)}
          data-testid="filter-key"
          className="log-filter"
        />
        <Autocomplete
          label="Operation contains"
          data={OPERATIONS}
          value={operation}
          onChange={setOperation}
          data-testid="filter-operation"
          className="log-filter"
        />
        <Select
          label="Status"
          clearable
          data={["200", "400", "401", "403", "404", "413", "429", "499", "500", "502", "503", "504"]}
          value={status}
          onChange={setStatus}
          w={110}
          data-testid="filter-status"
        />
        <TextInput
          label="Error contains"
          value={error}
          onChange={(e) => setError(e.currentTarget.value)}
          data-testid="filter-error"
          className="log-filter"
        />
        <Text size="sm" c="dimmed" pb={6}>
          {(rows.data?.total ?? 0) + live.length} requests, live
        </Text>
      </Group>
      <Card withBorder p={0} tabIndex={0} aria-label="Request log">
        <Table striped highlightOnHover miw={860} data-testid="log-table">
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
            {shown.length === 0 && (
              <Table.Tr>
                <Table.Td colSpan={9}>
                  <Text size="sm" c="dimmed" ta="center" py="md">
                    {rows.isPending
                      ? "Loading…"
                      : params.size > 1
                        ? "No request matches these filters."
                        : "No requests yet. Call the API (the Dashboard shows how) or chat in the Playground."}
                  </Text>
                </Table.Td>
              </Table.Tr>
            )}
            {shown.map((r) => (
              <Table.Tr
                key={r.id}
                onClick={() => setOpen(r)}
                onKeyDown={(e) => (e.key === "Enter" || e.key === " ") && setOpen(r)}
                tabIndex={0}
                style={{ cursor: "pointer" }}
                aria-label={`${r.operation} ${r.status}, details`}
                data-testid="log-row"
              >
                <Table.Td style={{ whiteSpace: "nowrap" }}>{new Date(r.createdAt).toLocaleTimeString()}</Table.Td>
                <Table.Td>{r.operation}</Table.Td>
                <Table.Td>{r.route ?? "–"}</Table.Td>
                <Table.Td>{r.model ?? "–"}</Table.Td>
                <Table.Td>{keyName(r.apiKeyId)}</Table.Td>
                <Table.Td>
                  <Badge
                    variant="light"
                    color={r.status >= 500 ? "red" : r.status >= 400 ? "orange" : "green"}
                    className="badge-full"
                  >
                    {r.status}
                  </Badge>
                </Table.Td>
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
      <RequestDetail row={open} keyName={keyName} onClose={() => setOpen(null)} />
    </Stack>
  );
}
