import { randomBytes } from "node:crypto";
import type { ApiError } from "../../errors.js";
import type { FinishReason, GenerationEvent, Usage } from "../../inference/types.js";
import type { ResponsesBody } from "./request.js";
import type { ToolOrigin } from "./tools.js";

/** A Responses API id: `resp_…`, `msg_…`, `fc_…`, `rs_…`. */
export const newId = (prefix: string) => `${prefix}_${randomBytes(16).toString("hex")}`;

export interface ResponseMeta {
  id: string;
  createdAt: number;
  model: string;
  body: ResponsesBody;
  /** Model-visible tool names → the name and namespace the client declared (namespaces are flattened). */
  toolOrigins?: ReadonlyMap<string, ToolOrigin>;
}

type MessageItem = {
  type: "message";
  id: string;
  status: "in_progress" | "completed" | "incomplete";
  role: "assistant";
  content: Array<{ type: "output_text"; text: string; annotations: never[]; logprobs: never[] }>;
};
type ReasoningItem = {
  type: "reasoning";
  id: string;
  status: "in_progress" | "completed" | "incomplete";
  summary: never[];
  content: Array<{ type: "reasoning_text"; text: string }>;
};
type FunctionCallItem = {
  type: "function_call";
  id: string;
  call_id: string;
  name: string;
  /** Set for a member of a `namespace` tool: the client looks the call up by namespace and name. */
  namespace?: string;
  arguments: string;
  status: "in_progress" | "completed" | "incomplete";
};
export type OutputItem = MessageItem | ReasoningItem | FunctionCallItem;

/**
 * Engine events → Responses API output items and typed stream events. One item is
 * open at a time; each event carries a `sequence_number`. The same encoder builds
 * the final `response` object, so streamed and stored item ids agree; a
 * non-streamed request runs its events through it too.
 */
export class ResponsesEncoder {
  private sequence = 0;
  readonly output: OutputItem[] = [];
  private open: { item: OutputItem; callIndex?: number } | null = null;
  private finish: { reason: FinishReason; usage: Usage } | null = null;

  constructor(private readonly meta: ResponseMeta) {}

  private event(type: string, fields: object): object {
    return { type, sequence_number: this.sequence++, ...fields };
  }

  /** The `response` object as it stands: in progress, completed, incomplete or failed. */
  response(failure?: ApiError): Record<string, unknown> {
    const body = this.meta.body;
    const incomplete = this.finish?.reason === "length";
    const status = failure ? "failed" : !this.finish ? "in_progress" : incomplete ? "incomplete" : "completed";
    const usage = this.finish?.usage;
    return {
      id: this.meta.id,
      object: "response",
      created_at: this.meta.createdAt,
      status,
      background: false,
      error: failure ? { code: failure.code ?? "server_error", message: failure.message } : null,
      incomplete_details: incomplete ? { reason: "max_output_tokens" } : null,
      instructions: body.instructions ?? null,
      max_output_tokens: body.max_output_tokens ?? null,
      model: this.meta.model,
      output: structuredClone(this.output),
      parallel_tool_calls: body.parallel_tool_calls ?? true,
      previous_response_id: body.previous_response_id ?? null,
      reasoning: { effort: body.reasoning?.effort ?? null, summary: null },
      store: body.store ?? true,
      temperature: body.temperature ?? null,
      text: { format: body.text?.format ?? { type: "text" } },
      tool_choice: body.tool_choice ?? "auto",
      tools: body.tools ?? [],
      top_p: body.top_p ?? null,
      truncation: "disabled",
      usage: usage
        ? {
            input_tokens: usage.promptTokens,
            input_tokens_details: { cached_tokens: usage.cachedTokens ?? 0 },
            output_tokens: usage.completionTokens,
            output_tokens_details: { reasoning_tokens: 0 },
            total_tokens: usage.promptTokens + usage.completionTokens,
          }
        : null,
      user: body.user ?? null,
      metadata: body.metadata ?? {},
    };
  }

  start(): object[] {
    const snapshot = this.response();
    return [this.event("response.created", { response: snapshot }), this.event("response.in_progress", { response: snapshot })];
  }

