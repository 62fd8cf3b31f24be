import type { GenerationStream } from "../../src-main/core/inference/types.js";

/** Runs an engine's generation stream to its end; counts its text events and says why it ended. */
export async function drain(stream: GenerationStream, onText?: (n: number) => void) {
  let texts = 0;
  let finish = "";
  let tokens = 0;
  for await (const event of stream) {
    if (event.type === "text") onText?.(++texts);
    if (event.type === "done") {
      finish = event.finishReason;
      tokens = event.usage.completionTokens;
    }
  }
  return { texts, finish, tokens };
}
