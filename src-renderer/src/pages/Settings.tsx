import {
  Alert,
  Badge,
  Button,
  Card,
  Group,
  NumberInput,
  SegmentedControl,
  SimpleGrid,
  Stack,
  Switch,
  TagsInput,
  Text,
  TextInput,
  Title,
  useMantineColorScheme,
} from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { type ReactNode, useEffect, useState } from "react";
// The settings table itself (zod schemas and bounds), so the form checks exactly what the server will.
import { SETTINGS, type SettingsPublic as SettingsView } from "../../../src-main/core/contract/index.js";
import { api } from "../api.js";
import type { SavedSettings } from "../types.js";

type Key = keyof SavedSettings;

const show = (value: unknown): string =>
  value === null || value === undefined
    ? "automatic"
    : Array.isArray(value)
      ? value.length
        ? value.join(", ")
        : "none"
      : typeof value === "boolean"
        ? value
          ? "on"
          : "off"
        : String(value);

/** The first problem the setting's own schema finds with a value, in words. */
function problem(key: Key, value: unknown): string | null {
  if (value === undefined || value === "") return null;
  const result = SETTINGS[key].schema.safeParse(value);
  if (result.success) return null;
  const issue = result.error.issues[0];
  if (!issue) return "Not a valid value.";
  if (issue.code === "too_big") return `At most ${String((issue as { maximum?: unknown }).maximum)}.`;
  if (issue.code === "too_small") return `At least ${String((issue as { minimum?: unknown }).minimum)}.`;
  if (issue.code === "invalid_type" && typeof value === "number") return "A whole number, please.";
  return issue.message;
}

