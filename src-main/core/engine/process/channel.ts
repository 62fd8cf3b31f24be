/**
 * The child side of the engine IPC: Electron's `process.parentPort` inside a
 * utility process, Node's `process.send` / `process.on("message")` inside a fork.
 */
export interface ParentChannel {
  send(message: unknown): void;
  onMessage(listener: (message: unknown) => void): void;
  /** Called when the parent goes away (the engine should exit). */
  onDisconnect(listener: () => void): void;
}

interface ParentPort {
  on(event: "message", listener: (event: { data: unknown }) => void): void;
  postMessage(message: unknown): void;
}

export function parentChannel(): ParentChannel {
  const port = (process as unknown as { parentPort?: ParentPort }).parentPort;
  if (port) {
    return {
      send: (message) => port.postMessage(message),
      onMessage: (listener) => port.on("message", (event) => listener(event.data)),
      // A utility process is killed with its parent.
      onDisconnect: () => {},
    };
  }
  if (!process.send) throw new Error("the engine process was started without an IPC channel");
  return {
    send: (message) => {
      if (process.connected) process.send?.(message as object);
    },
    onMessage: (listener) => process.on("message", listener),
    onDisconnect: (listener) => process.on("disconnect", listener),
  };
}