  private add(item: OutputItem, callIndex?: number): object[] {
    const out = this.close();
    this.output.push(item);
    this.open = callIndex === undefined ? { item } : { item, callIndex };
    const outputIndex = this.output.length - 1;
    out.push(this.event("response.output_item.added", { output_index: outputIndex, item: structuredClone(item) }));
    if (item.type === "message") {
      item.content.push({ type: "output_text", text: "", annotations: [], logprobs: [] });
      out.push(
        this.event("response.content_part.added", {
          item_id: item.id,
          output_index: outputIndex,
          content_index: 0,
          part: { type: "output_text", text: "", annotations: [], logprobs: [] },
        }),
      );
    } else if (item.type === "reasoning") {
      item.content.push({ type: "reasoning_text", text: "" });
      out.push(
        this.event("response.content_part.added", {
          item_id: item.id,
          output_index: outputIndex,
          content_index: 0,
          part: { type: "reasoning_text", text: "" },
        }),
      );
    }
    return out;
  }

  private close(): object[] {
    if (!this.open) return [];
    const { item } = this.open;
    this.open = null;
    const outputIndex = this.output.indexOf(item);
    item.status = this.finish?.reason === "length" ? "incomplete" : "completed";
    const ids = { item_id: item.id, output_index: outputIndex };
    const out: object[] = [];
    if (item.type === "message") {
      const part = item.content[0] ?? { type: "output_text", text: "", annotations: [], logprobs: [] };
      out.push(this.event("response.output_text.done", { ...ids, content_index: 0, text: part.text, logprobs: [] }));
      out.push(this.event("response.content_part.done", { ...ids, content_index: 0, part: structuredClone(part) }));
    } else if (item.type === "reasoning") {
      const part = item.content[0] ?? { type: "reasoning_text", text: "" };
      out.push(this.event("response.reasoning_text.done", { ...ids, content_index: 0, text: part.text }));
      out.push(this.event("response.content_part.done", { ...ids, content_index: 0, part: structuredClone(part) }));
    } else {
      out.push(this.event("response.function_call_arguments.done", { ...ids, name: item.name, arguments: item.arguments }));
    }
    out.push(this.event("response.output_item.done", { output_index: outputIndex, item: structuredClone(item) }));
    return out;
  }

  encode(event: GenerationEvent): object[] {
    if (this.finish) return [];
    const open = this.open?.item;
    switch (event.type) {
      case "text": {
        const out =
          open?.type === "message"
            ? []
            : this.add({ type: "message", id: newId("msg"), status: "in_progress", role: "assistant", content: [] });
        const item = this.open?.item as MessageItem;
        const part = item.content[0];
        if (part) part.text += event.text;
        out.push(
          this.event("response.output_text.delta", {
            item_id: item.id,
            output_index: this.output.length - 1,
            content_index: 0,
            delta: event.text,
            logprobs: [],
          }),
        );
        return out;
      }
      case "reasoning": {
        const out =
          open?.type === "reasoning"
            ? []
            : this.add({ type: "reasoning", id: newId("rs"), status: "in_progress", summary: [], content: [] });
        const item = this.open?.item as ReasoningItem;
        const part = item.content[0];
        if (part) part.text += event.text;
        out.push(
          this.event("response.reasoning_text.delta", {
            item_id: item.id,
            output_index: this.output.length - 1,
            content_index: 0,
            delta: event.text,
          }),
        );
        return out;
      }
      case "tool_call_start": {
        const origin = this.meta.toolOrigins?.get(event.name);
        return this.add(
          {
            type: "function_call",
            id: newId("fc"),
            call_id: event.id,
            name: origin?.name ?? event.name,
            ...(origin?.namespace ? { namespace: origin.namespace } : {}),
            arguments: "",
            status: "in_progress",
          },
          event.index,
        );
      }
      case "tool_call_delta": {
        if (open?.type !== "function_call" || this.open?.callIndex !== event.index || !event.arguments) return [];
        open.arguments += event.arguments;
        return [
          this.event("response.function_call_arguments.delta", {
            item_id: open.id,
            output_index: this.output.length - 1,
            delta: event.arguments,
          }),
        ];
      }
      case "done": {
        const out = this.output.length === 0 ? this.encode({ type: "text", text: "" }) : [];
        this.finish = { reason: event.finishReason, usage: event.usage };
        out.push(...this.close());
        const type = event.finishReason === "length" ? "response.incomplete" : "response.completed";
        out.push(this.event(type, { response: this.response() }));
        return out;
      }
    }
  }

  /** The stream's end on failure: `response.failed`, then an `error` event. */
  fail(error: ApiError): object[] {
    return [
      this.event("response.failed", { response: this.response(error) }),
      this.event("error", { code: error.code, message: error.message, param: error.param }),
    ];
  }
}
