/**
 * The chat's state lives outside React: an answer keeps streaming while the user looks
 * at another page, and coming back shows it where it is. The open conversation's id
 * and the draft are kept in localStorage, so a reload reopens them.
 */
import { useSyncExternalStore } from "react";

export interface Stats {
  ttftMs: number | null;
  tokens: number;
  tokensPerSecond: number | null;
}

export interface Message {
  id: string;
  role: "user" | "assistant";
  content: string;
  stats?: Stats;
  error?: string;
  /** The user stopped this answer before it finished. */
  stopped?: boolean;
}

export interface Params {
  temperature: number;
  topP: number;
  maxTokens: number;
  stop: string[];
  jsonSchema: string;
}

export const DEFAULT_PARAMS: Params = { temperature: 0.8, topP: 0.95, maxTokens: 512, stop: [], jsonSchema: "" };

export interface ChatState {
  conversationId: string | null;
  models: string[];
  threads: Record<string, Message[]>;
  system: string;
  params: Params;
  input: string;
  running: boolean;
  /** Models whose answer has not produced its first token yet. */
  waiting: string[];
}

const CURRENT = "maas-base.chat.current";
const DRAFT = "maas-base.chat.draft";

let state: ChatState = {
  conversationId: localStorage.getItem(CURRENT),
  models: [],
  threads: {},
  system: "",
  params: DEFAULT_PARAMS,
  input: localStorage.getItem(DRAFT) ?? "",
  running: false,
  waiting: [],
};
/** Whether the conversation named by `conversationId` was read from the server since the page loaded. */
export const loaded = { id: null as string | null };

const listeners = new Set<() => void>();

export function getChat(): ChatState {
  return state;
}

export function setChat(patch: Partial<ChatState> | ((s: ChatState) => Partial<ChatState>)): void {
  const next = typeof patch === "function" ? patch(state) : patch;
  state = { ...state, ...next };
  if ("conversationId" in next) {
    if (state.conversationId) localStorage.setItem(CURRENT, state.conversationId);
    else localStorage.removeItem(CURRENT);
  }
  if ("input" in next) localStorage.setItem(DRAFT, state.input);
  for (const l of listeners) l();
}

/** Replaces the last message of one model's thread. */
export function patchLast(model: string, patch: Partial<Message>, append = ""): void {
  setChat((s) => {
    const thread = [...(s.threads[model] ?? [])];
    const last = thread[thread.length - 1];
    if (!last) return {};
    thread[thread.length - 1] = { ...last, ...patch, content: last.content + append };
    return { threads: { ...s.threads, [model]: thread } };
  });
}

export function useChat(): ChatState {
  return useSyncExternalStore(
    (l) => {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    () => state,
  );
}
