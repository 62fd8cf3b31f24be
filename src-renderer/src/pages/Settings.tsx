import {
  Alert,
  Button,
  Card,
  Group,
  NumberInput,
  SegmentedControl,
  Stack,
  Switch,
  TagsInput,
  Text,
  TextInput,
  Title,
  useMantineColorScheme,
} from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { useMutation, useQuery } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import type { SettingsView } from "../../../src-main/core/settings.js";
import { api } from "../api.js";
import type { SavedSettings } from "../types.js";

export function Settings() {
  const { colorScheme, setColorScheme } = useMantineColorScheme();
  const current = useQuery({
    queryKey: ["settings"],
    queryFn: () => api<SettingsView>("/api/admin/settings"),
  });
  const [form, setForm] = useState<SavedSettings>({});
  useEffect(() => {
    if (!current.data) return;
    // Only settings the app may save go into the form (the PUT accepts nothing else).
    const { running, saved, settings } = current.data;
    const merged: Record<string, unknown> = { ...running, ...saved };
    setForm(
      Object.fromEntries(
        Object.entries(merged).filter(([k, v]) => settings[k as keyof typeof settings]?.saved && v !== null),
      ) as SavedSettings,
    );
  }, [current.data]);
  // A flag given at launch wins over the saved value: say so under that field.
  const flagNote = (key: keyof SavedSettings) =>
    current.data?.fromFlags.includes(key)
      ? `Set by ${current.data.settings[key].flag ?? "the launcher"} at launch: a saved value applies once the flag is dropped.`
      : undefined;
  const save = useMutation({
    mutationFn: () => api("/api/admin/settings", { method: "PUT", json: form }),
    onSuccess: () => notifications.show({ message: "Saved. Server settings apply after a restart." }),
    onError: (e) => notifications.show({ color: "red", title: "Not saved", message: e.message }),
  });
  const set = (patch: SavedSettings) => setForm((f) => ({ ...f, ...patch }));
  const lan = form.host !== undefined && !["127.0.0.1", "localhost", "::1"].includes(form.host);
  return (
    <Stack maw={640}>
      <Title order={2}>Settings</Title>
      <Card withBorder>
        <Text fw={600}>Appearance</Text>
        <SegmentedControl
          mt="xs"
          value={colorScheme}
          onChange={(v) => setColorScheme(v as "light" | "dark" | "auto")}
          data={[
            { value: "light", label: "Light" },
            { value: "dark", label: "Dark" },
            { value: "auto", label: "System" },
          ]}
        />
      </Card>
      <Card withBorder>
        <Stack>
          <Text fw={600}>Server (applies after a restart; command-line flags win)</Text>
          <Group grow>
            <TextInput
              label="Bind address"
              description={flagNote("host")}
              value={form.host ?? ""}
              onChange={(e) => set({ host: e.currentTarget.value })}
            />
            <NumberInput
              label="Port"
              description={flagNote("port")}
              value={form.port ?? ""}
              onChange={(v) => set({ port: Number(v) })}
              min={0}
              max={65535}
            />
          </Group>
          {lan && (
            <Alert color="orange" title="Reachable from your network">
              Other machines can reach the API at this address. Every request still needs a key; keep keys secret.
            </Alert>
          )}
          <Switch
            label="Let apps on this machine call the API without a key"
            description={flagNote("allowLoopbackWithoutKey")}
            checked={Boolean(form.allowLoopbackWithoutKey)}
            onChange={(e) => set({ allowLoopbackWithoutKey: e.currentTarget.checked })}
          />
          <TagsInput
            label="CORS origins (browser apps allowed to call the API)"
            description={flagNote("corsOrigins")}
            value={form.corsOrigins ?? []}
            onChange={(v) => set({ corsOrigins: v })}
            placeholder="https://app.example"
          />
          <TextInput
            label="Models folder"
            description={flagNote("modelsDir")}
            value={form.modelsDir ?? ""}
            onChange={(e) => set({ modelsDir: e.currentTarget.value })}
          />
          <Group grow>
            <NumberInput
              label="Threads"
              description={flagNote("threads")}
              value={form.threads ?? ""}
              onChange={(v) => set({ threads: v === "" ? undefined : Number(v) })}
              min={1}
              placeholder="physical cores"
            />
            <NumberInput
              label="Idle minutes before unloading"
              description={flagNote("modelTtlMinutes")}
              value={form.modelTtlMinutes ?? ""}
              onChange={(v) => set({ modelTtlMinutes: Number(v) })}
              min={0}
            />
            <NumberInput
              label="Max loaded models"
              description={flagNote("maxLoadedModels")}
              value={form.maxLoadedModels ?? ""}
              onChange={(v) => set({ maxLoadedModels: Number(v) })}
              min={1}
            />
          </Group>
          <Button onClick={() => save.mutate()} loading={save.isPending} data-testid="save-settings">
            Save
          </Button>
        </Stack>
      </Card>
    </Stack>
  );
}
