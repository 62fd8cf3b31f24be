import type { ApiError } from "../../errors.js";

const TYPE_BY_KIND: Record<ApiError["kind"], string> = {
  invalid_request: "invalid_request_error",
  authentication: "authentication_error",
  permission: "permission_error",
  not_found: "not_found_error",
  request_too_large: "request_too_large",
  rate_limit: "rate_limit_error",
  overloaded: "overloaded_error",
  server: "api_error",
};

export interface AnthropicErrorBody {
  type: "error";
  error: { type: string; message: string };
  request_id?: string;
}

/** The HTTP status Anthropic clients expect: a busy server is 529, which the SDK retries. */
export function anthropicStatus(error: ApiError): number {
  return error.kind === "overloaded" ? 529 : error.status;
}

export function toAnthropicError(error: ApiError, requestId?: string): AnthropicErrorBody {
  return {
    type: "error",
    error: { type: TYPE_BY_KIND[error.kind], message: error.message },
    ...(requestId ? { request_id: requestId } : {}),
  };
}
