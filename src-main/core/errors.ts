/**
 * Error classes the core throws. Each dialect maps them to its own error body;
 * the HTTP status and the kind decide the shape.
 */
export type ErrorKind =
  | "invalid_request"
  | "authentication"
  | "permission"
  | "not_found"
  | "request_too_large"
  | "rate_limit"
  | "overloaded"
  | "server";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly kind: ErrorKind,
    message: string,
    readonly options: {
      param?: string | null;
      code?: string | null;
      retryAfterSeconds?: number;
      /** A prompt longer than the loaded context: the numbers (they cross IPC with the error). */
      context?: { promptTokens: number; loaded: number };
    } = {},
  ) {
    super(message);
    this.name = new.target.name;
  }
  get param(): string | null {
    return this.options.param ?? null;
  }
  get code(): string | null {
    return this.options.code ?? null;
  }
}

export class InvalidRequestError extends ApiError {
  constructor(message: string, param: string | null = null, code: string | null = null) {
    super(400, "invalid_request", message, { param, code });
  }
}

/** The prompt is longer than the model's loaded context; the supervisor may reload it with a larger one. */
export class ContextExceededError extends ApiError {
  constructor(message: string, param: string, context: { promptTokens: number; loaded: number }) {
    super(400, "invalid_request", message, { param, code: "context_length_exceeded", context });
  }
}

export class AuthenticationError extends ApiError {
  constructor(message = "Missing or invalid API key. Send it as 'Authorization: Bearer <key>'.") {
    super(401, "authentication", message, { code: "invalid_api_key" });
  }
}

export class PermissionError extends ApiError {
  constructor(message: string) {
    super(403, "permission", message, { code: "forbidden" });
  }
}

export class NotFoundError extends ApiError {
  constructor(message: string, param: string | null = null, code: string | null = "not_found") {
    super(404, "not_found", message, { param, code });
  }
}

export class ModelNotFoundError extends NotFoundError {
  constructor(model: string) {
    super(`The model '${model}' does not exist. GET /v1/models lists the available models.`, "model", "model_not_found");
  }
}

export class RequestTooLargeError extends ApiError {
  constructor(message = "Request body is too large.") {
    super(413, "request_too_large", message, { code: "request_too_large" });
  }
}

/** A key's own limit (requests per minute, tokens per day) was reached. */
export class RateLimitError extends ApiError {
  constructor(message: string, retryAfterSeconds: number) {
    super(429, "rate_limit", message, { code: "rate_limit_exceeded", retryAfterSeconds });
  }
}

/** The model's wait queue is full: the client should retry shortly. */
export class QueueFullError extends ApiError {
  constructor(model: string, retryAfterSeconds = 1) {
    super(429, "overloaded", `Model '${model}' is busy: its request queue is full. Retry shortly.`, {
      code: "queue_full",
      retryAfterSeconds,
    });
  }
}

export class ModelLoadError extends ApiError {
  constructor(model: string, reason: string) {
    super(500, "server", `Model '${model}' failed to load: ${reason}`, { code: "model_load_failed" });
  }
}

export class ServerError extends ApiError {
  constructor(message = "The server had an error while processing the request.") {
    super(500, "server", message, { code: "server_error" });
  }
}

/** The caller went away (socket closed or request aborted). */
export class AbortedError extends Error {
  constructor() {
    super("aborted");
    this.name = "AbortedError";
  }
}

export function isAbortError(error: unknown, signal?: AbortSignal): boolean {
  if (signal?.aborted) return true;
  return error instanceof AbortedError || (error instanceof Error && error.name === "AbortError");
}
