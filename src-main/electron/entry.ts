// The main process entry. Engine processes size their own libuv pool (one thread, set by
// the supervisor when it starts them); the main process keeps Node's default.
await import("./main.js");
