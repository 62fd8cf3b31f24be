import { AppShell, Badge, Burger, Button, Center, Group, NavLink, Paper, PasswordInput, Stack, Text, Title } from "@mantine/core";
import { useDisclosure } from "@mantine/hooks";
import { useQuery } from "@tanstack/react-query";
import { type ReactNode, useEffect, useState } from "react";
import { api, connect, desktop, setSessionKey, signOut } from "./api.js";
import { Dashboard } from "./pages/Dashboard.js";
import { Keys } from "./pages/Keys.js";
import { Models } from "./pages/Models.js";
import { Playground } from "./pages/Playground.js";
import { Routes } from "./pages/Routes.js";
import { Settings } from "./pages/Settings.js";
import { Logs, Usage } from "./pages/Usage.js";

const PAGES = {
  dashboard: { label: "Dashboard", render: () => <Dashboard /> },
  models: { label: "Models", render: () => <Models /> },
  playground: { label: "Playground", render: () => <Playground /> },
  routes: { label: "Routes", render: () => <Routes /> },
  keys: { label: "API keys", render: () => <Keys /> },
  usage: { label: "Usage", render: () => <Usage /> },
  logs: { label: "Logs", render: () => <Logs /> },
  settings: { label: "Settings", render: () => <Settings /> },
} satisfies Record<string, { label: string; render: () => ReactNode }>;

export type PageId = keyof typeof PAGES;

function pageFromHash(): PageId {
  const id = window.location.hash.replace(/^#\/?/, "").split(/[?&]/)[0] as PageId;
  return id in PAGES ? id : "dashboard";
}

/** Navigation between pages (also used by pages: "go download a model"). */
export function go(page: PageId): void {
  window.location.hash = `/${page}`;
}

function SignIn({ onDone }: { onDone: () => void }) {
  const [value, setValue] = useState("");
  const [error, setError] = useState<string | null>(null);
  const submit = async () => {
    setSessionKey(value.trim());
    try {
      await api("/api/admin/engine");
      onDone();
    } catch (e) {
      signOut();
      setError(e instanceof Error ? e.message : String(e));
    }
  };
  return (
    <Center h="100vh">
      <Paper withBorder p="xl" w={460}>
        <Stack>
          <Title order={2}>MaaS-Base</Title>
          <Text c="dimmed" size="sm">
            Sign in with a management key, or open the one-time link that <code>maas-base serve</code> printed.
          </Text>
          <PasswordInput
            label="Management key"
            placeholder="mb_…"
            value={value}
            onChange={(e) => setValue(e.currentTarget.value)}
            onKeyDown={(e) => e.key === "Enter" && void submit()}
            error={error}
            autoFocus
          />
          <Button onClick={() => void submit()} disabled={!value.trim()}>
            Sign in
          </Button>
        </Stack>
      </Paper>
    </Center>
  );
}

function ServerBadge() {
  const engine = useQuery({
    queryKey: ["engine"],
    queryFn: () => api<{ backend: string }>("/api/admin/engine"),
    refetchInterval: 5000,
  });
  return (
    <Badge color={engine.isError ? "red" : "green"} variant="light" data-testid="server-state">
      {engine.isError ? "server unreachable" : `serving · ${engine.data?.backend ?? "…"}`}
    </Badge>
  );
}

export function App() {
  const [state, setState] = useState<"connecting" | "signed-in" | "signed-out">("connecting");
  const [page, setPage] = useState<PageId>(pageFromHash());
  const [opened, { toggle }] = useDisclosure();

  useEffect(() => {
    void connect().then((ok) => setState(ok ? "signed-in" : "signed-out"));
    const onHash = () => setPage(pageFromHash());
    window.addEventListener("hashchange", onHash);
    return () => window.removeEventListener("hashchange", onHash);
  }, []);

  if (state === "connecting") return <Center h="100vh">Connecting…</Center>;
  if (state === "signed-out") return <SignIn onDone={() => setState("signed-in")} />;

  return (
    <AppShell header={{ height: 52 }} navbar={{ width: 210, breakpoint: "sm", collapsed: { mobile: !opened } }} padding="md">
      <AppShell.Header>
        <Group h="100%" px="md" justify="space-between">
          <Group>
            <Burger opened={opened} onClick={toggle} hiddenFrom="sm" size="sm" aria-label="Menu" />
            <Title order={4}>MaaS-Base</Title>
          </Group>
          <Group>
            <ServerBadge />
            {!desktop() && (
              <Button
                variant="subtle"
                size="xs"
                onClick={() => {
                  signOut();
                  setState("signed-out");
                }}
              >
                Sign out
              </Button>
            )}
          </Group>
        </Group>
      </AppShell.Header>
      <AppShell.Navbar p="xs">
        {(Object.keys(PAGES) as PageId[]).map((id) => (
          <NavLink key={id} label={PAGES[id].label} active={page === id} onClick={() => go(id)} data-testid={`nav-${id}`} />
        ))}
      </AppShell.Navbar>
      <AppShell.Main>{PAGES[page].render()}</AppShell.Main>
    </AppShell>
  );
}
