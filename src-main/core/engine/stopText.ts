/**
 * Stop sequences matched on the text as it streams, the way OpenAI's API defines
 * them: text that may be the start of a stop sequence is held back until the next
 * text rules it in or out, and `flush` hands it over when generation ends for any
 * other reason (node-llama-cpp's own detector drops it at max_tokens).
 */
export class StopText {
  private held = "";

  constructor(private readonly stops: readonly string[]) {}

  /** Feeds generated text; returns what can be sent now and, once one matched, the stop sequence. */
  push(text: string): { text: string; stop?: string } {
    const all = this.held + text;
    let first: { at: number; stop: string } | undefined;
    for (const stop of this.stops) {
      if (!stop) continue;
      const at = all.indexOf(stop);
      if (at >= 0 && (first === undefined || at < first.at)) first = { at, stop };
    }
    if (first) {
      this.held = "";
      return { text: all.slice(0, first.at), stop: first.stop };
    }
    const keep = this.heldLength(all);
    this.held = all.slice(all.length - keep);
    return { text: all.slice(0, all.length - keep) };
  }

  /** What is still held back (generation ended without a stop sequence). */
  flush(): string {
    const rest = this.held;
    this.held = "";
    return rest;
  }

  /** The longest end of `text` that is the beginning of some stop sequence. */
  private heldLength(text: string): number {
    let longest = 0;
    for (const stop of this.stops) {
      for (let k = Math.min(stop.length - 1, text.length); k > longest; k--) {
        if (text.endsWith(stop.slice(0, k))) {
          longest = k;
          break;
        }
      }
    }
    return longest;
  }
}
