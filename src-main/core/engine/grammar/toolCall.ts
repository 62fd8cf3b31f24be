/**
 * Forced tool calls in the model's own call syntax. The prompt ends with the
 * syntax's call prefix (and, for a single tool, its name and the opening of the
 * arguments); the grammar covers the rest: the tool's name when there is a
 * choice, then its arguments as its schema demands. A parser turns the generated
 * text back into tool-call events as it arrives.
 */
import type { GenerationEvent, ToolDefinition } from "../../inference/types.js";
import { SchemaCompiler, type SchemaIssue } from "./compile.js";
import { alt, Grammar, lit, seq } from "./gbnf.js";

/** A tool without parameters takes an empty object. */
const NO_PARAMETERS = { type: "object", properties: {} };

export interface ForcedCallGrammar {
  gbnf: string;
  ignored: (SchemaIssue & { tool: number })[];
}

/**
 * The grammar for what follows the prefilled text: the arguments alone for one
 * tool, else `name + paramsPrefix + arguments` for any of them. Throws
 * SchemaCompileError (its path is inside `tools[tool]`); `strict` per tool.
 */
export function compileForcedCall(tools: readonly ToolDefinition[], paramsPrefix: string): ForcedCallGrammar {
  const grammar = new Grammar();
  const ignored: ForcedCallGrammar["ignored"] = [];
  const options = tools.map((tool, index) => {
    const schema = tool.parameters ?? NO_PARAMETERS;
    const compiler = new SchemaCompiler(schema, { strict: tool.strict ?? false, grammar });
    const args = compiler.compile(schema);
    ignored.push(...compiler.ignored.map((i) => ({ ...i, tool: index })));
    return tools.length === 1 ? args : seq(lit(tool.name + paramsPrefix), args);
  });
  return { gbnf: grammar.toGbnf(alt(...options)), ignored };
}

/** Turns the generated text of a forced call into tool-call events, as it streams. */
export class ForcedCallParser {
  private pending = "";
  private started = false;

  /**
   * @param tools the tools that may be called; with one, its name is already in the prompt.
   * @param paramsPrefix what the call syntax writes between the name and the arguments.
   */
  constructor(
    private readonly tools: readonly ToolDefinition[],
    private readonly paramsPrefix: string,
    private readonly newId: () => string,
  ) {}

  /** Whether a call was announced (so the answer carries a call, complete or cut). */
  get hasCall(): boolean {
    return this.started;
  }

  feed(text: string): GenerationEvent[] {
    if (this.started) return text ? [{ type: "tool_call_delta", index: 0, arguments: text }] : [];
    this.pending += text;
    const name =
      this.tools.length === 1
        ? this.tools[0]?.name
        : this.tools.map((t) => t.name).find((n) => this.pending.startsWith(n + this.paramsPrefix));
    if (name === undefined) return [];
    const rest = this.tools.length === 1 ? this.pending : this.pending.slice(name.length + this.paramsPrefix.length);
    this.started = true;
    this.pending = "";
    const events: GenerationEvent[] = [{ type: "tool_call_start", index: 0, id: this.newId(), name }];
    if (rest) events.push({ type: "tool_call_delta", index: 0, arguments: rest });
    return events;
  }
}
