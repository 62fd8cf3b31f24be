import { Alert, Badge, Button, Card, Group, Loader, Stack, Table, Text, TextInput, Title } from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { useMutation, useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { api, formatBytes } from "../../api.js";
import { Icon } from "../../icons.js";

const refused = (e: unknown) =>
  notifications.show({ color: "red", title: "Download refused", message: e instanceof Error ? e.message : String(e) });

/** Paste an `hf:` reference or a huggingface.co link (the same forms `maas-base models pull` takes). */
function PullByReference() {
  const [ref, setRef] = useState("");
  const [error, setError] = useState<string | null>(null);
  const pull = useMutation({
    mutationFn: (value: string) => api("/api/admin/downloads", { method: "POST", json: { ref: value } }),
    onSuccess: () => {
      setRef("");
      setError(null);
      notifications.show({ message: "Download started; it shows under Downloads." });
    },
    onError: (e) => setError(e.message),
  });
  return (
    <form
      onSubmit={(e) => {
        e.preventDefault();
        if (ref.trim()) pull.mutate(ref.trim());
      }}
    >
      <Group align="flex-start" wrap="wrap">
        <TextInput
          label="Download by reference or link"
          description="hf:owner/repo/file.gguf, hf:owner/repo:Q4_K_M, or a huggingface.co file link"
          placeholder="hf:Qwen/Qwen2.5-0.5B-Instruct-GGUF:Q4_K_M"
          value={ref}
          onChange={(e) => {
            setRef(e.currentTarget.value);
            setError(null);
          }}
          error={error}
          style={{ flex: "1 1 280px" }}
          data-testid="hf-ref"
        />
        <Button type="submit" mt={{ base: 0, sm: 42 }} disabled={!ref.trim()} loading={pull.isPending} data-testid="hf-ref-pull">
          Start download
        </Button>
      </Group>
    </form>
  );
}

interface HfFileRow {
  path: string;
  size: number;
  quantization: string | null;
  fits: boolean;
}

function RepoFiles({ repo }: { repo: string }) {
  const files = useQuery({
    queryKey: ["hf-files", repo],
    queryFn: () => api<{ data: HfFileRow[] }>(`/api/admin/hf/files?repo=${encodeURIComponent(repo)}`),
    retry: false,
  });
  const pull = useMutation({
    mutationFn: (ref: string) => api("/api/admin/downloads", { method: "POST", json: { ref } }),
    onError: refused,
  });
  if (files.isPending)
    return (
      <Group gap="xs" mt="sm" data-testid="hf-files-loading">
        <Loader size="xs" aria-label="Listing files" />
        <Text size="sm">Listing the GGUF files of {repo}…</Text>
      </Group>
    );
  if (files.error)
    return (
      <Alert color="red" mt="sm" title={`Cannot list ${repo}`} data-testid="hf-files-error">
        {files.error.message}
      </Alert>
    );
  if (files.data.data.length === 0)
    return (
      <Text size="sm" mt="sm" data-testid="hf-files-empty">
        {repo} has no GGUF files. Look for a repository whose name ends in -GGUF.
      </Text>
    );
  return (
    <Table.ScrollContainer minWidth={480} mt="sm">
      <Table verticalSpacing="xs">
        <Table.Thead>
          <Table.Tr>
            <Table.Th>File in {repo}</Table.Th>
            <Table.Th>Quantization</Table.Th>
            <Table.Th>Size</Table.Th>
            <Table.Th>Fit</Table.Th>
            <Table.Th />
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {files.data.data.map((f) => (
            <Table.Tr key={f.path}>
              <Table.Td style={{ overflowWrap: "anywhere" }}>{f.path}</Table.Td>
              <Table.Td>{f.quantization ?? "?"}</Table.Td>
              <Table.Td style={{ whiteSpace: "nowrap" }}>{formatBytes(f.size)}</Table.Td>
              <Table.Td>
                <Badge variant="light" color={f.fits ? "green" : "red"}>
                  {f.fits ? "fits" : "too big"}
                </Badge>
              </Table.Td>
              <Table.Td>
                <Button
                  size="xs"
                  leftSection={<Icon name="download" size={14} />}
                  onClick={() => pull.mutate(`hf:${repo}/${f.path}`)}
                >
                  Download
                </Button>
              </Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </Table.ScrollContainer>
  );
}

/** Search Hugging Face for GGUF repositories, list a repository's files, or paste a reference. */
export function HuggingFaceSearch() {
  const [q, setQ] = useState("");
  const [query, setQuery] = useState("");
  const [repo, setRepo] = useState<string | null>(null);
  const search = useQuery({
    queryKey: ["hf", query],
    queryFn: () => api<{ data: Array<{ id: string; downloads: number }> }>(`/api/admin/hf/search?q=${encodeURIComponent(query)}`),
    enabled: Boolean(query),
    retry: false,
  });
  // A name like owner/repo is a repository: list it straight away (a 404 or a gated one says so).
  const run = () => {
    const text = q.trim();
    if (!text) return;
    setRepo(/^[\w.-]+\/[\w.-]+$/.test(text) ? text : null);
    setQuery(text);
  };
  return (
    <Card withBorder>
      <Title order={2}>Get models from Hugging Face</Title>
      <Stack mt="xs" gap="md">
        <form
          onSubmit={(e) => {
            e.preventDefault();
            run();
          }}
        >
          <Group align="flex-end" wrap="wrap">
            <TextInput
              label="Search GGUF repositories"
              placeholder="e.g. qwen2.5 0.5b, or owner/repo"
              value={q}
              onChange={(e) => setQ(e.currentTarget.value)}
              style={{ flex: "1 1 280px" }}
              data-testid="hf-search"
            />
            <Button type="submit" disabled={!q.trim()} loading={search.isFetching}>
              Search
            </Button>
          </Group>
        </form>
        {search.isFetching && (
          <Group gap="xs" data-testid="hf-searching">
            <Loader size="xs" aria-label="Searching" />
            <Text size="sm">Searching Hugging Face for “{query}”…</Text>
          </Group>
        )}
        {search.error && (
          <Alert color="red" title="Search failed" data-testid="hf-search-error">
            {search.error.message}
          </Alert>
        )}
        {search.data && !search.isFetching && search.data.data.length === 0 && (
          <Text size="sm" data-testid="hf-no-results">
            No GGUF repositories match “{query}”. Try fewer words, or a model family such as “qwen” or “llama”.
          </Text>
        )}
        {search.data && search.data.data.length > 0 && (
          <Group gap="xs" data-testid="hf-results">
            {search.data.data.map((r) => (
              <Button key={r.id} size="compact-sm" variant={repo === r.id ? "filled" : "light"} onClick={() => setRepo(r.id)}>
                {r.id}
              </Button>
            ))}
          </Group>
        )}
        {repo && <RepoFiles repo={repo} />}
        <PullByReference />
      </Stack>
    </Card>
  );
}
