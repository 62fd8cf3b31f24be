/** The app's pages, addressed as `#/<id>` (a hash, so the core serves one index.html for all). */
export const PAGE_IDS = ["dashboard", "models", "playground", "routes", "keys", "connect", "usage", "logs", "settings"] as const;
export type PageId = (typeof PAGE_IDS)[number];

export const PAGE_LABELS: Record<PageId, string> = {
  dashboard: "Dashboard",
  models: "Models",
  playground: "Playground",
  routes: "Routes",
  keys: "API keys",
  connect: "Connect an app",
  usage: "Usage",
  logs: "Logs",
  settings: "Settings",
};

/** The navigation in groups (every page once, in PAGE_IDS order). */
export const PAGE_GROUPS: ReadonlyArray<{ label: string; pages: readonly PageId[] }> = [
  { label: "Serve", pages: ["dashboard", "models", "playground", "routes"] },
  { label: "Access", pages: ["keys", "connect"] },
  { label: "Observe", pages: ["usage", "logs"] },
  { label: "Server", pages: ["settings"] },
];

export const isPage = (id: string): id is PageId => (PAGE_IDS as readonly string[]).includes(id);

export const pageHref = (page: PageId): string => `#/${page}`;

/** Navigation between pages (also used by pages: "go download a model"). */
export function go(page: PageId): void {
  window.location.hash = `/${page}`;
}
