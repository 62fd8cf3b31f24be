/**
 * One desktop session: the core the window talks to and the one credential the window
 * holds. The credential lives in memory only (never a row in the keys table, never in
 * the Keys page), and is revoked when the server stops or the app quits, so launches
 * leave no keys behind.
 */
import type { SessionCredential } from "../core/domain/apiKeys.js";
import type { Core } from "../core/index.js";
import type { ConnectionInfo } from "../preload/api.js";

export class DesktopSession {
  private core: Core | null = null;
  private credential: SessionCredential | null = null;
  private info: ConnectionInfo | null = null;

  constructor(private readonly makeCore: () => Core) {}

  /** What the preload hands the renderer; null while stopped. */
  get connection(): ConnectionInfo | null {
    return this.info;
  }

  get running(): Core | null {
    return this.core;
  }

  /** Starts the core and mints the window's credential. A failed start leaves nothing running. */
  async start(): Promise<ConnectionInfo> {
    if (this.info) return this.info;
    const core = this.makeCore();
    try {
      const url = await core.start();
      this.credential = core.keys.createSession("desktop window", ["inference", "management"]);
      this.core = core;
      this.info = { url, managementKey: this.credential.key };
      return this.info;
    } catch (error) {
      await core.stop().catch(() => {});
      throw error;
    }
  }

  /** Revokes the credential first (nothing can use it while the core winds down), then stops the core. */
  async stop(): Promise<void> {
    const core = this.core;
    this.credential?.revoke();
    this.credential = null;
    this.info = null;
    this.core = null;
    await core?.stop();
  }
}