export function Settings() {
  const { colorScheme, setColorScheme } = useMantineColorScheme();
  const queryClient = useQueryClient();
  const current = useQuery({ queryKey: ["settings"], queryFn: () => api<SettingsView>("/api/admin/settings") });
  // Only what the user changed: the form starts empty and shows saved/running values beside it.
  const [changes, setChanges] = useState<Record<string, unknown>>({});
  const [savedOnce, setSavedOnce] = useState(false);
  useEffect(() => {
    if (current.data) setChanges({});
  }, [current.data]);
  const data = current.data;
  const fromFlag = (key: Key) => data?.fromFlags.includes(key) ?? false;
  /** What the field shows: the user's change, else the saved value, else what runs. */
  const fieldValue = (key: Key): unknown =>
    key in changes ? changes[key] : (data?.saved[key] ?? (data?.running[key] as unknown) ?? undefined);
  const set = (key: Key, value: unknown) => setChanges((c) => ({ ...c, [key]: value }));
  const errors = Object.fromEntries(Object.entries(changes).map(([k, v]) => [k, problem(k as Key, v)]));
  const invalid = Object.values(errors).some(Boolean);
  const dirty = Object.keys(changes).filter((k) => JSON.stringify(changes[k]) !== JSON.stringify(valueOfSaved(k as Key)));
  function valueOfSaved(key: Key): unknown {
    return data?.saved[key] ?? (data?.running[key] as unknown) ?? undefined;
  }
  const save = useMutation({
    // `null` clears a saved value (an emptied optional field goes back to its default).
    mutationFn: () =>
      api<SettingsView>("/api/admin/settings", {
        method: "PUT",
        json: Object.fromEntries(dirty.map((k) => [k, changes[k] === "" || changes[k] === undefined ? null : changes[k]])),
      }),
    onSuccess: (view) => {
      queryClient.setQueryData(["settings"], view);
      setSavedOnce(true);
      notifications.show({
        message:
          dirty.length === 1
            ? "Saved 1 setting; it applies after a restart."
            : `Saved ${dirty.length} settings; they apply after a restart.`,
      });
    },
    onError: (e) => notifications.show({ color: "red", title: "Not saved", message: e.message }),
  });

  /** Under each field: where its running value comes from, and the saved value when a restart is pending. */
  const note = (key: Key): ReactNode => {
    if (!data) return null;
    const running = data.running[key];
    const saved = data.saved[key];
    if (fromFlag(key))
      return (
        <span data-testid={`flag-${key}`}>
          Set by <code>{data.settings[key].flag ?? "the launcher"}</code> at launch ({show(running)}): that value is not saved
          here; a value you save applies once the flag is no longer given.
        </span>
      );
    if (saved !== undefined && JSON.stringify(saved) !== JSON.stringify(running))
      return (
        <span data-testid={`pending-${key}`}>
          Saved {show(saved)}; running {show(running)} until a restart.
        </span>
      );
    return `Running: ${show(running)}${data.sources[key] === "default" ? " (default)" : ""}`;
  };
  const common = (key: Key, label: string) => ({
    label,
    description: note(key),
    error: errors[key] ?? undefined,
    "data-testid": `setting-${key}`,
  });
  const numberField = (key: Key, label: string, extra: { placeholder?: string } = {}) => (
    <NumberInput
      {...common(key, label)}
      {...extra}
      value={(fieldValue(key) as number | undefined) ?? ""}
      // No clamping: an out-of-range number stays as typed and the field says what is allowed.
      clampBehavior="none"
      allowDecimal={false}
      onChange={(v) => set(key, v === "" ? "" : Number(v))}
    />
  );
  // Saved values the running server does not use yet.
  const pending = data
    ? (Object.keys(data.saved) as Key[]).filter(
        (k) => !fromFlag(k) && JSON.stringify(data.saved[k]) !== JSON.stringify(data.running[k]),
      )
    : [];
  const host = fieldValue("host") as string | undefined;
  const lan = host !== undefined && !["127.0.0.1", "localhost", "::1"].includes(host);
  return (
    <Stack maw={880}>
      <Title order={1}>Settings</Title>
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
          <Group justify="space-between">
            <Text fw={600}>Server</Text>
            <Badge variant="light" color="gray">
              applies after a restart
            </Badge>
          </Group>
          <Text size="sm" c="dimmed">
            Only the settings you change are saved. A setting given as a <code>maas-base serve</code> flag wins over a saved one,
            so it is shown here but not saved.
          </Text>
          {(savedOnce || pending.length > 0) && (
            <Alert color="yellow" title="Restart to apply" data-testid="restart-needed">
              Saved settings apply when the server starts again (quit and reopen the app, or restart <code>maas-base serve</code>
              ).
            </Alert>
          )}
          <SimpleGrid cols={{ base: 1, sm: 2 }}>
            <TextInput
              {...common("host", "Bind address")}
              value={(fieldValue("host") as string | undefined) ?? ""}
              onChange={(e) => set("host", e.currentTarget.value)}
            />
            {numberField("port", "Port (0 = any free port)")}
          </SimpleGrid>
          {lan && (
            <Alert color="orange" title="Reachable from your network">
              Other machines can reach the API at this address. Every request still needs a key; keep keys secret.
            </Alert>
          )}
          <Switch
            label="Let apps on this machine call the API without a key"
            description={note("allowLoopbackWithoutKey")}
            checked={Boolean(fieldValue("allowLoopbackWithoutKey"))}
            onChange={(e) => set("allowLoopbackWithoutKey", e.currentTarget.checked)}
          />
          <TagsInput
            {...common("corsOrigins", "CORS origins (browser apps allowed to call the API)")}
            value={(fieldValue("corsOrigins") as string[] | undefined) ?? []}
            onChange={(v) => set("corsOrigins", v)}
            placeholder="https://app.example"
          />
          <TextInput
            {...common("modelsDir", "Models folder")}
            value={(fieldValue("modelsDir") as string | undefined) ?? ""}
            onChange={(e) => set("modelsDir", e.currentTarget.value)}
          />
          <SimpleGrid cols={{ base: 1, sm: 3 }}>
            {numberField("threads", "Threads", { placeholder: "physical cores" })}
            {numberField("modelTtlMinutes", "Idle minutes before unloading")}
            {numberField("maxLoadedModels", "Max loaded models")}
          </SimpleGrid>
          <Group>
            <Button
              onClick={() => save.mutate()}
              loading={save.isPending}
              disabled={invalid || dirty.length === 0}
              data-testid="save-settings"
            >
              {dirty.length ? `Save ${dirty.length} change${dirty.length === 1 ? "" : "s"}` : "Save"}
            </Button>
            {dirty.length > 0 && (
              <Button variant="default" onClick={() => setChanges({})}>
                Discard
              </Button>
            )}
            {invalid && (
              <Text size="sm" c="red.8">
                Fix the fields marked in red first.
              </Text>
            )}
          </Group>
        </Stack>
      </Card>
    </Stack>
  );
}
