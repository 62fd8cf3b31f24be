/**
 * A Hugging Face-like server for the e2e download spec (the same FakeHub the
 * integration tests use), serving a generated model slowly enough to watch.
 * Prints its URL on stdout.
 */
import { join } from "node:path";
import { writeTinyLlama } from "../src-main/core/fixtures/tinyModels.js";
import { FakeHub } from "../tests/helpers/fakeHub.js";

const dir = process.argv[2] as string;
const file = join(dir, "hub-model.gguf");
writeTinyLlama(file, { layers: 4, embedding: 256, heads: 4, feedForward: 512, type: "f16", seed: 9 });
const hub = new FakeHub();
hub.addRepo("acme/demo-GGUF", [{ path: "demo-Q8_0.gguf", file }]);
hub.behaviour = { bytesPerSecond: 1024 * 1024 };
process.stdout.write(`${await hub.start()}\n`);
process.on("SIGTERM", () => void hub.stop().then(() => process.exit(0)));
