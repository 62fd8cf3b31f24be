import {
  Alert,
  Badge,
  Box,
  Button,
  Card,
  Drawer,
  Group,
  Input,
  Modal,
  NumberInput,
  Paper,
  SegmentedControl,
  SimpleGrid,
  Stack,
  Table,
  Text,
  Textarea,
  TextInput,
  Title,
  VisuallyHidden,
} from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Fragment, useEffect, useState } from "react";
import type { LibraryPublic, ModelScanPublic, UnreadableFilePublic } from "../../../src-main/core/contract/index.js";
import { ApiFailure, api, desktop, formatBytes, readSse } from "../api.js";
import { Icon } from "../icons.js";
import type { Download, Fit, Model, ModelSettings } from "../types.js";
import { ContextReload } from "./ContextReload.js";
import { Downloads } from "./models/Downloads.js";
import { HuggingFaceSearch } from "./models/HuggingFace.js";

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
      <Badge variant="light" color="gray" className="badge-full">
        no estimate
      </Badge>
    );
  return (
    <Badge
      variant="light"
      className="badge-full"
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
        <Input.Wrapper
          label="GPU layers"
          description="auto: as many as fit in free VRAM · max: all of them · a number: exactly that many"
          id="gpu-layers-mode"
        >
          <SegmentedControl
            mt={4}
            fullWidth
            aria-label="GPU layers"
            data={[
              { value: "auto", label: "auto" },
              { value: "max", label: "max" },
              { value: "number", label: "a number" },
            ]}
            value={typeof settings.gpuLayers === "number" ? "number" : (settings.gpuLayers ?? "auto")}
            onChange={(v) => setSettings((s) => ({ ...s, gpuLayers: v === "number" ? 0 : (v as "auto" | "max") }))}
            data-testid="gpu-layers-mode"
          />
        </Input.Wrapper>
        {typeof settings.gpuLayers === "number" && (
          <NumberInput label="Number of GPU layers" value={settings.gpuLayers} onChange={num("gpuLayers")} min={0} />
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
          ) : null}
          {fit.data && settings.contextSize !== undefined && fit.data.contextSize < settings.contextSize ? (
            <Text size="sm" c="orange.8" mt={4} data-testid="context-capped">
              A context of {settings.contextSize} tokens was asked for; the model will get {fit.data.contextSize}
              {model?.contextLength && model.contextLength <= fit.data.contextSize
                ? `, the context it was trained with (${model.contextLength})`
                : ": the most its training context, free memory and the server's context cap allow"}
              . The estimate is for {fit.data.contextSize}.
            </Text>
          ) : null}
          {fit.data ? null : (
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

type Unreadable = UnreadableFilePublic;

/** Rescans the models folder (new files join the library; unreadable ones are listed with their reason). */
function RescanButton() {
  const queryClient = useQueryClient();
  const scan = useMutation({
    mutationFn: () =>
      api<ModelScanPublic>("/api/admin/models/scan", {
        method: "POST",
      }),
    onSuccess: (result) => {
      void queryClient.invalidateQueries({ queryKey: ["library"] });
      notifications.show({
        message: `Rescanned the models folder: ${result.registered.length} new model${result.registered.length === 1 ? "" : "s"}, ${result.skipped.length} file${result.skipped.length === 1 ? "" : "s"} that cannot be read.`,
      });
    },
    onError: fail("Rescan failed"),
  });
  return (
    <Button
      variant="default"
      leftSection={<Icon name="refresh" size={16} />}
      onClick={() => scan.mutate()}
      loading={scan.isPending}
      data-testid="rescan"
    >
      Rescan folder
    </Button>
  );
}

/** Files in the models folder that could not be read, each with its reason. */
function LibraryProblems({ unreadable }: { unreadable: Unreadable[] }) {
  if (unreadable.length === 0) return null;
  return (
    <Alert
      color="orange"
      icon={<Icon name="alert" />}
      title={`${unreadable.length} file${unreadable.length === 1 ? "" : "s"} in the models folder cannot be used`}
      data-testid="unreadable"
    >
      <Stack gap={6}>
        {unreadable.map((u) => (
          <div key={u.path} data-testid="unreadable-file">
            <Text size="sm" fw={600} style={{ overflowWrap: "anywhere" }}>
              {u.path.split(/[\\/]/).pop()} · {formatBytes(u.sizeBytes)}
            </Text>
            <Text size="sm">{u.reason}</Text>
          </div>
        ))}
        <Text size="xs">Replace or re-download the file, then Rescan. Until it changes it is skipped.</Text>
      </Stack>
    </Alert>
  );
}

const STATE_COLOR: Record<string, string> = {
  ready: "green",
  loading: "indigo",
  error: "red",
  crashed: "red",
  failed: "red",
  unloaded: "gray",
};

/** What the error box under a model says happened (its state is the server's). */
const problemTitle = (m: Model): string =>
  (m.state as string) === "crashed"
    ? `${m.id} stopped: its engine process crashed`
    : (m.state as string) === "failed"
      ? `${m.id} is turned off after repeated crashes`
      : `${m.id} did not load`;

/** Import a GGUF file by path, with an optional id; a taken id is an error on the id field with a suggestion. */
function ImportModel({ onDone }: { onDone: () => void }) {
  const [path, setPath] = useState("");
  const [id, setId] = useState("");
  const [mode, setMode] = useState<"copy" | "link">("copy");
  const [errors, setErrors] = useState<{ path?: string; id?: string }>({});
  const bridge = desktop();
  const importModel = useMutation({
    mutationFn: () =>
      api("/api/admin/models/import", {
        method: "POST",
        json: { path: path.trim(), mode, ...(id.trim() ? { id: id.trim() } : {}) },
      }),
    onSuccess: () => {
      setPath("");
      setId("");
      setErrors({});
      onDone();
      notifications.show({ message: "Model imported." });
    },
    onError: (e) => {
      const taken = e instanceof ApiFailure && e.code === "model_exists";
      if (taken) {
        const base = (
          id.trim() ||
          path
            .split(/[\\/]/)
            .pop()
            ?.replace(/\.gguf$/i, "") ||
          "model"
        ).replace(/[^\w.:-]/g, "-");
        setErrors({ id: `${e.message} Choose another id, e.g. ${base}-2.` });
      } else if (e instanceof ApiFailure && e.param === "id") setErrors({ id: e.message });
      else setErrors({ path: e.message });
    },
  });
  return (
    <Card withBorder>
      <Title order={2}>Import a local GGUF file</Title>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          if (path.trim()) importModel.mutate();
        }}
      >
        <Group mt="xs" align="flex-start" wrap="wrap">
          <TextInput
            label="Path to a .gguf file"
            placeholder="/home/me/models/model.gguf"
            value={path}
            onChange={(e) => {
              setPath(e.currentTarget.value);
              setErrors({});
            }}
            error={errors.path}
            style={{ flex: "2 1 280px" }}
            data-testid="import-path"
          />
          <TextInput
            label="Id in the library (optional)"
            description="Clients call it by this name; default: the file's name"
            placeholder="my-model"
            value={id}
            onChange={(e) => {
              setId(e.currentTarget.value);
              setErrors({});
            }}
            error={errors.id}
            style={{ flex: "1 1 200px" }}
            data-testid="import-id"
          />
        </Group>
        <Group mt="sm" wrap="wrap">
          {bridge?.pickModelFile && (
            <Button variant="light" onClick={() => void bridge.pickModelFile?.().then((p) => p && setPath(p))}>
              Choose…
            </Button>
          )}
          <SegmentedControl
            aria-label="Copy the file into the models folder, or link to it"
            data={[
              { value: "copy", label: "Copy into library" },
              { value: "link", label: "Link in place" },
            ]}
            value={mode}
            onChange={(v) => setMode(v as "copy" | "link")}
          />
          <Button type="submit" disabled={!path.trim()} loading={importModel.isPending} data-testid="import-button">
            Import
          </Button>
        </Group>
      </form>
    </Card>
  );
}

export function Models() {
  const queryClient = useQueryClient();
  const library = useQuery({
    queryKey: ["library"],
    queryFn: () => api<LibraryPublic>("/api/admin/library"),
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
  const [removing, setRemoving] = useState<Model | null>(null);
  const refresh = () => {
    void queryClient.invalidateQueries({ queryKey: ["library"] });
    void queryClient.invalidateQueries({ queryKey: ["engine"] });
  };
  const action = useMutation({
    mutationFn: ({ id, verb }: { id: string; verb: "load" | "unload" }) =>
      api(`/api/admin/models/${id}/${verb}`, { method: "POST" }),
    onSuccess: refresh,
    onError: (e, { id, verb }) => fail(verb === "load" ? `${id} did not load` : `${id} did not unload`)(e),
  });
  const remove = useMutation({
    // A loaded model is unloaded first (the server refuses to delete one in use).
    mutationFn: async (m: Model) => {
      if (m.state === "ready" || m.state === "loading") await api(`/api/admin/models/${m.id}/unload`, { method: "POST" });
      return api(`/api/admin/models/${m.id}`, { method: "DELETE" });
    },
    onSuccess: () => {
      setRemoving(null);
      refresh();
    },
    onError: fail("Not removed"),
  });
  const pull = useMutation({
    mutationFn: (ref: string) => api("/api/admin/downloads", { method: "POST", json: { ref } }),
    onError: fail("Download refused"),
  });
  const models = library.data?.data ?? [];

  return (
    <Stack>
      <Group justify="space-between" wrap="wrap" gap="sm">
        <Title order={1}>Models</Title>
        <RescanButton />
      </Group>
      {library.data && models.length === 0 && (
        <Card withBorder>
          <Title order={2}>Your library is empty: start with a small model</Title>
          <Text size="sm" c="dimmed">
            These run on most machines; each says whether it fits this one. Or search Hugging Face, or import a .gguf file you
            have, below.
          </Text>
          <SimpleGrid cols={{ base: 1, sm: 2, xl: 3 }} mt="md" spacing="sm" data-testid="recommended">
            {recommended.data?.data.map((r) => (
              <Paper key={r.ref} withBorder p="md" radius="md">
                <Group justify="space-between" wrap="nowrap" align="flex-start" gap="xs">
                  <Text fw={650} style={{ overflowWrap: "anywhere" }}>
                    {r.title}
                  </Text>
                  <Badge variant="light" className="badge-full">
                    {r.capability}
                  </Badge>
                </Group>
                <Text size="xs" c="dimmed" mt={4}>
                  {r.description}
                </Text>
                <Group justify="space-between" mt="sm" gap="xs">
                  <Group gap="xs">
                    <Text size="sm">{formatBytes(r.sizeBytes)}</Text>
                    <Badge color={r.fits ? "green" : "red"} variant="light" className="badge-full">
                      {r.fits ? "fits" : "too big"}
                    </Badge>
                  </Group>
                  <Button size="xs" leftSection={<Icon name="download" size={14} />} onClick={() => pull.mutate(r.ref)}>
                    Download
                  </Button>
                </Group>
              </Paper>
            ))}
          </SimpleGrid>
        </Card>
      )}
      {library.data && <LibraryProblems unreadable={library.data.unreadable ?? []} />}
      {models.length > 0 && (
        <Card withBorder p={0} className="library stack-host">
          <Table highlightOnHover horizontalSpacing="md" className="stack-table library-table" data-testid="library">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Model</Table.Th>
                <Table.Th>Can do</Table.Th>
                <Table.Th>Fit</Table.Th>
                <Table.Th>State</Table.Th>
                <Table.Th>
                  <VisuallyHidden>Actions</VisuallyHidden>
                </Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {models.map((m) => (
                <Fragment key={m.id}>
                  <Table.Tr data-testid={`model-${m.id}`} data-failed={m.load?.error ? "" : undefined}>
                    <Table.Td className="cell-model">
                      <Text fw={650} className="model-name">
                        {m.id}
                      </Text>
                      <Text size="xs" c="dimmed" className="model-facts" data-testid={`model-facts-${m.id}`}>
                        {[m.architecture ?? "unknown architecture", m.quantization, formatBytes(m.sizeBytes)]
                          .filter(Boolean)
                          .join(" · ")}
                      </Text>
                    </Table.Td>
                    <Table.Td className="cell-caps">
                      <Group gap={4} wrap="wrap">
                        {m.capabilities.map((c) => (
                          <Badge key={c} variant="light" color="gray" className="badge-full">
                            {c}
                          </Badge>
                        ))}
                      </Group>
                    </Table.Td>
                    <Table.Td className="cell-fit">
                      <FitBadge fit={m.fit} />
                    </Table.Td>
                    <Table.Td className="cell-state">
                      <Badge
                        variant="light"
                        color={STATE_COLOR[m.state ?? "unloaded"] ?? "gray"}
                        className="badge-full"
                        data-testid={`state-${m.id}`}
                      >
                        {m.state === "loading" ? `loading ${Math.round((m.load?.progress ?? 0) * 100)}%` : m.state}
                      </Badge>
                      <ContextReload load={m.load} />
                    </Table.Td>
                    <Table.Td className="cell-actions">
                      <Group gap={6} wrap="wrap" justify="flex-end" className="row-actions">
                        {m.state === "ready" ? (
                          <Button
                            size="xs"
                            variant="default"
                            leftSection={<Icon name="stop" size={14} />}
                            onClick={() => action.mutate({ id: m.id, verb: "unload" })}
                            aria-label={`Unload ${m.id}`}
                          >
                            Unload
                          </Button>
                        ) : (
                          <Button
                            size="xs"
                            variant="light"
                            leftSection={<Icon name={m.state === "error" ? "refresh" : "play"} size={14} />}
                            loading={action.isPending && action.variables?.id === m.id}
                            onClick={() => action.mutate({ id: m.id, verb: "load" })}
                            aria-label={`${m.state === "error" ? "Try loading" : "Load"} ${m.id}`}
                            data-testid={`load-${m.id}`}
                          >
                            {m.state === "error" ? "Try again" : "Load"}
                          </Button>
                        )}
                        <Button
                          size="xs"
                          variant="default"
                          leftSection={<Icon name="sliders" size={14} />}
                          onClick={() => setEditing(m)}
                          aria-label={`Settings of ${m.id}`}
                        >
                          Settings
                        </Button>
                        <Button
                          size="xs"
                          variant="outline"
                          color="red"
                          leftSection={<Icon name="trash" size={14} />}
                          onClick={() => setRemoving(m)}
                          aria-label={`Remove ${m.id}`}
                          data-testid={`remove-${m.id}`}
                        >
                          Remove
                        </Button>
                      </Group>
                    </Table.Td>
                  </Table.Tr>
                  {m.load?.error && (
                    // The engine's reason, in a row of its own under the model (the end of its card at 400 px).
                    <Table.Tr className="row-error">
                      <Table.Td colSpan={5}>
                        <Alert
                          color="red"
                          variant="light"
                          icon={<Icon name="alert" />}
                          title={problemTitle(m)}
                          data-testid={`load-error-${m.id}`}
                        >
                          <Text size="sm" style={{ overflowWrap: "anywhere" }}>
                            {m.load.error}
                          </Text>
                        </Alert>
                      </Table.Td>
                    </Table.Tr>
                  )}
                </Fragment>
              ))}
            </Table.Tbody>
          </Table>
        </Card>
      )}
      <Downloads downloads={downloads} />
      <Box className="models-more">
        <HuggingFaceSearch />
        <ImportModel onDone={refresh} />
      </Box>
      <SettingsDrawer model={editing} onClose={() => setEditing(null)} />
      <Modal opened={removing !== null} onClose={() => setRemoving(null)} title={`Remove ${removing?.id ?? ""}?`}>
        <Text size="sm">
          {removing?.state === "ready" ? "It is loaded: it will be unloaded, then " : "It "}
          leaves the library and its file is deleted from the models folder (a linked file stays where it is).
        </Text>
        <Group justify="flex-end" mt="md">
          <Button variant="default" onClick={() => setRemoving(null)}>
            Keep it
          </Button>
          <Button
            color="red"
            loading={remove.isPending}
            onClick={() => removing && remove.mutate(removing)}
            data-testid="confirm-remove"
          >
            Remove
          </Button>
        </Group>
      </Modal>
    </Stack>
  );
}
