import type { GenerationEvent } from "../../inference/types.js";
import { type MessageMeta, toAnthropicToolId, toAnthropicUsage, toStopReason } from "./messages.js";

type OpenBlock = { kind: "text" | "thinking" } | { kind: "tool_use"; callIndex: number };

/**
 * Engine events → Anthropic stream events, as one small state machine: at most one
 * content block is open; a change of kind closes it and opens the next at the next
 * index. Every payload carries its `type`, which is also its SSE event name.
 */
export class AnthropicStreamEncoder {
  private index = -1;
  private open: OpenBlock | null = null;
  private finished = false;

  constructor(private readonly meta: MessageMeta) {}

  /** `message_start` (with the prompt's token count) and a first `ping`. */
  start(promptTokens: number): object[] {
    return [
      {
        type: "message_start",
        message: {
          id: this.meta.id,
          type: "message",
          role: "assistant",
          model: this.meta.model,
          content: [],
          stop_reason: null,
          stop_sequence: null,
          usage: toAnthropicUsage({ promptTokens, completionTokens: 0 }),
        },
      },
      { type: "ping" },
    ];
  }

  private close(): object[] {
    if (!this.open) return [];
    const out: object[] = [];
    if (this.open.kind === "thinking") {
      // Local reasoning is not signed; clients that echo thinking blocks back send this empty signature.
      out.push({ type: "content_block_delta", index: this.index, delta: { type: "signature_delta", signature: "" } });
    }
    out.push({ type: "content_block_stop", index: this.index });
    this.open = null;
    return out;
  }

  private begin(block: OpenBlock, contentBlock: object): object[] {
    const out = this.close();
    this.index++;
    this.open = block;
    out.push({ type: "content_block_start", index: this.index, content_block: contentBlock });
    return out;
  }

  encode(event: GenerationEvent): object[] {
    if (this.finished) return [];
    switch (event.type) {
      case "text": {
        const out = this.open?.kind === "text" ? [] : this.begin({ kind: "text" }, { type: "text", text: "" });
        out.push({ type: "content_block_delta", index: this.index, delta: { type: "text_delta", text: event.text } });
        return out;
      }
      case "reasoning": {
        const out =
          this.open?.kind === "thinking"
            ? []
            : this.begin({ kind: "thinking" }, { type: "thinking", thinking: "", signature: "" });
        out.push({ type: "content_block_delta", index: this.index, delta: { type: "thinking_delta", thinking: event.text } });
        return out;
      }
      case "tool_call_start":
        return this.begin(
          { kind: "tool_use", callIndex: event.index },
          { type: "tool_use", id: toAnthropicToolId(event.id), name: event.name, input: {} },
        );
      case "tool_call_delta": {
        // Calls stream one after another; a delta for another call cannot be placed and is dropped.
        if (this.open?.kind !== "tool_use" || this.open.callIndex !== event.index || !event.arguments) return [];
        return [
          {
            type: "content_block_delta",
            index: this.index,
            delta: { type: "input_json_delta", partial_json: event.arguments },
          },
        ];
      }
      case "done": {
        this.finished = true;
        return [
          ...this.close(),
          {
            type: "message_delta",
            delta: {
              stop_reason: toStopReason(event.finishReason),
              stop_sequence: event.finishReason === "stop_sequence" ? (event.stopSequence ?? null) : null,
            },
            usage: toAnthropicUsage(event.usage),
          },
          { type: "message_stop" },
        ];
      }
    }
  }
}
