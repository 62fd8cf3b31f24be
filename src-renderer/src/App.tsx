import {
  Alert,
  AppShell,
  Badge,
  Box,
  Burger,
  Button,
  Center,
  Group,
  Loader,
  NavLink,
  Paper,
  PasswordInput,
  Stack,
  Text,
  Title,
  useMantineColorScheme,
} from "@mantine/core";
import { useDisclosure } from "@mantine/hooks";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { type ComponentType, lazy, Suspense, useCallback, useEffect, useState } from "react";
import type { EnginePublic } from "../../src-main/core/contract/index.js";
import { ApiFailure, api, connect, desktop, exchangeCode, onSignedOut, signInCode, signInWithKey, signOut } from "./api.js";
import { Icon, Logo } from "./icons.js";
import { isPage, PAGE_GROUPS, PAGE_LABELS, type PageId, pageHref } from "./nav.js";

export type { PageId } from "./nav.js";

// Each page is its own chunk: the first screen loads only the shell and the page it shows.
const named = <K extends string>(load: () => Promise<Record<K, ComponentType>>, name: K) =>
  lazy(async () => ({ default: (await load())[name] }));
const PAGES: Record<PageId, ComponentType> = {
  dashboard: named(() => import("./pages/Dashboard.js"), "Dashboard"),
  models: named(() => import("./pages/Models.js"), "Models"),
  playground: named(() => import("./pages/Playground.js"), "Playground"),
  routes: named(() => import("./pages/Routes.js"), "Routes"),
  keys: named(() => import("./pages/Keys.js"), "Keys"),
  connect: named(() => import("./pages/Connect.js"), "Connect"),
  usage: named(() => import("./pages/Usage.js"), "Usage"),
  logs: named(() => import("./pages/Usage.js"), "Logs"),
  settings: named(() => import("./pages/Settings.js"), "Settings"),
};

/** The last unknown address corrected (the dashboard says it was not found). */
let notFound: string | null = null;

