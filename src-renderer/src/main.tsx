import "@mantine/core/styles.css";
import "@mantine/notifications/styles.css";
import "./app.css";
import { createTheme, localStorageColorSchemeManager, MantineProvider } from "@mantine/core";
import { Notifications } from "@mantine/notifications";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { App } from "./App.js";

const queryClient = new QueryClient({ defaultOptions: { queries: { retry: 1, refetchOnWindowFocus: false } } });
const colorSchemeManager = localStorageColorSchemeManager({ key: "maas-base.color-scheme" });

/**
 * The type scale, set once here: page titles are h1, section titles h2, sub-sections h3;
 * body text is `md`, secondary text `sm`, captions `xs`. Pages use `<Title order>` and
 * `<Text size>` without their own sizes.
 */
const theme = createTheme({
  primaryColor: "indigo",
  // Text on filled colours is black or white, whichever reads (badges, buttons).
  autoContrast: true,
  luminanceThreshold: 0.35,
  primaryShade: { light: 7, dark: 7 },
  defaultRadius: "md",
  fontFamily: "Inter, system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif",
  fontFamilyMonospace: "'JetBrains Mono', ui-monospace, SFMono-Regular, Menlo, monospace",
  fontSizes: { xs: "0.75rem", sm: "0.8125rem", md: "0.875rem", lg: "1rem", xl: "1.125rem" },
  lineHeights: { xs: "1.4", sm: "1.45", md: "1.55", lg: "1.55", xl: "1.6" },
  headings: {
    fontWeight: "700",
    sizes: {
      h1: { fontSize: "1.75rem", lineHeight: "1.2", fontWeight: "750" },
      h2: { fontSize: "1.0625rem", lineHeight: "1.35", fontWeight: "650" },
      h3: { fontSize: "0.9375rem", lineHeight: "1.4", fontWeight: "650" },
      h4: { fontSize: "0.875rem", lineHeight: "1.4", fontWeight: "600" },
    },
  },
  components: {
    Badge: { defaultProps: { tt: "none", radius: "sm", size: "md" } },
    Card: { defaultProps: { radius: "lg", padding: "lg" } },
    Paper: { defaultProps: { radius: "lg" } },
    Table: { defaultProps: { verticalSpacing: "sm" } },
  },
});

const root = document.getElementById("root");
if (root) {
  createRoot(root).render(
    <StrictMode>
      <MantineProvider theme={theme} defaultColorScheme="auto" colorSchemeManager={colorSchemeManager}>
        {/* Bottom right: toasts never cover the header's Sign out. */}
        <Notifications position="bottom-right" />
        <QueryClientProvider client={queryClient}>
          <App />
        </QueryClientProvider>
      </MantineProvider>
    </StrictMode>,
  );
}
