import {
  Alert,
  Badge,
  Button,
  Card,
  Checkbox,
  Code,
  CopyButton,
  Group,
  Modal,
  NumberInput,
  Stack,
  Table,
  TagsInput,
  Text,
  TextInput,
  Title,
} from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import type { KeyCreate, KeyCreated, KeyScope, SessionStatus, SignInLinkPublic } from "../../../src-main/core/contract/index.js";
import { api } from "../api.js";
import type { ApiKey } from "../types.js";

const when = (ms: number | null) => (ms ? new Date(ms).toLocaleString() : "never");

export function Keys() {
  const queryClient = useQueryClient();
  const keys = useQuery({ queryKey: ["keys"], queryFn: () => api<{ data: ApiKey[] }>("/api/admin/keys") });
  const [open, setOpen] = useState(false);
  const [name, setName] = useState("");
  const [scopes, setScopes] = useState<string[]>(["inference"]);
  const [routes, setRoutes] = useState<string[]>([]);
  const [rpm, setRpm] = useState<number | string>("");
  const [tpd, setTpd] = useState<number | string>("");
  const [days, setDays] = useState<number | string>("");
  const [created, setCreated] = useState<string | null>(null);
  const create = useMutation({
    mutationFn: () =>
      api<KeyCreated>("/api/admin/keys", {
        method: "POST",
        json: {
          name,
          scopes: scopes as KeyScope[],
          ...(routes.length ? { allowedRoutes: routes } : {}),
          ...(rpm !== "" ? { rpmLimit: Number(rpm) } : {}),
          ...(tpd !== "" ? { tokensPerDay: Number(tpd) } : {}),
          ...(days !== "" ? { expiresAt: Date.now() + Number(days) * 86_400_000 } : {}),
        } satisfies KeyCreate,
      }),
    onSuccess: (result) => {
      setCreated(result.key);
      setOpen(false);
      setName("");
      void queryClient.invalidateQueries({ queryKey: ["keys"] });
    },
    onError: (e) => notifications.show({ color: "red", title: "Key not created", message: e.message }),
  });
  const revoke = useMutation({
    mutationFn: (id: number) => api(`/api/admin/keys/${id}`, { method: "DELETE" }),
    onSuccess: () => {
      setConfirm(null);
      void queryClient.invalidateQueries({ queryKey: ["keys"] });
    },
    onError: (e) => notifications.show({ color: "red", title: "Key not revoked", message: e.message }),
  });
  const [confirm, setConfirm] = useState<ApiKey | null>(null);
  const [link, setLink] = useState<string | null>(null);
  const makeLink = async () => {
    try {
      setLink((await api<SignInLinkPublic>("/api/admin/sign-in-link", { method: "POST" })).link);
    } catch (e) {
      notifications.show({ color: "red", title: "No link made", message: e instanceof Error ? e.message : String(e) });
    }
  };
  // This browser's own session, so the list can say which row signs this tab in.
  const me = useQuery({
    queryKey: ["session"],
    queryFn: () => api<SessionStatus>("/api/auth/session"),
  });
  const mine = me.data?.session?.id;

  return (
    <Stack>
      <Group justify="space-between">
        <Title order={1}>API keys</Title>
        <Group gap="xs">
          <Button variant="default" onClick={() => void makeLink()} data-testid="new-sign-in-link">
            Sign in another browser
          </Button>
          <Button onClick={() => setOpen(true)} data-testid="new-key">
            New key
          </Button>
        </Group>
      </Group>
      {created && (
        <Alert
          color="green"
          title="Copy your new key now: it is shown only once"
          withCloseButton
          onClose={() => setCreated(null)}
        >
          <Group>
            <Code data-testid="created-key">{created}</Code>
            <CopyButton value={created}>
              {({ copied, copy }) => (
                <Button size="xs" onClick={copy} data-testid="copy-key">
                  {copied ? "Copied" : "Copy"}
                </Button>
              )}
            </CopyButton>
          </Group>
        </Alert>
      )}
      {link && (
        <Alert color="indigo" title="One-time sign-in link (15 minutes)" withCloseButton onClose={() => setLink(null)}>
          <Group>
            <Code data-testid="sign-in-link" style={{ wordBreak: "break-all" }}>
              {link}
            </Code>
            <CopyButton value={link}>
              {({ copied, copy }) => (
                <Button size="xs" onClick={copy}>
                  {copied ? "Copied" : "Copy"}
                </Button>
              )}
            </CopyButton>
          </Group>
        </Alert>
      )}
      <Text size="sm" c="dimmed">
        Keys for apps call <code>/v1</code> (inference scope) or the admin API (management scope). Each browser signed in to this
        app holds a <b>browser session</b> key of its own for 30 days; revoke one to sign that browser out.
      </Text>
      <Card withBorder p={0} className="stack-host keys-card">
        <Table verticalSpacing="sm" highlightOnHover className="stack-table">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Name</Table.Th>
              <Table.Th>Key</Table.Th>
              <Table.Th>Scopes</Table.Th>
              <Table.Th>Routes</Table.Th>
              <Table.Th>Limits</Table.Th>
              <Table.Th>Last used</Table.Th>
              <Table.Th>Expires</Table.Th>
              <Table.Th>
                <span className="visually-hidden">Actions</span>
              </Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {keys.data?.data.map((k) => (
              <Table.Tr key={k.id} style={{ opacity: k.revokedAt ? 0.6 : 1 }} data-testid="key-row">
                <Table.Td className="cell-wide">
                  <Group gap={6} wrap="nowrap">
                    <Text size="sm" fw={600}>
                      {k.name}
                    </Text>
                    {k.id === mine && (
                      <Badge color="teal" variant="light" className="badge-full" data-testid="this-browser">
                        this browser
                      </Badge>
                    )}
                  </Group>
                </Table.Td>
                <Table.Td data-label="Key" className="cell-wide">
                  <Code>{k.maskedValue}</Code>
                </Table.Td>
                <Table.Td data-label="Scopes">
                  {k.scopes.map((s) => (
                    <Badge key={s} variant="light" mr={4}>
                      {s}
                    </Badge>
                  ))}
                </Table.Td>
                <Table.Td data-label="Routes">{k.allowedRoutes?.join(", ") ?? "all"}</Table.Td>
                <Table.Td data-label="Limits">
                  {[k.rpmLimit ? `${k.rpmLimit}/min` : null, k.tokensPerDay ? `${k.tokensPerDay} tok/day` : null]
                    .filter(Boolean)
                    .join(" · ") || "none"}
                </Table.Td>
                <Table.Td data-label="Last used">{when(k.lastUsedAt)}</Table.Td>
                <Table.Td data-label="Expires">{k.expiresAt ? when(k.expiresAt) : "never"}</Table.Td>
                <Table.Td className="cell-wide">
                  {k.revokedAt ? (
                    <Badge color="gray">revoked</Badge>
                  ) : (
                    <Button
                      size="compact-sm"
                      color="red"
                      variant="light"
                      onClick={() => setConfirm(k)}
                      data-testid={`revoke-${k.id}`}
                    >
                      Revoke
                    </Button>
                  )}
                </Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      </Card>
      <Modal opened={confirm !== null} onClose={() => setConfirm(null)} title="Revoke this key?">
        <Stack>
          <Text>
            <b>{confirm?.name}</b> stops working at once
            {confirm?.id === mine ? ": this is this browser's own session, so you will be signed out" : ""}. This cannot be
            undone.
          </Text>
          <Group justify="flex-end">
            <Button variant="default" onClick={() => setConfirm(null)}>
              Keep it
            </Button>
            <Button
              color="red"
              loading={revoke.isPending}
              onClick={() => confirm && revoke.mutate(confirm.id)}
              data-testid="confirm-revoke"
            >
              Revoke
            </Button>
          </Group>
        </Stack>
      </Modal>
      <Modal opened={open} onClose={() => setOpen(false)} title="New API key">
        <Stack>
          <TextInput label="Name" value={name} onChange={(e) => setName(e.currentTarget.value)} data-testid="key-name" />
          <Checkbox.Group label="Scopes" value={scopes} onChange={setScopes}>
            <Group mt={4}>
              <Checkbox value="inference" label="inference (/v1…)" />
              <Checkbox value="management" label="management (/api/admin)" />
            </Group>
          </Checkbox.Group>
          <TagsInput label="Allowed models or routes (empty = all)" value={routes} onChange={setRoutes} />
          <Group grow>
            <NumberInput label="Requests per minute" value={rpm} onChange={setRpm} min={1} />
            <NumberInput label="Tokens per day" value={tpd} onChange={setTpd} min={1} />
          </Group>
          <NumberInput label="Expires in days (empty = never)" value={days} onChange={setDays} min={1} />
          <Text size="xs" c="dimmed">
            Only a hash of the key is stored; you will see the key once.
          </Text>
          <Button
            onClick={() => create.mutate()}
            disabled={!name.trim() || scopes.length === 0}
            loading={create.isPending}
            data-testid="create-key"
          >
            Create
          </Button>
        </Stack>
      </Modal>
    </Stack>
  );
}
