/**
 * Forced tool calls in the model's own call syntax. The answer is prefilled with
 * the syntax's leading plain text (the call prefix, and for a single tool its name
 * and the opening of the arguments); the grammar covers the rest: the syntax's
 * special tokens as tokens (`<[id]>`, so the model writes the token it was trained
 * on, where a prefilled string would be tokenized as plain text), the tool's name
 * when there is a choice, then its arguments as its schema demands. A parser turns
 * the generated text back into tool-call events as it arrives.
 */
import type { GenerationEvent, ToolDefinition } from "../../inference/types.js";
import { SchemaCompiler, type SchemaIssue } from "./compile.js";
import { alt, type Expr, Grammar, lit, seq, tok } from "./gbnf.js";

/** A tool without parameters takes an empty object. */
const NO_PARAMETERS = { type: "object", properties: {} };

/** Part of a call syntax: plain text, or one special token (`text` is how it detokenizes with special tokens shown). */
export interface SyntaxPiece {
  text: string;
  token?: number;
}

/** A chat wrapper's call syntax, split into pieces (the engine tokenizes its special parts). */
export interface CallSyntax {
  prefix: readonly SyntaxPiece[];
  paramsPrefix: readonly SyntaxPiece[];
}

export interface ForcedCallPlan {
  /** Plain text to append to the answer before generating: the syntax up to its first special token. */
  prefill: string;
  gbnf: string;
  ignored: (SchemaIssue & { tool: number })[];
  /** Per tool, the text (special tokens shown) the grammar writes before that tool's arguments. */
  leads: string[];
}

const textOf = (pieces: readonly SyntaxPiece[]) => pieces.map((p) => p.text).join("");
const exprOf = (pieces: readonly SyntaxPiece[]): Expr =>
  seq(...pieces.map((p) => (p.token === undefined ? lit(p.text) : tok(p.token, p.text))));

/** A syntax of plain text only. */
export function plainSyntax(prefix: string, paramsPrefix: string): CallSyntax {
  return { prefix: [{ text: prefix }], paramsPrefix: [{ text: paramsPrefix }] };
}

/**
 * The prefill and grammar of a forced call of one of `tools`. Throws
 * SchemaCompileError (its path is inside `tools[tool]`); `strict` per tool.
 */
export function planForcedCall(tools: readonly ToolDefinition[], syntax: CallSyntax): ForcedCallPlan {
  const single = tools.length === 1 ? tools[0] : undefined;
  const head: SyntaxPiece[] = single ? [...syntax.prefix, { text: single.name }, ...syntax.paramsPrefix] : [...syntax.prefix];
  const firstToken = head.findIndex((p) => p.token !== undefined);
  const prefilled = firstToken < 0 ? head : head.slice(0, firstToken);
  const forcedHead = firstToken < 0 ? [] : head.slice(firstToken);
  const grammar = new Grammar();
  const ignored: ForcedCallPlan["ignored"] = [];
  const options = tools.map((tool, index) => {
    const schema = tool.parameters ?? NO_PARAMETERS;
    const compiler = new SchemaCompiler(schema, { strict: tool.strict ?? false, grammar });
    const args = compiler.compile(schema);
    ignored.push(...compiler.ignored.map((i) => ({ ...i, tool: index })));
    return single ? args : seq(lit(tool.name), exprOf(syntax.paramsPrefix), args);
  });
  return {
    prefill: textOf(prefilled),
    gbnf: grammar.toGbnf(seq(exprOf(forcedHead), alt(...options))),
    ignored,
    leads: tools.map((tool) => textOf(forcedHead) + (single ? "" : tool.name + textOf(syntax.paramsPrefix))),
  };
}

/** Turns the generated text of a forced call into tool-call events, as it streams. */
export class ForcedCallParser {
  private pending = "";
  private started = false;

  /**
   * @param tools the tools that may be called.
   * @param leads per tool, the text the grammar writes before its arguments (`ForcedCallPlan.leads`);
   *   the text fed must show special tokens as text, as the leads do.
   */
  constructor(
    private readonly tools: readonly ToolDefinition[],
    private readonly leads: readonly string[],
    private readonly newId: () => string,
  ) {}

  /** Whether a call was announced (so the answer carries a call, complete or cut). */
  get hasCall(): boolean {
    return this.started;
  }

  feed(text: string): GenerationEvent[] {
    if (this.started) return text ? [{ type: "tool_call_delta", index: 0, arguments: text }] : [];
    this.pending += text;
    const pending = this.pending;
    // A longer lead that may still be written wins over a shorter one already complete.
    if (this.leads.some((lead) => lead.length > pending.length && lead.startsWith(pending))) return [];
    let chosen = -1;
    this.leads.forEach((lead, i) => {
      if (pending.startsWith(lead) && (chosen < 0 || lead.length > (this.leads[chosen] ?? "").length)) chosen = i;
    });
    const name = this.tools[chosen]?.name;
    if (name === undefined) return [];
    const rest = pending.slice((this.leads[chosen] ?? "").length);
    this.started = true;
    this.pending = "";
    const events: GenerationEvent[] = [{ type: "tool_call_start", index: 0, id: this.newId(), name }];
    if (rest) events.push({ type: "tool_call_delta", index: 0, arguments: rest });
    return events;
  }
}
