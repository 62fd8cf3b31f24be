/** Browser sign-in: `/api/auth/*` and `POST /api/admin/sign-in-link`. */
import { z } from "zod";

/** `POST /api/auth/exchange`: a one-time code from a sign-in link. */
export const SignInExchange = z.object({ code: z.string().min(1).max(100) });
export type SignInExchange = z.infer<typeof SignInExchange>;

/** `POST /api/auth/session`: a pasted management key. */
export const SessionCreate = z.object({ key: z.string().min(1).max(300) });
export type SessionCreate = z.infer<typeof SessionCreate>;

/** What the app may know about its own session key (never the key). */
export const SessionPublic = z.object({
  id: z.number().int(),
  name: z.string(),
  scopes: z.array(z.string()),
  expiresAt: z.number().nullable(),
});
export type SessionPublic = z.infer<typeof SessionPublic>;

/** `GET /api/auth/session`. */
export interface SessionStatus {
  session: SessionPublic | null;
  viaCookie?: boolean;
}

/** `POST /api/admin/sign-in-link`. */
export interface SignInLinkPublic {
  link: string;
  expiresInMinutes: number;
}
