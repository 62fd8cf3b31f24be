import { Text } from "@mantine/core";
import type { Model } from "../types.js";

/** The model's loaded context, and its last reload with a larger one (a prompt did not fit), on the Models page. */
export function ContextReload({ load }: { load: Model["load"] }) {
  if (!load?.contextSize) return null;
  const reload = load.lastReload;
  return (
    <Text size="xs" c="dimmed" data-testid="context-reload">
      context {load.contextSize}
      {reload ? ` · grown from ${reload.from} at ${new Date(reload.at).toLocaleTimeString()}: ${reload.reason}` : ""}
    </Text>
  );
}
