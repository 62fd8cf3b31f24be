import {
  Alert,
  Badge,
  Button,
  Card,
  Drawer,
  Group,
  NumberInput,
  Progress,
  SegmentedControl,
  Stack,
  Table,
  Text,
  Textarea,
  TextInput,
  Title,
} from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { api, desktop, formatBytes, readSse } from "../api.js";
import type { Download, Fit, Model, ModelSettings } from "../types.js";
import { ContextReload } from "./ContextReload.js";

const fail = (title: string) => (e: unknown) =>
  notifications.show({ color: "red", title, message: e instanceof Error ? e.message : String(e) });

/** Download progress pushed by the core (`/api/admin/events`). */
function useDownloads(): Download[] {
  const [downloads, setDownloads] = useState<Download[]>([]);
  const queryClient = useQueryClient();
  useEffect(() => {
    const controller = new AbortController();
    const run = () =>
      readSse("/api/admin/events", { signal: controller.signal }, (data, event) => {
        const payload = JSON.parse(data) as { data: Download | Download[] };
        if (event === "downloads") setDownloads(payload.data as Download[]);
        if (event === "download") {
          const d = payload.data as Download;
          setDownloads((list) => [d, ...list.filter((x) => x.id !== d.id)]);
          if (d.status === "done") void queryClient.invalidateQueries({ queryKey: ["library"] });
        }
        if (event === "models") void queryClient.invalidateQueries({ queryKey: ["library"] });
      }).catch(() => {
        if (!controller.signal.aborted) setTimeout(run, 2000);
      });
    void run();
    return () => controller.abort();
  }, [queryClient]);
  return downloads;
}

function FitBadge({ fit }: { fit: Fit | null | undefined }) {
  if (!fit)
    return (
      <Badge variant="light" color="gray">
        no estimate
      </Badge>
    );
  return (
    <Badge
      variant="light"
      color={fit.fits ? "green" : "red"}
      title={`needs ~${formatBytes(fit.ram)} RAM, ${formatBytes(fit.vram)} VRAM`}
    >
      {fit.fits ? "fits" : "too big"} · {formatBytes(fit.ram + fit.vram)}
    </Badge>
  );
}

function SettingsDrawer({ model, onClose }: { model: Model | null; onClose: () => void }) {
  const queryClient = useQueryClient();
  const [settings, setSettings] = useState<ModelSettings>({});
  useEffect(() => setSettings(model?.settings ?? {}), [model]);
  const fit = useQuery({
    queryKey: ["fit", model?.id, settings],
    queryFn: () => api<Fit>(`/api/admin/models/${model?.id}/fit`, { method: "POST", json: settings }),
    enabled: Boolean(model),
  });
  const save = useMutation({
    mutationFn: () => api(`/api/admin/models/${model?.id}/settings`, { method: "PUT", json: settings }),
    onSuccess: () => {
      void queryClient.invalidateQueries({ queryKey: ["library"] });
      notifications.show({ message: "Settings saved; they apply the next time the model loads." });
      onClose();
    },
    onError: fail("Could not save"),
  });
  const num = (key: keyof ModelSettings) => (value: string | number) =>
    setSettings((s) => ({ ...s, [key]: value === "" ? undefined : Number(value) }));
  return (
    <Drawer opened={Boolean(model)} onClose={onClose} title={`Settings · ${model?.id ?? ""}`} position="right" size="md">
      <Stack>
        <NumberInput
          label="Context size (tokens per sequence)"
          value={settings.contextSize ?? ""}
          onChange={num("contextSize")}
          min={64}
          step={1024}
          placeholder={String(model?.effectiveSettings?.contextSize ?? "")}
        />
        <NumberInput
          label="Parallel sequences"
          value={settings.parallel ?? ""}
          onChange={num("parallel")}
          min={1}
          max={64}
          placeholder={String(model?.effectiveSettings?.parallel ?? "")}
        />
        <SegmentedControl
          data={["auto", "max", "number"]}
          value={typeof settings.gpuLayers === "number" ? "number" : (settings.gpuLayers ?? "auto")}
          onChange={(v) => setSettings((s) => ({ ...s, gpuLayers: v === "number" ? 0 : (v as "auto" | "max") }))}
        />
        {typeof settings.gpuLayers === "number" && (
          <NumberInput label="GPU layers" value={settings.gpuLayers} onChange={num("gpuLayers")} min={0} />
        )}
        <NumberInput
          label="Idle minutes before unloading (0 = never)"
          value={settings.ttlMinutes ?? ""}
          onChange={num("ttlMinutes")}
          min={0}
          placeholder="15"
        />
        <NumberInput
          label="Threads"
          value={settings.threads ?? ""}
          onChange={num("threads")}
          min={1}
          placeholder="physical cores"
        />
        <Textarea
          label="Chat template override (Jinja)"
          autosize
          minRows={2}
          maxRows={8}
          value={settings.chatTemplate ?? ""}
          onChange={(e) => setSettings((s) => ({ ...s, chatTemplate: e.currentTarget.value || undefined }))}
        />
        <Card withBorder data-testid="fit-estimate">
          <Text size="sm">Memory estimate with these settings</Text>
          {fit.data ? (
            <Text size="sm" c={fit.data.fits ? "green" : "red"}>
              RAM {formatBytes(fit.data.ram)} (free {formatBytes(fit.data.freeRam)}) · VRAM {formatBytes(fit.data.vram)} · context{" "}
              {fit.data.contextSize}
            </Text>
          ) : (
            <Text size="sm" c="dimmed">
              {fit.error ? String(fit.error.message) : "…"}
            </Text>
          )}
        </Card>
        <Button onClick={() => save.mutate()} loading={save.isPending}>
          Save
        </Button>
      </Stack>
    </Drawer>
  );
}