/** The page an address names; an unknown `#/…` address is corrected to the dashboard's, and remembered. */
function pageFromHash(): PageId {
  const id = window.location.hash.replace(/^#\/?/, "").split(/[?&/]/)[0] ?? "";
  notFound = null;
  if (isPage(id)) return id;
  if (!signInCode(window.location.hash)) {
    if (id) notFound = window.location.hash;
    history.replaceState(null, "", `${window.location.pathname}${pageHref("dashboard")}`);
  }
  return "dashboard";
}

function SignIn({ problem, onDone }: { problem: string | null; onDone: () => void }) {
  const [value, setValue] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [linkProblem, setLinkProblem] = useState<string | null>(problem);
  const [busy, setBusy] = useState(false);

  // A sign-in link pasted into this tab's address bar only changes the hash: act on it.
  useEffect(() => {
    const onHash = () => {
      const code = signInCode(window.location.hash);
      if (!code) return;
      setBusy(true);
      exchangeCode(code).then(
        () => onDone(),
        (e: unknown) => {
          setBusy(false);
          setLinkProblem(e instanceof Error ? e.message : String(e));
        },
      );
    };
    window.addEventListener("hashchange", onHash);
    return () => window.removeEventListener("hashchange", onHash);
  }, [onDone]);

  const submit = async () => {
    setBusy(true);
    try {
      await signInWithKey(value);
      onDone();
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
      setBusy(false);
    }
  };
  return (
    <Center mih="100vh" p="md" component="main">
      <Paper withBorder shadow="sm" p="xl" w={480} maw="100%" className="signin-card">
        <form
          onSubmit={(e) => {
            e.preventDefault();
            void submit();
          }}
        >
          <Stack>
            <Group gap="sm">
              <Logo size={36} />
              <Title order={1}>Sign in to MaaS-Base</Title>
            </Group>
            {linkProblem && (
              <Alert color="red" title="The sign-in link did not work" data-testid="signin-problem">
                {linkProblem}
              </Alert>
            )}
            <Text size="sm">
              Open the one-time link that <code>maas-base serve</code> printed when it started (a new one on every start), or
              paste a key with the <b>management</b> scope. This browser then stays signed in for 30 days.
            </Text>
            <PasswordInput
              label="Management key"
              placeholder="mb_…"
              value={value}
              onChange={(e) => setValue(e.currentTarget.value)}
              error={error}
              autoFocus
            />
            <Button type="submit" disabled={!value.trim()} loading={busy}>
              Sign in
            </Button>
            <Text size="xs" c="dimmed">
              No key yet? <code>maas-base keys create --name me --scope inference,management</code>
            </Text>
          </Stack>
        </form>
      </Paper>
    </Center>
  );
}

function ServerBadge() {
  const engine = useQuery({
    queryKey: ["engine"],
    queryFn: () => api<EnginePublic>("/api/admin/engine"),
    refetchInterval: 5000,
    retry: false,
  });
  const unreachable = engine.error instanceof ApiFailure && engine.error.status === 0;
  return (
    <Badge color={engine.isError ? "red" : "green"} variant="light" data-testid="server-state" size="lg">
      {engine.isError ? (unreachable ? "server unreachable" : "server error") : `serving · ${engine.data?.backend ?? "…"}`}
    </Badge>
  );
}

/** While the server cannot be reached every action is disabled (one fieldset), with a banner saying why. */
function useServerReachable(): boolean {
  const engine = useQuery({ queryKey: ["engine"], queryFn: () => api<EnginePublic>("/api/admin/engine"), retry: false });
  return !(engine.error instanceof ApiFailure && engine.error.status === 0);
}

function ThemeToggle() {
  const { colorScheme, setColorScheme } = useMantineColorScheme();
  const dark = colorScheme === "dark";
  return (
    <Button
      variant="subtle"
      size="compact-md"
      px={6}
      aria-label={dark ? "Use the light theme" : "Use the dark theme"}
      onClick={() => setColorScheme(dark ? "light" : "dark")}
      data-testid="theme-toggle"
    >
      <Icon name={dark ? "sun" : "moon"} />
    </Button>
  );
}

function Shell({ onSignOut }: { onSignOut: () => void }) {
  const [page, setPage] = useState<PageId>(pageFromHash());
  const [missing, setMissing] = useState<string | null>(notFound);
  const [opened, { toggle, close }] = useDisclosure();
  const reachable = useServerReachable();

  useEffect(() => {
    const onHash = () => {
      setPage(pageFromHash());
      setMissing(notFound);
      close();
    };
    window.addEventListener("hashchange", onHash);
    return () => window.removeEventListener("hashchange", onHash);
  }, [close]);
  useEffect(() => {
    document.title = `${PAGE_LABELS[page]} · MaaS-Base`;
  }, [page]);

  const Page = PAGES[page];
  return (
    <AppShell
      header={{ height: 56 }}
      navbar={{ width: 220, breakpoint: "sm", collapsed: { mobile: !opened } }}
      padding={{ base: "sm", sm: "lg" }}
    >
      <AppShell.Header>
        <Group h="100%" px="md" justify="space-between" wrap="nowrap">
          <Group gap="sm" wrap="nowrap">
            <Burger opened={opened} onClick={toggle} hiddenFrom="sm" size="sm" aria-label="Menu" />
            <Logo />
            <Box visibleFrom="xs">
              <Text fw={750} size="lg" lh={1.15}>
                MaaS-Base
              </Text>
              <Text size="xs" c="dimmed" lh={1.2} visibleFrom="md">
                Local models, one API
              </Text>
            </Box>
          </Group>
          <Group gap="xs" wrap="nowrap">
            <ServerBadge />
            <ThemeToggle />
            {!desktop() && (
              <Button
                variant="subtle"
                size="compact-md"
                leftSection={<Icon name="logout" size={16} />}
                onClick={onSignOut}
                aria-label="Sign out"
                data-testid="sign-out"
              >
                <Box component="span" visibleFrom="sm">
                  Sign out
                </Box>
              </Button>
            )}
          </Group>
        </Group>
      </AppShell.Header>
      <AppShell.Navbar p="xs" component="nav" aria-label="Pages">
        {PAGE_GROUPS.map((group) => (
          <Box key={group.label} className="nav-group">
            <Text size="xs" c="dimmed" fw={600} className="nav-group-label">
              {group.label}
            </Text>
            {group.pages.map((id) => (
              <NavLink
                key={id}
                component="a"
                href={pageHref(id)}
                label={PAGE_LABELS[id]}
                leftSection={<Icon name={id} />}
                active={page === id}
                aria-current={page === id ? "page" : undefined}
                data-testid={`nav-${id}`}
                onClick={close}
                className="nav-link"
              />
            ))}
          </Box>
        ))}
      </AppShell.Navbar>
      <AppShell.Main>
        {!reachable && (
          <Alert color="red" title="The server is not reachable" mb="md" data-testid="offline">
            The app cannot reach the MaaS-Base server; it may have been stopped. Actions are paused until it answers again
            (checked every 5 seconds).
          </Alert>
        )}
        {missing && (
          <Alert
            color="yellow"
            title="Page not found"
            mb="md"
            withCloseButton
            closeButtonLabel="Dismiss"
            onClose={() => setMissing(null)}
            data-testid="not-found"
          >
            There is no page at <code>{missing}</code>; here is the Dashboard. The pages are in the menu.
          </Alert>
        )}
        <fieldset disabled={!reachable} style={{ border: 0, margin: 0, padding: 0, minWidth: 0 }}>
          <Suspense
            fallback={
              <Center h={200}>
                <Loader aria-label="Loading the page" />
              </Center>
            }
          >
            <Page />
          </Suspense>
        </fieldset>
      </AppShell.Main>
    </AppShell>
  );
}

export function App() {
  const [state, setState] = useState<"connecting" | "signed-in" | "signed-out">("connecting");
  const [problem, setProblem] = useState<string | null>(null);
  const queryClient = useQueryClient();

  useEffect(() => {
    void connect().then((result) => {
      if ("session" in result) setState("signed-in");
      else {
        setProblem(result.problem);
        setState("signed-out");
      }
    });
    onSignedOut((reason) => {
      if (desktop()) return;
      setProblem(`You were signed out: ${reason}`);
      setState("signed-out");
    });
  }, []);

  const signedIn = useCallback(() => {
    queryClient.clear();
    setProblem(null);
    if (!isPage(window.location.hash.replace(/^#\/?/, ""))) history.replaceState(null, "", pageHref("dashboard"));
    setState("signed-in");
  }, [queryClient]);

  if (state === "connecting")
    return (
      <Center h="100vh">
        <Loader aria-label="Connecting" />
      </Center>
    );
  if (state === "signed-out") return <SignIn problem={problem} onDone={signedIn} />;
  return (
    <Shell
      onSignOut={() => {
        void signOut().then(() => {
          queryClient.clear();
          setProblem(null);
          setState("signed-out");
        });
      }}
    />
  );
}
