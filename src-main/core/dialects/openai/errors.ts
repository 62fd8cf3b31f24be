import type { ApiError } from "../../errors.js";

const TYPE_BY_KIND: Record<ApiError["kind"], string> = {
  invalid_request: "invalid_request_error",
  authentication: "authentication_error",
  permission: "permission_error",
  not_found: "not_found_error",
  request_too_large: "invalid_request_error",
  rate_limit: "rate_limit_error",
  overloaded: "rate_limit_error",
  server: "server_error",
};

export interface OpenAIErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

export function toOpenAIError(error: ApiError): OpenAIErrorBody {
  return { error: { message: error.message, type: TYPE_BY_KIND[error.kind], param: error.param, code: error.code } };
}
