/**
 * A Hugging Face-like server for the e2e download spec (the same FakeHub the
 * integration tests use), serving generated models slowly enough to watch, a
 * gated repository, one whose checksum lies, and a search that cannot connect.
 * `GET /__requests` lists what it was asked (with each `Range`). Prints its URL on stdout.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { writeTinyLlama } from "../src-main/core/fixtures/tinyModels.js";
import { FakeHub } from "../tests/helpers/fakeHub.js";

const dir = process.argv[2] as string;
const file = join(dir, "hub-model.gguf");
writeTinyLlama(file, { layers: 4, embedding: 256, heads: 4, feedForward: 512, type: "f16", seed: 9 });
const hub = new FakeHub();
hub.addRepo("acme/demo-GGUF", [{ path: "demo-Q8_0.gguf", file }]);
// 30 MB (never finished: the spec pauses, resumes and cancels it) served at 1 MB/s a connection.
// The downloader fetches 5 MB chunks, four at a time, and resumes at a chunk's start: a pause
// after the first four chunks shows the resume asking for the rest only.
const big = join(dir, "hub-big.gguf");
writeFileSync(big, Buffer.alloc(30 * 1024 * 1024, 7));
hub.addRepo("acme/slow-GGUF", [{ path: "slow-Q8_0.gguf", file: big }]);
hub.repoRates.set("acme/slow-GGUF", 1024 * 1024);
// Its tree reports a SHA-256 the file does not have.
hub.addRepo("acme/liar-GGUF", [{ path: "liar-Q8_0.gguf", file, reportedSha256: "0".repeat(64) }]);
hub.addRepo("acme/empty-GGUF", []);
hub.gated.add("acme/gated-GGUF");
hub.unreachableWord = "offline";
hub.behaviour = { bytesPerSecond: 1024 * 1024 };
process.stdout.write(`${await hub.start()}\n`);
process.on("SIGTERM", () => void hub.stop().then(() => process.exit(0)));
