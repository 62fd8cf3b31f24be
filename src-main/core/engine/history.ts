import type { ChatHistoryItem, ChatModelFunctionCall, ChatModelResponse } from "node-llama-cpp";
import { InvalidRequestError } from "../errors.js";
import type { ChatMessage } from "../inference/types.js";

function parseArguments(text: string, param: string): unknown {
  if (text.trim() === "") return {};
  try {
    return JSON.parse(text);
  } catch {
    throw new InvalidRequestError("Tool call arguments must be a JSON string.", param);
  }
}

/**
 * Internal chat messages → node-llama-cpp chat history. Tool results are folded
 * into the function calls of the assistant turn that made them, which is how
 * node-llama-cpp's chat wrappers render a call and its result. The history always
 * ends with a model turn: an empty one for a fresh answer, or the last assistant
 * turn to continue (after tool results).
 */
export function toChatHistory(messages: readonly ChatMessage[]): ChatHistoryItem[] {
  const history: ChatHistoryItem[] = [];
  const pendingCalls = new Map<string, ChatModelFunctionCall>();
  messages.forEach((message, i) => {
    switch (message.role) {
      case "system":
        history.push({ type: "system", text: message.content });
        break;
      case "user":
        history.push({ type: "user", text: message.content });
        break;
      case "assistant": {
        const response: ChatModelResponse["response"] = [];
        if (message.reasoning) {
          response.push({ type: "segment", segmentType: "thought", text: message.reasoning, ended: true });
        }
        if (message.content) response.push(message.content);
        message.toolCalls?.forEach((call, c) => {
          const item: ChatModelFunctionCall = {
            type: "functionCall",
            name: call.name,
            params: parseArguments(call.arguments, `messages[${i}].tool_calls[${c}].function.arguments`),
            result: "",
            startsNewChunk: c === 0,
          };
          pendingCalls.set(call.id, item);
          response.push(item);
        });
        history.push({ type: "model", response });
        break;
      }
      case "tool": {
        const call = pendingCalls.get(message.toolCallId);
        if (!call) {
          throw new InvalidRequestError(
            `Tool message refers to tool_call_id '${message.toolCallId}', which no earlier assistant message made.`,
            `messages[${i}].tool_call_id`,
          );
        }
        call.result = message.content;
        break;
      }
    }
  });
  const lastRole = messages.at(-1)?.role;
  if (history.at(-1)?.type !== "model" || (lastRole !== "tool" && lastRole !== "assistant")) {
    history.push({ type: "model", response: [] });
  }
  return history;
}
