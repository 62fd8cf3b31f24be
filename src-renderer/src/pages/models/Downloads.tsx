import { Alert, Badge, Button, Card, Group, Modal, Progress, Stack, Text, Title } from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { useMutation } from "@tanstack/react-query";
import { useState } from "react";
import { api, formatBytes } from "../../api.js";
import { Icon } from "../../icons.js";
import type { Download } from "../../types.js";

const fail = (title: string) => (e: unknown) =>
  notifications.show({ color: "red", title, message: e instanceof Error ? e.message : String(e) });

/** "1 min 20 s", "45 s": the time left, in words. */
export function formatSeconds(seconds: number): string {
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ${seconds % 60} s`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

const STATUS_COLOR: Record<Download["status"], string> = {
  queued: "gray",
  downloading: "indigo",
  paused: "yellow",
  verifying: "indigo",
  done: "green",
  failed: "red",
  cancelled: "gray",
};

/** What is happening, with speed and time left once a second or more of progress was measured. */
function progressLine(d: Download): string {
  const amount = `${formatBytes(d.downloadedBytes)} of ${formatBytes(d.totalBytes)}`;
  if (d.status === "downloading") {
    if (d.speed <= 0) return `${amount} · measuring speed…`;
    return `${amount} · ${formatBytes(d.speed)}/s${d.etaSeconds !== null ? ` · ${formatSeconds(d.etaSeconds)} left` : ""}`;
  }
  if (d.status === "paused") return `${amount} · paused: Resume continues from here`;
  if (d.status === "verifying") return "checking the file's SHA-256…";
  if (d.status === "done") return formatBytes(d.totalBytes);
  if (d.status === "failed" && d.downloadedBytes > 0) return `${amount} kept: Try again continues from there`;
  return amount;
}

function DownloadRow({ d, onCancel }: { d: Download; onCancel: (d: Download) => void }) {
  const pause = useMutation({
    mutationFn: () => api(`/api/admin/downloads/${d.id}/pause`, { method: "POST" }),
    onError: fail("Could not pause"),
  });
  const retry = useMutation({
    mutationFn: () => api(`/api/admin/downloads/${d.id}/retry`, { method: "POST" }),
    onError: fail("Could not resume"),
  });
  const pct = d.totalBytes ? (d.downloadedBytes / d.totalBytes) * 100 : 0;
  const running = d.status === "downloading" || d.status === "queued";
  return (
    <div data-testid="download" data-status={d.status}>
      <Group justify="space-between" wrap="wrap" gap="xs">
        <Group gap="xs" wrap="nowrap" style={{ minWidth: 0 }}>
          <Text size="sm" fw={600} truncate="end">
            {d.fileName}
          </Text>
          <Badge variant="light" color={STATUS_COLOR[d.status]} data-testid="download-status">
            {d.status}
          </Badge>
        </Group>
        <Group gap="xs">
          {running && (
            <Button size="xs" variant="default" onClick={() => pause.mutate()} data-testid="download-pause">
              Pause
            </Button>
          )}
          {d.status === "paused" && (
            <Button
              size="xs"
              variant="light"
              leftSection={<Icon name="play" size={14} />}
              onClick={() => retry.mutate()}
              data-testid="download-resume"
            >
              Resume
            </Button>
          )}
          {(d.status === "failed" || d.status === "cancelled") && (
            <Button
              size="xs"
              variant="light"
              leftSection={<Icon name="download" size={14} />}
              onClick={() => retry.mutate()}
              data-testid="download-retry"
            >
              {d.downloadedBytes > 0 ? "Try again" : "Download again"}
            </Button>
          )}
          {(running || d.status === "paused") && (
            <Button
              size="xs"
              variant="outline"
              color="red"
              leftSection={<Icon name="trash" size={14} />}
              onClick={() => onCancel(d)}
              data-testid="download-cancel"
            >
              Cancel
            </Button>
          )}
        </Group>
      </Group>
      <Progress
        mt={6}
        value={d.status === "done" ? 100 : pct}
        color={STATUS_COLOR[d.status]}
        animated={d.status === "downloading"}
        aria-label={`Download of ${d.fileName}`}
      />
      <Text size="xs" c="dimmed" mt={4} data-testid="download-progress">
        {progressLine(d)}
      </Text>
      {d.error && (
        <Alert color="red" mt={6} p="xs" data-testid="download-error">
          <Text size="sm">{d.error}</Text>
        </Alert>
      )}
    </div>
  );
}

/** The downloads list: pause keeps the partial file, Resume continues it, Cancel (asked first) deletes it. */
export function Downloads({ downloads }: { downloads: Download[] }) {
  const [cancelling, setCancelling] = useState<Download | null>(null);
  const cancel = useMutation({
    mutationFn: (id: string) => api(`/api/admin/downloads/${id}`, { method: "DELETE" }),
    onSuccess: () => setCancelling(null),
    onError: fail("Cancel failed"),
  });
  if (downloads.length === 0) return null;
  return (
    <Card withBorder>
      <Title order={2}>Downloads</Title>
      <Stack mt="sm" gap="md">
        {downloads.slice(0, 10).map((d) => (
          <DownloadRow key={d.id} d={d} onCancel={setCancelling} />
        ))}
      </Stack>
      <Modal opened={cancelling !== null} onClose={() => setCancelling(null)} title="Cancel this download?">
        <Text size="sm">
          <b>{cancelling?.fileName}</b>: the {formatBytes(cancelling?.downloadedBytes ?? 0)} downloaded so far will be deleted. To
          stop for now and continue later, use Pause instead.
        </Text>
        <Group justify="flex-end" mt="md">
          <Button variant="default" onClick={() => setCancelling(null)}>
            Keep downloading
          </Button>
          <Button
            color="red"
            loading={cancel.isPending}
            onClick={() => cancelling && cancel.mutate(cancelling.id)}
            data-testid="confirm-cancel-download"
          >
            Cancel and delete
          </Button>
        </Group>
      </Modal>
    </Card>
  );
}
