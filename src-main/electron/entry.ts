// The main process entry. libuv sizes its thread pool on first use, and the engine decodes
// faster with one pool thread (see bin/maas-base.mjs), so set it before anything else loads.
process.env.UV_THREADPOOL_SIZE ??= "1";
await import("./main.js");
