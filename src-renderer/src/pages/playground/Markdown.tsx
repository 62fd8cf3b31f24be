import { Button, CopyButton as MantineCopyButton } from "@mantine/core";
import { isValidElement, type ReactNode } from "react";
import ReactMarkdown from "react-markdown";
import rehypeHighlight from "rehype-highlight";
import remarkGfm from "remark-gfm";
import { Icon } from "../../icons.js";

/** A small "Copy" button with a "Copied" confirmation. */
export function CopyButton({ value, label = "Copy", testId }: { value: string; label?: string; testId?: string }) {
  return (
    <MantineCopyButton value={value} timeout={1500}>
      {({ copied, copy }) => (
        <Button
          size="compact-xs"
          variant="default"
          onClick={copy}
          leftSection={<Icon name={copied ? "check" : "copy"} size={14} />}
          aria-label={copied ? "Copied" : label}
          data-testid={testId}
        >
          {copied ? "Copied" : label}
        </Button>
      )}
    </MantineCopyButton>
  );
}

/** The plain text of rendered children (to copy a highlighted code block as text). */
function textOf(node: ReactNode): string {
  if (node === null || node === undefined || typeof node === "boolean") return "";
  if (typeof node === "string" || typeof node === "number") return String(node);
  if (Array.isArray(node)) return node.map(textOf).join("");
  if (isValidElement<{ children?: ReactNode }>(node)) return textOf(node.props.children);
  return "";
}

/** A message's markdown: GFM tables, highlighted code themed for both schemes, a copy button per code block. */
export function Markdown({ text }: { text: string }) {
  return (
    <div className="markdown">
      <ReactMarkdown
        remarkPlugins={[remarkGfm]}
        rehypePlugins={[rehypeHighlight]}
        components={{
          pre: ({ children }) => (
            <div className="code-block" data-testid="code-block">
              {/* biome-ignore lint/a11y/noNoninteractiveTabindex: a scrollable code block must be reachable by keyboard (axe: scrollable-region-focusable) */}
              <pre tabIndex={0}>{children}</pre>
              <span className="copy-code">
                <CopyButton value={textOf(children).replace(/\n$/, "")} label="Copy code" testId="copy-code" />
              </span>
            </div>
          ),
        }}
      >
        {text}
      </ReactMarkdown>
    </div>
  );
}
