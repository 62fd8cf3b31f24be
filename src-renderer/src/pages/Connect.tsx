/**
 * "Connect an app": what `maas-base connect <client>` prints, for a client and a model picked
 * here. The page shows the configuration with copy buttons; it writes no files (a browser page
 * should not write into the user's home), and creates the aliases and a key only on the
 * button, showing the key once.
 */
import { Alert, Badge, Button, Card, Code, CopyButton, Group, List, Select, Stack, Table, Text, Title } from "@mantine/core";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import type { ConnectOptionsPublic, ConnectPublic } from "../../../src-main/core/contract/index.js";
import { api } from "../api.js";

const CLIENT_LABELS: Record<string, string> = {
  "claude-code": "Claude Code",
  codex: "Codex",
  opencode: "opencode",
  continue: "Continue",
  "openai-sdk": "OpenAI SDK",
  "anthropic-sdk": "Anthropic SDK",
};

function Copy({ value, label }: { value: string; label: string }) {
  return (
    <CopyButton value={value}>
      {({ copied, copy }) => (
        <Button size="compact-xs" variant="light" onClick={copy} aria-label={`Copy ${label}`}>
          {copied ? "Copied" : "Copy"}
        </Button>
      )}
    </CopyButton>
  );
}

const exports = (env: Record<string, string>) =>
  Object.entries(env)
    .map(([k, v]) => `export ${k}=${JSON.stringify(v)}`)
    .join("\n");

function ContextLine({ result }: { result: ConnectPublic }) {
  const { context, model, client } = result;
  const label = CLIENT_LABELS[client] ?? client;
  return (
    <Text size="sm" data-testid="connect-context">
      '{model}' can get up to {context.possible} tokens of context
      {context.loaded !== null ? `; it is loaded with ${context.loaded} now` : "; it is not loaded yet"}
      {context.pinned ? " (pinned by its context size setting)" : ""}.
      {context.firstRequest !== null ? ` ${label}'s first request is about ${context.firstRequest} tokens.` : ""}{" "}
      {context.fits ? (
        <Badge color="green" variant="light">
          fits
        </Badge>
      ) : (
        <Badge color="red" variant="light">
          too small
        </Badge>
      )}
    </Text>
  );
}

