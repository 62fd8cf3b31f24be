import {
  Badge,
  Button,
  Card,
  Group,
  Modal,
  PasswordInput,
  SegmentedControl,
  Select,
  Stack,
  Switch,
  Table,
  Text,
  TextInput,
  Title,
} from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { api, serverUrl } from "../api.js";
import type { Model, Route } from "../types.js";

interface Draft {
  id?: number;
  name: string;
  kind: "model" | "upstream" | "process";
  model: string;
  upstream: string;
  upstreamKey: string;
  upstreamModel: string;
  command: string;
  genericProxy: boolean;
  enabled: boolean;
}

const empty: Draft = {
  name: "",
  kind: "model",
  model: "",
  upstream: "",
  upstreamKey: "",
  upstreamModel: "",
  command: "",
  genericProxy: false,
  enabled: true,
};

function fromRoute(r: Route): Draft {
  const t = r.targets[0];
  return {
    id: r.id,
    name: r.name,
    kind: t?.kind ?? "model",
    model: t?.modelId ?? "",
    upstream: t?.upstreamUrl ?? "",
    upstreamKey: "",
    upstreamModel: t?.upstreamModel ?? "",
    command: t?.command ?? "",
    genericProxy: r.genericProxy,
    enabled: r.enabled,
  };
}

export function Routes() {
  const queryClient = useQueryClient();
  const routes = useQuery({ queryKey: ["routes"], queryFn: () => api<{ data: Route[] }>("/api/admin/routes") });
  const models = useQuery({ queryKey: ["library"], queryFn: () => api<{ data: Model[] }>("/api/admin/library") });
  const [draft, setDraft] = useState<Draft | null>(null);
  const save = useMutation({
    mutationFn: (d: Draft) => {
      const target = {
        kind: d.kind,
        ...(d.kind === "model" ? { model: d.model } : {}),
        ...(d.kind === "upstream" ? { upstream: d.upstream } : {}),
        ...(d.kind === "process" ? { command: d.command } : {}),
        ...(d.upstreamKey ? { upstream_key: d.upstreamKey } : {}),
        ...(d.upstreamModel ? { upstream_model: d.upstreamModel } : {}),
      };
      const body = { name: d.name, generic_proxy: d.genericProxy, enabled: d.enabled, targets: [target] };
      return d.id
        ? api(`/api/admin/routes/${d.id}`, { method: "PUT", json: body })
        : api("/api/admin/routes", { method: "POST", json: body });
    },
    onSuccess: () => {
      setDraft(null);
      void queryClient.invalidateQueries({ queryKey: ["routes"] });
    },
    onError: (e) => notifications.show({ color: "red", title: "Route not saved", message: e.message }),
  });
  const remove = useMutation({
    mutationFn: (id: number) => api(`/api/admin/routes/${id}`, { method: "DELETE" }),
    onSuccess: () => void queryClient.invalidateQueries({ queryKey: ["routes"] }),
  });
  const set = (patch: Partial<Draft>) => setDraft((d) => (d ? { ...d, ...patch } : d));

  return (
    <Stack>
      <Group justify="space-between">
        <Title order={1}>Routes</Title>
        <Button onClick={() => setDraft({ ...empty })}>New route</Button>
      </Group>
      <Text size="sm" c="dimmed">
        A route is a name clients put in <code>model</code>: an alias of a local model (e.g. <code>claude-sonnet-4</code> for
        Claude Code), an upstream server with its own key, or a local server the app runs. Generic-proxy routes are reachable at{" "}
        <code>{serverUrl()}/model/proxy/&lt;id&gt;/…</code>.
      </Text>
      <Card withBorder>
        <Table>
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Id</Table.Th>
              <Table.Th>Name</Table.Th>
              <Table.Th>Targets</Table.Th>
              <Table.Th>Flags</Table.Th>
              <Table.Th />
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {routes.data?.data.map((r) => (
              <Table.Tr key={r.id}>
                <Table.Td>{r.id}</Table.Td>
                <Table.Td>{r.name}</Table.Td>
                <Table.Td>
                  {r.targets.map((t) => (
                    <Text key={t.id} size="sm">
                      {t.kind === "model"
                        ? `model ${t.modelId}`
                        : t.kind === "upstream"
                          ? `upstream ${t.upstreamUrl}`
                          : `process ${t.command}`}
                      {t.hasUpstreamKey ? " · key set" : ""}
                      {t.fallback ? " · fallback" : ""}
                    </Text>
                  ))}
                </Table.Td>
                <Table.Td>
                  <Group gap={4}>
                    {r.auto && <Badge variant="light">model</Badge>}
                    {r.genericProxy && (
                      <Badge variant="light" color="grape">
                        generic proxy
                      </Badge>
                    )}
                    {!r.enabled && <Badge color="gray">disabled</Badge>}
                  </Group>
                </Table.Td>
                <Table.Td>
                  <Group gap={4}>
                    <Button size="compact-xs" variant="subtle" onClick={() => setDraft(fromRoute(r))}>
                      Edit
                    </Button>
                    {!r.auto && (
                      <Button size="compact-xs" variant="subtle" color="red" onClick={() => remove.mutate(r.id)}>
                        Remove
                      </Button>
                    )}
                  </Group>
                </Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      </Card>
      <Modal opened={draft !== null} onClose={() => setDraft(null)} title={draft?.id ? "Edit route" : "New route"}>
        {draft && (
          <Stack>
            <TextInput
              label="Name (what clients send as model)"
              value={draft.name}
              onChange={(e) => set({ name: e.currentTarget.value })}
            />
            <SegmentedControl
              data={["model", "upstream", "process"]}
              value={draft.kind}
              onChange={(v) => set({ kind: v as Draft["kind"] })}
            />
            {draft.kind === "model" && (
              <Select
                label="Local model"
                data={models.data?.data.map((m) => m.id) ?? []}
                value={draft.model || null}
                onChange={(v) => set({ model: v ?? "" })}
                searchable
              />
            )}
            {draft.kind === "upstream" && (
              <TextInput
                label="Upstream base URL"
                placeholder="https://api.example.com/v1"
                value={draft.upstream}
                onChange={(e) => set({ upstream: e.currentTarget.value })}
              />
            )}
            {draft.kind === "process" && (
              <TextInput
                label="Command ({port} is replaced)"
                placeholder="llama-server -m model.gguf --port {port}"
                value={draft.command}
                onChange={(e) => set({ command: e.currentTarget.value })}
              />
            )}
            {draft.kind !== "model" && (
              <>
                <PasswordInput
                  label={draft.id ? "Upstream key (leave empty to keep)" : "Upstream key"}
                  value={draft.upstreamKey}
                  onChange={(e) => set({ upstreamKey: e.currentTarget.value })}
                />
                <TextInput
                  label="Model name sent upstream (optional)"
                  value={draft.upstreamModel}
                  onChange={(e) => set({ upstreamModel: e.currentTarget.value })}
                />
              </>
            )}
            <Switch
              label="Generic proxy (/model/proxy/<id>/…)"
              checked={draft.genericProxy}
              onChange={(e) => set({ genericProxy: e.currentTarget.checked })}
            />
            <Switch label="Enabled" checked={draft.enabled} onChange={(e) => set({ enabled: e.currentTarget.checked })} />
            <Button onClick={() => save.mutate(draft)} loading={save.isPending}>
              Save
            </Button>
          </Stack>
        )}
      </Modal>
    </Stack>
  );
}
