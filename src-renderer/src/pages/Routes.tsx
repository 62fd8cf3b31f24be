import {
  Badge,
  Button,
  Card,
  Group,
  Modal,
  NumberInput,
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
import type { RouteCreate, RouteTargetCreate } from "../../../src-main/core/contract/index.js";
import { ApiFailure, api, serverUrl } from "../api.js";
import type { Model, Route, RouteTarget } from "../types.js";

type Kind = RouteTargetCreate["kind"];

/** One target in the form; `id` and `hasUpstreamKey` come from the stored route when editing. */
interface TargetDraft extends Omit<RouteTarget, "id"> {
  id?: number;
  /** Typed here only: left empty, a stored key stays. */
  upstreamKey: string;
}

interface Draft {
  id?: number;
  name: string;
  genericProxy: boolean;
  enabled: boolean;
  targets: TargetDraft[];
}

const emptyTarget = (): TargetDraft => ({
  kind: "model",
  modelId: null,
  upstreamUrl: null,
  upstreamKey: "",
  upstreamModel: null,
  command: null,
  weight: 1,
  fallback: false,
  hasUpstreamKey: false,
});

const empty = (): Draft => ({ name: "", genericProxy: false, enabled: true, targets: [emptyTarget()] });

/** A stored route in the form: as GET gave it (the body `toBody` makes from it is a valid update), with empty key fields. */
const fromRoute = (r: Route): Draft => ({ ...r, targets: r.targets.map((t) => ({ ...t, upstreamKey: "" })) });

/** The create/update body: each target with the fields of its kind (an empty key field keeps the stored key). */
function toBody(d: Draft): RouteCreate {
  return {
    name: d.name,
    genericProxy: d.genericProxy,
    enabled: d.enabled,
    targets: d.targets.map((t) => ({
      ...(t.id !== undefined ? { id: t.id } : {}),
      kind: t.kind,
      ...(t.kind === "model" ? { modelId: t.modelId } : {}),
      ...(t.kind === "upstream" ? { upstreamUrl: t.upstreamUrl } : {}),
      ...(t.kind === "process" ? { command: t.command } : {}),
      ...(t.kind !== "model" && t.upstreamKey ? { upstreamKey: t.upstreamKey } : {}),
      ...(t.kind !== "model" && t.upstreamModel ? { upstreamModel: t.upstreamModel } : {}),
      weight: t.weight,
      fallback: t.fallback,
    })),
  };
}

/** A save error in the form's words: "Target 2: …" for a target's field, without the raw parameter path. */
function problemText(error: Error): string {
  const param = error instanceof ApiFailure ? error.param : null;
  const message = error.message.replace(/^Invalid '[^']*': /, "");
  const target = param ? /^targets\[(\d+)\]/.exec(param) : null;
  return target ? `Target ${Number(target[1]) + 1}: ${message}` : message;
}

function TargetFields({
  target,
  index,
  count,
  models,
  editing,
  onChange,
  onRemove,
}: {
  target: TargetDraft;
  index: number;
  count: number;
  models: string[];
  editing: boolean;
  onChange: (patch: Partial<TargetDraft>) => void;
  onRemove: () => void;
}) {
  const n = index + 1;
  return (
    <Card withBorder padding="sm" data-testid={`route-target-${n}`}>
      <Stack gap="xs">
        <Group justify="space-between">
          <Text fw={500} size="sm" id={`route-target-${n}-title`}>
            Target {n}
          </Text>
          {count > 1 && (
            <Button size="compact-xs" variant="subtle" color="red" onClick={onRemove} aria-label={`Remove target ${n}`}>
              Remove
            </Button>
          )}
        </Group>
        <SegmentedControl
          aria-labelledby={`route-target-${n}-title`}
          data={[
            { value: "model", label: "Model" },
            { value: "upstream", label: "Upstream" },
            { value: "process", label: "Process" },
          ]}
          value={target.kind}
          onChange={(v) => onChange({ kind: v as Kind })}
        />
        {target.kind === "model" && (
          <Select
            label={`Target ${n}: local model`}
            data={models}
            value={target.modelId || null}
            onChange={(v) => onChange({ modelId: v })}
            searchable
          />
        )}
        {target.kind === "upstream" && (
          <TextInput
            label={`Target ${n}: upstream base URL`}
            placeholder="https://api.example.com/v1"
            value={target.upstreamUrl ?? ""}
            onChange={(e) => onChange({ upstreamUrl: e.currentTarget.value })}
          />
        )}
        {target.kind === "process" && (
          <TextInput
            label={`Target ${n}: command ({port} is replaced)`}
            placeholder="llama-server -m model.gguf --port {port}"
            value={target.command ?? ""}
            onChange={(e) => onChange({ command: e.currentTarget.value })}
          />
        )}
        {target.kind !== "model" && (
          <>
            <PasswordInput
              visibilityToggleButtonProps={{ "aria-label": `Show target ${n}'s upstream key` }}
              label={
                editing && target.hasUpstreamKey
                  ? `Target ${n}: upstream key (leave empty to keep)`
                  : `Target ${n}: upstream key (optional)`
              }
              value={target.upstreamKey}
              onChange={(e) => onChange({ upstreamKey: e.currentTarget.value })}
            />
            <TextInput
              label={`Target ${n}: model name sent upstream (optional)`}
              value={target.upstreamModel ?? ""}
              onChange={(e) => onChange({ upstreamModel: e.currentTarget.value })}
            />
          </>
        )}
        <Group grow align="flex-end">
          <NumberInput
            label={`Target ${n}: weight`}
            description="Share of requests, 1 to 1000"
            min={1}
            max={1000}
            value={target.weight}
            onChange={(v) => onChange({ weight: typeof v === "number" ? v : Number(v) || 1 })}
          />
          <Switch
            label={`Target ${n}: fallback only`}
            checked={target.fallback}
            onChange={(e) => onChange({ fallback: e.currentTarget.checked })}
          />
        </Group>
      </Stack>
    </Card>
  );
}

export function Routes() {
  const queryClient = useQueryClient();
  const routes = useQuery({ queryKey: ["routes"], queryFn: () => api<{ data: Route[] }>("/api/admin/routes") });
  const models = useQuery({ queryKey: ["library"], queryFn: () => api<{ data: Model[] }>("/api/admin/library") });
  const [draft, setDraft] = useState<Draft | null>(null);
  const save = useMutation({
    mutationFn: (d: Draft) =>
      d.id
        ? api<Route>(`/api/admin/routes/${d.id}`, { method: "PUT", json: toBody(d) })
        : api<Route>("/api/admin/routes", { method: "POST", json: toBody(d) }),
    onSuccess: () => {
      setDraft(null);
      void queryClient.invalidateQueries({ queryKey: ["routes"] });
    },
    onError: (e) =>
      notifications.show({
        color: "red",
        title: "Route not saved",
        message: problemText(e),
        closeButtonProps: { "aria-label": "Close" },
      }),
  });
  const remove = useMutation({
    mutationFn: (id: number) => api(`/api/admin/routes/${id}`, { method: "DELETE" }),
    onSuccess: () => void queryClient.invalidateQueries({ queryKey: ["routes"] }),
  });
  const set = (patch: Partial<Draft>) => setDraft((d) => (d ? { ...d, ...patch } : d));
  const setTarget = (index: number, patch: Partial<TargetDraft>) =>
    setDraft((d) => (d ? { ...d, targets: d.targets.map((t, i) => (i === index ? { ...t, ...patch } : t)) } : d));
  const modelIds = models.data?.data.map((m) => m.id) ?? [];

  return (
    <Stack>
      <Group justify="space-between">
        <Title order={1}>Routes</Title>
        <Button onClick={() => setDraft(empty())}>New route</Button>
      </Group>
      <Text size="sm" c="dimmed">
        A route is a name clients put in <code>model</code>: an alias of a local model (e.g. <code>claude-sonnet-4</code> for
        Claude Code), an upstream server with its own key, or a local server the app runs. Generic-proxy routes are reachable at{" "}
        <code>{serverUrl()}/model/proxy/&lt;id&gt;/…</code>.
      </Text>
      <Card withBorder className="stack-host" data-testid="routes-card">
        <Table className="stack-table" verticalSpacing="sm">
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
                <Table.Td data-label="Id">{r.id}</Table.Td>
                <Table.Td data-label="Name">
                  <Text size="sm" fw={600}>
                    {r.name}
                  </Text>
                </Table.Td>
                <Table.Td data-label="Targets" className="cell-wide">
                  {r.targets.map((t) => (
                    <Text key={t.id} size="sm">
                      {t.kind === "model"
                        ? `model ${t.modelId}`
                        : t.kind === "upstream"
                          ? `upstream ${t.upstreamUrl}`
                          : `process ${t.command}`}
                      {r.targets.length > 1 ? ` · weight ${t.weight}` : ""}
                      {t.hasUpstreamKey ? " · key set" : ""}
                      {t.fallback ? " · fallback" : ""}
                    </Text>
                  ))}
                </Table.Td>
                <Table.Td data-label="Flags">
                  <Group gap={4}>
                    {r.auto && (
                      <Badge variant="light" className="badge-full">
                        model
                      </Badge>
                    )}
                    {r.genericProxy && (
                      <Badge variant="light" color="grape" className="badge-full">
                        generic proxy
                      </Badge>
                    )}
                    {!r.enabled && (
                      <Badge color="gray" className="badge-full">
                        disabled
                      </Badge>
                    )}
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
      <Modal
        opened={draft !== null}
        onClose={() => setDraft(null)}
        title={draft?.id ? "Edit route" : "New route"}
        size="lg"
        closeButtonProps={{ "aria-label": "Close" }}
      >
        {draft && (
          <Stack>
            <TextInput
              label="Name (what clients send as model)"
              value={draft.name}
              onChange={(e) => set({ name: e.currentTarget.value })}
            />
            {draft.targets.map((t, i) => (
              <TargetFields
                // Targets have no stable key before they are saved: their place is theirs.
                // biome-ignore lint/suspicious/noArrayIndexKey: see above
                key={i}
                target={t}
                index={i}
                count={draft.targets.length}
                models={modelIds}
                editing={draft.id !== undefined}
                onChange={(patch) => setTarget(i, patch)}
                onRemove={() => set({ targets: draft.targets.filter((_, j) => j !== i) })}
              />
            ))}
            {draft.targets.length < 16 && (
              <Button variant="light" onClick={() => set({ targets: [...draft.targets, emptyTarget()] })}>
                Add target
              </Button>
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
