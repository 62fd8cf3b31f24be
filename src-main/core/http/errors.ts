import type { FastifyError } from "fastify";
import { isBusy } from "../db/database.js";
import { ApiError, InvalidRequestError, NotFoundError, RequestTooLargeError, ServerError } from "../errors.js";

/** Maps anything thrown inside a request to an `ApiError` with the right status. */
export function toApiError(error: unknown): ApiError {
  if (error instanceof ApiError) return error;
  if (isBusy(error)) {
    // Another process (the CLI) holds the database's write lock: the server does not wait for it.
    return new ApiError(503, "overloaded", "The database is busy (another process is writing); retry shortly.", {
      code: "database_busy",
      retryAfterSeconds: 1,
    });
  }
  const fastifyError = error as Partial<FastifyError>;
  switch (fastifyError.code) {
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      return new RequestTooLargeError();
    case "FST_ERR_CTP_INVALID_JSON_BODY":
    case "FST_ERR_CTP_EMPTY_JSON_BODY":
      return new InvalidRequestError(
        fastifyError.code === "FST_ERR_CTP_EMPTY_JSON_BODY"
          ? "The request body is empty; send a JSON object."
          : "The request body is not valid JSON.",
        null,
        "invalid_json",
      );
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
      return new ApiError(415, "invalid_request", "Unsupported Content-Type; send application/json.", {
        code: "unsupported_media_type",
      });
    case "FST_ERR_NOT_FOUND":
      return new NotFoundError("Unknown route.");
  }
  if (typeof fastifyError.statusCode === "number" && fastifyError.statusCode >= 400 && fastifyError.statusCode < 500) {
    return new ApiError(fastifyError.statusCode, "invalid_request", fastifyError.message ?? "Bad request.");
  }
  return new ServerError();
}