function HuggingFaceSearch() {
  const [q, setQ] = useState("");
  const [query, setQuery] = useState("");
  const [repo, setRepo] = useState<string | null>(null);
  const search = useQuery({
    queryKey: ["hf", query],
    queryFn: () => api<{ data: Array<{ id: string; downloads: number }> }>(`/api/admin/hf/search?q=${encodeURIComponent(query)}`),
    enabled: Boolean(query),
  });
  const files = useQuery({
    queryKey: ["hf-files", repo],
    queryFn: () =>
      api<{ data: Array<{ path: string; size: number; quantization: string | null; fits: boolean }> }>(
        `/api/admin/hf/files?repo=${encodeURIComponent(repo ?? "")}`,
      ),
    enabled: Boolean(repo),
  });
  const pull = useMutation({
    mutationFn: (ref: string) => api("/api/admin/downloads", { method: "POST", json: { ref } }),
    onError: fail("Download refused"),
  });
  return (
    <Card withBorder>
      <Title order={4}>Hugging Face</Title>
      <Group mt="xs">
        <TextInput
          placeholder="Search GGUF models, e.g. qwen2.5 0.5b"
          value={q}
          onChange={(e) => setQ(e.currentTarget.value)}
          onKeyDown={(e) => e.key === "Enter" && setQuery(q)}
          style={{ flex: 1 }}
          data-testid="hf-search"
        />
        <Button onClick={() => setQuery(q)} disabled={!q.trim()}>
          Search
        </Button>
      </Group>
      {search.error && (
        <Alert color="red" mt="xs">
          {search.error.message}
        </Alert>
      )}
      <Group mt="xs" gap="xs">
        {search.data?.data.map((r) => (
          <Button key={r.id} size="xs" variant={repo === r.id ? "filled" : "light"} onClick={() => setRepo(r.id)}>
            {r.id}
          </Button>
        ))}
      </Group>
      {files.data && (
        <Table mt="xs">
          <Table.Tbody>
            {files.data.data.map((f) => (
              <Table.Tr key={f.path}>
                <Table.Td>{f.path}</Table.Td>
                <Table.Td>{f.quantization ?? "?"}</Table.Td>
                <Table.Td>{formatBytes(f.size)}</Table.Td>
                <Table.Td>
                  <Badge variant="light" color={f.fits ? "green" : "red"}>
                    {f.fits ? "fits" : "too big"}
                  </Badge>
                </Table.Td>
                <Table.Td>
                  <Button size="xs" onClick={() => pull.mutate(`hf:${repo}/${f.path}`)}>
                    Download
                  </Button>
                </Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      )}
    </Card>
  );
}

function Downloads({ downloads }: { downloads: Download[] }) {
  const cancel = useMutation({
    mutationFn: (id: string) => api(`/api/admin/downloads/${id}`, { method: "DELETE" }),
    onError: fail("Cancel failed"),
  });
  const retry = useMutation({
    mutationFn: (id: string) => api(`/api/admin/downloads/${id}/retry`, { method: "POST" }),
    onError: fail("Retry failed"),
  });
  if (downloads.length === 0) return null;
  return (
    <Card withBorder>
      <Title order={4}>Downloads</Title>
      <Stack mt="xs" gap="xs">
        {downloads.slice(0, 10).map((d) => {
          const pct = d.totalBytes ? (d.downloadedBytes / d.totalBytes) * 100 : 0;
          return (
            <div key={d.id} data-testid="download">
              <Group justify="space-between">
                <Text size="sm">
                  {d.fileName} · <b data-testid="download-status">{d.status}</b>
                  {d.status === "downloading" &&
                    ` · ${formatBytes(d.speed)}/s${d.etaSeconds !== null ? ` · ${d.etaSeconds}s left` : ""}`}
                  {d.error && ` · ${d.error}`}
                </Text>
                <Group gap="xs">
                  {["queued", "downloading"].includes(d.status) && (
                    <Button size="compact-xs" variant="light" color="red" onClick={() => cancel.mutate(d.id)}>
                      Cancel
                    </Button>
                  )}
                  {["failed", "cancelled"].includes(d.status) && (
                    <Button size="compact-xs" variant="light" onClick={() => retry.mutate(d.id)}>
                      Resume
                    </Button>
                  )}
                </Group>
              </Group>
              <Progress
                value={d.status === "done" ? 100 : pct}
                animated={d.status === "downloading"}
                aria-label={`Download of ${d.fileName}`}
              />
              <Text size="xs" c="dimmed">
                {formatBytes(d.downloadedBytes)} of {formatBytes(d.totalBytes)}
              </Text>
            </div>
          );
        })}
      </Stack>
    </Card>
  );
}

export function Models() {
  const queryClient = useQueryClient();
  const library = useQuery({
    queryKey: ["library"],
    queryFn: () => api<{ data: Model[] }>("/api/admin/library"),
    refetchInterval: 5000,
  });
  const recommended = useQuery({
    queryKey: ["recommended"],
    queryFn: () =>
      api<{
        data: Array<{ ref: string; title: string; capability: string; sizeBytes: number; description: string; fits: boolean }>;
      }>("/api/admin/recommended"),
  });
  const downloads = useDownloads();
  const [editing, setEditing] = useState<Model | null>(null);
  const [path, setPath] = useState("");
  const [mode, setMode] = useState<"copy" | "link">("copy");
  const refresh = () => void queryClient.invalidateQueries({ queryKey: ["library"] });
  const action = useMutation({
    mutationFn: ({ id, verb }: { id: string; verb: "load" | "unload" | "delete" }) =>
      verb === "delete"
        ? api(`/api/admin/models/${id}`, { method: "DELETE" })
        : api(`/api/admin/models/${id}/${verb}`, { method: "POST" }),
    onSuccess: refresh,
    onError: fail("Model action failed"),
  });
  const importModel = useMutation({
    mutationFn: (p: string) => api("/api/admin/models/import", { method: "POST", json: { path: p, mode } }),
    onSuccess: () => {
      setPath("");
      refresh();
      notifications.show({ message: "Model imported." });
    },
    onError: fail("Import failed"),
  });
  const pull = useMutation({
    mutationFn: (ref: string) => api("/api/admin/downloads", { method: "POST", json: { ref } }),
    onError: fail("Download refused"),
  });
  const models = library.data?.data ?? [];
  const bridge = desktop();

  return (
    <Stack>
      <Title order={1}>Models</Title>
      {library.data && models.length === 0 && (
        <Card withBorder>
          <Title order={4}>Start with a small model</Title>
          <Text size="sm" c="dimmed">
            These run on most machines. Each says whether it fits this one.
          </Text>
          <Table mt="xs">
            <Table.Tbody>
              {recommended.data?.data.map((r) => (
                <Table.Tr key={r.ref}>
                  <Table.Td>
                    <b>{r.title}</b> <Badge variant="light">{r.capability}</Badge>
                    <Text size="xs" c="dimmed">
                      {r.description}
                    </Text>
                  </Table.Td>
                  <Table.Td>{formatBytes(r.sizeBytes)}</Table.Td>
                  <Table.Td>
                    <Badge color={r.fits ? "green" : "red"} variant="light">
                      {r.fits ? "fits" : "too big"}
                    </Badge>
                  </Table.Td>
                  <Table.Td>
                    <Button size="xs" onClick={() => pull.mutate(r.ref)}>
                      Download
                    </Button>
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Card>
      )}
      <Card withBorder>
        <Table highlightOnHover data-testid="library">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Model</Table.Th>
              <Table.Th>Architecture</Table.Th>
              <Table.Th>Quantization</Table.Th>
              <Table.Th>Size</Table.Th>
              <Table.Th>Capabilities</Table.Th>
              <Table.Th>Fit</Table.Th>
              <Table.Th>State</Table.Th>
              <Table.Th />
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {models.map((m) => (
              <Table.Tr key={m.id} data-testid={`model-${m.id}`}>
                <Table.Td>{m.id}</Table.Td>
                <Table.Td>{m.architecture ?? "?"}</Table.Td>
                <Table.Td>{m.quantization ?? "?"}</Table.Td>
                <Table.Td>{formatBytes(m.sizeBytes)}</Table.Td>
                <Table.Td>{m.capabilities.join(", ")}</Table.Td>
                <Table.Td>
                  <FitBadge fit={m.fit} />
                </Table.Td>
                <Table.Td>
                  <Badge
                    variant="light"
                    color={m.state === "ready" ? "green" : m.state === "error" ? "red" : "gray"}
                    data-testid={`state-${m.id}`}
                  >
                    {m.state === "loading" ? `loading ${Math.round((m.load?.progress ?? 0) * 100)}%` : m.state}
                  </Badge>
                  {m.load?.error && (
                    <Text size="xs" c="red">
                      {m.load.error}
                    </Text>
                  )}
                  <ContextReload load={m.load} />
                </Table.Td>
                <Table.Td>
                  <Group gap={4} wrap="nowrap">
                    {m.state === "ready" ? (
                      <Button size="compact-xs" variant="light" onClick={() => action.mutate({ id: m.id, verb: "unload" })}>
                        Unload
                      </Button>
                    ) : (
                      <Button
                        size="compact-xs"
                        variant="light"
                        onClick={() => action.mutate({ id: m.id, verb: "load" })}
                        data-testid={`load-${m.id}`}
                      >
                        Load
                      </Button>
                    )}
                    <Button size="compact-xs" variant="subtle" onClick={() => setEditing(m)}>
                      Settings
                    </Button>
                    <Button
                      size="compact-xs"
                      variant="subtle"
                      color="red"
                      onClick={() =>
                        window.confirm(`Remove ${m.id} and its file?`) && action.mutate({ id: m.id, verb: "delete" })
                      }
                    >
                      Remove
                    </Button>
                  </Group>
                </Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      </Card>
      <Card withBorder>
        <Title order={4}>Import a local GGUF file</Title>
        <Group mt="xs" align="flex-end">
          <TextInput
            label="Path to a .gguf file"
            placeholder="/home/me/models/model.gguf"
            value={path}
            onChange={(e) => setPath(e.currentTarget.value)}
            style={{ flex: 1 }}
            data-testid="import-path"
          />
          {bridge?.pickModelFile && (
            <Button variant="light" onClick={() => void bridge.pickModelFile?.().then((p) => p && setPath(p))}>
              Choose…
            </Button>
          )}
          <SegmentedControl
            data={[
              { value: "copy", label: "Copy" },
              { value: "link", label: "Link" },
            ]}
            value={mode}
            onChange={(v) => setMode(v as "copy" | "link")}
          />
          <Button
            onClick={() => importModel.mutate(path)}
            disabled={!path.trim()}
            loading={importModel.isPending}
            data-testid="import-button"
          >
            Import
          </Button>
        </Group>
      </Card>
      <Downloads downloads={downloads} />
      <HuggingFaceSearch />
      <SettingsDrawer model={editing} onClose={() => setEditing(null)} />
    </Stack>
  );
}
