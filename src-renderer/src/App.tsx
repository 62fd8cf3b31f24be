import { useEffect, useState } from "react";

interface Connection {
  url: string;
  managementKey: string;
}

interface ModelRow {
  id: string;
  architecture: string | null;
  capabilities: string[];
  sizeBytes: number;
}

declare global {
  interface Window {
    maasBase?: { connection: () => Promise<Connection | null> };
  }
}

/** A first window: server URL and the model library, read over the admin API. The full app comes with its own issue. */
export function App() {
  const [connection, setConnection] = useState<Connection | null>(null);
  const [models, setModels] = useState<ModelRow[]>([]);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    void window.maasBase?.connection().then(setConnection);
  }, []);

  useEffect(() => {
    if (!connection) return;
    fetch(`${connection.url}/api/admin/models`, { headers: { authorization: `Bearer ${connection.managementKey}` } })
      .then(async (res) => {
        if (!res.ok) throw new Error(`HTTP ${res.status}`);
        setModels(((await res.json()) as { data: ModelRow[] }).data);
      })
      .catch((e: unknown) => setError(String(e)));
  }, [connection]);

  return (
    <main style={{ fontFamily: "system-ui, sans-serif", padding: 24 }}>
      <h1>MaaS-Base</h1>
      <p>{connection ? `Serving on ${connection.url}/v1` : "Starting…"}</p>
      {error && <p role="alert">{error}</p>}
      <table>
        <thead>
          <tr>
            <th>Model</th>
            <th>Architecture</th>
            <th>Capabilities</th>
            <th>Size</th>
          </tr>
        </thead>
        <tbody>
          {models.map((m) => (
            <tr key={m.id}>
              <td>{m.id}</td>
              <td>{m.architecture ?? "?"}</td>
              <td>{m.capabilities.join(", ")}</td>
              <td>{(m.sizeBytes / 1024 / 1024).toFixed(1)} MB</td>
            </tr>
          ))}
        </tbody>
      </table>
    </main>
  );
}
