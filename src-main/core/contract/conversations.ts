/** Playground conversations: `/api/admin/conversations`. */
import { z } from "zod";

/** `POST /api/admin/conversations`: a new conversation, or (with `id`) an update of one. */
export const ConversationCreate = z.object({
  id: z
    .string()
    .regex(/^conv_[0-9a-f]{16}$/)
    .optional(),
  title: z.string().min(1).max(200),
  model: z.string().nullish(),
  /** The playground's own JSON: messages, system prompt, parameters. */
  data: z.unknown(),
});
export type ConversationCreate = z.infer<typeof ConversationCreate>;
/** The same body with `id` saves over a conversation (GET's answer may be sent back). */
export const ConversationUpdate = ConversationCreate;
export type ConversationUpdate = ConversationCreate;

export const ConversationPublic = z.object({
  id: z.string(),
  title: z.string(),
  model: z.string().nullable(),
  data: z.unknown(),
  createdAt: z.number(),
  updatedAt: z.number(),
});
export type ConversationPublic = z.infer<typeof ConversationPublic>;
/** A conversation in `GET /api/admin/conversations` (without its data). */
export type ConversationSummary = Omit<ConversationPublic, "data">;