export function Connect() {
  const queryClient = useQueryClient();
  const options = useQuery({ queryKey: ["connect"], queryFn: () => api<ConnectOptionsPublic>("/api/admin/connect") });
  const [client, setClient] = useState<string | null>("claude-code");
  const [model, setModel] = useState<string | null>(null);
  const chosenModel = model ?? options.data?.models[0]?.id ?? null;
  const preview = useQuery({
    queryKey: ["connect", client, chosenModel],
    enabled: client !== null && chosenModel !== null,
    queryFn: () => api<ConnectPublic>("/api/admin/connect", { method: "POST", json: { client, model: chosenModel } }),
  });
  const [created, setCreated] = useState<ConnectPublic | null>(null);
  const create = useMutation({
    mutationFn: () =>
      api<ConnectPublic>("/api/admin/connect", {
        method: "POST",
        json: { client, model: chosenModel, create: true },
      }),
    onSuccess: (result) => {
      setCreated(result);
      void queryClient.invalidateQueries({ queryKey: ["keys"] });
      void queryClient.invalidateQueries({ queryKey: ["routes"] });
    },
  });
  // A created key belongs to the client and model it was made for; another choice goes back to the preview.
  const shown = created && created.client === client && created.model === chosenModel ? created : (preview.data ?? null);

  return (
    <Stack>
      <Title order={1}>Connect an app</Title>
      <Text size="sm" c="dimmed">
        Pick the app and the local model it should use: this shows the exact configuration it needs. The same as{" "}
        <Code>maas-base connect {client ?? "<client>"}</Code> in a terminal, which can also write the files for you.
      </Text>
      <Group align="end">
        <Select
          label="App"
          data={(options.data?.clients ?? []).map((c) => ({ value: c.id, label: CLIENT_LABELS[c.id] ?? c.id }))}
          value={client}
          onChange={setClient}
          allowDeselect={false}
          data-testid="connect-client"
        />
        <Select
          label="Model"
          data={(options.data?.models ?? []).map((m) => ({ value: m.id, label: m.id }))}
          value={chosenModel}
          onChange={setModel}
          allowDeselect={false}
          placeholder={options.data && options.data.models.length === 0 ? "no chat model yet" : undefined}
          data-testid="connect-model"
        />
      </Group>
      {options.data && options.data.models.length === 0 && (
        <Alert color="yellow">There is no chat model in the library yet: add one on the Models page first.</Alert>
      )}
      {preview.error && <Alert color="red">{(preview.error as Error).message}</Alert>}
      {shown && (
        <Stack data-testid="connect-config">
          <Card withBorder>
            <ContextLine result={shown} />
            {shown.aliases.length > 0 && (
              <Table mt="sm" aria-label="Aliases this app needs">
                <Table.Thead>
                  <Table.Tr>
                    <Table.Th>Alias</Table.Th>
                    <Table.Th>Points at</Table.Th>
                    <Table.Th>Needed change</Table.Th>
                  </Table.Tr>
                </Table.Thead>
                <Table.Tbody>
                  {shown.aliases.map((a) => (
                    <Table.Tr key={a.name}>
                      <Table.Td>
                        <Code>{a.name}</Code>
                      </Table.Td>
                      <Table.Td>{a.pointsAt ?? "—"}</Table.Td>
                      <Table.Td>{a.action === "none" ? "none" : `${a.action} → ${shown.model}`}</Table.Td>
                    </Table.Tr>
                  ))}
                </Table.Tbody>
              </Table>
            )}
            <Group mt="sm">
              {shown.key ? (
                <Alert color="green" title="Key created" data-testid="connect-key" style={{ flex: 1 }}>
                  <Group gap="xs">
                    <Code data-testid="connect-key-value" style={{ wordBreak: "break-all" }}>
                      {shown.key}
                    </Code>
                    <Copy value={shown.key} label="the key" />
                  </Group>
                  <Text size="xs" mt={4}>
                    Shown once: it is in the configuration below. {shown.changes.join("; ")}.
                  </Text>
                </Alert>
              ) : (
                <>
                  <Button onClick={() => create.mutate()} loading={create.isPending} data-testid="connect-create">
                    {shown.aliases.some((a) => a.action !== "none") ? "Create the aliases and a key" : "Create a key"}
                  </Button>
                  <Text size="xs" c="dimmed">
                    Until then the configuration shows <Code>{"<your-maas-base-key>"}</Code> where the key goes.
                  </Text>
                </>
              )}
            </Group>
            {create.error && (
              <Alert color="red" mt="sm">
                {(create.error as Error).message}
              </Alert>
            )}
          </Card>
          {Object.keys(shown.env).length > 0 && (
            <Card withBorder>
              <Group justify="space-between">
                <Title order={2}>Environment</Title>
                <Copy value={exports(shown.env)} label="the environment" />
              </Group>
              <Code block mt="xs" tabIndex={0} data-testid="connect-env">
                {exports(shown.env)}
              </Code>
            </Card>
          )}
          {shown.files.map((f) => (
            <Card withBorder key={f.path}>
              <Group justify="space-between">
                <Title order={2} style={{ wordBreak: "break-all" }}>
                  <Code fz="sm">{f.path}</Code>
                </Title>
                <Copy value={f.contents} label={f.path} />
              </Group>
              <Code block mt="xs" tabIndex={0} data-testid="connect-file">
                {f.contents}
              </Code>
            </Card>
          ))}
          <Card withBorder>
            <Group justify="space-between">
              <Title order={2}>Try it</Title>
              <Copy value={shown.try} label="the command" />
            </Group>
            <Code block mt="xs" tabIndex={0}>
              {shown.try}
            </Code>
            {shown.notes.length > 0 && (
              <List size="sm" mt="sm" data-testid="connect-notes">
                {shown.notes.map((n) => (
                  <List.Item key={n}>{n}</List.Item>
                ))}
              </List>
            )}
          </Card>
        </Stack>
      )}
    </Stack>
  );
}
