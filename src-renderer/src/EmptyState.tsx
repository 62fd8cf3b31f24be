import { Box, Group, Stack, Text } from "@mantine/core";
import type { ReactNode } from "react";
import { Icon, type IconName } from "./icons.js";

/** Nothing here yet: what this place will show, and the next step (a button or two) to fill it. */
export function EmptyState({
  icon,
  title,
  children,
  actions,
  testId,
}: {
  icon: IconName;
  title: string;
  children?: ReactNode;
  actions?: ReactNode;
  testId?: string;
}) {
  return (
    <Stack className="empty-state" align="center" gap={6} data-testid={testId}>
      <Box className="empty-state-icon">
        <Icon name={icon} size={22} />
      </Box>
      <Text fw={650}>{title}</Text>
      {children && (
        <Text size="sm" c="dimmed" ta="center" maw={520}>
          {children}
        </Text>
      )}
      {actions && (
        <Group gap="xs" mt={6} justify="center">
          {actions}
        </Group>
      )}
    </Stack>
  );
}
